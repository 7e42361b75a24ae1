"""6.824 kvraft part 4A (2024 numbering; 3A in 2022) against real processes.

Each test is 6.824's TestXxx4A with the same clients, servers, faults and checks; see
scenarios.py for the shortened client phase. Every GenericTest history is checked with
sentinel.lin.
"""

from __future__ import annotations

import pytest
from scenarios_kv import generic_test, generic_test_speed

pytestmark = pytest.mark.processes


def test_basic_4a(make_cluster):
    generic_test(make_cluster(5), nclients=1, crash=False, partitions=False, randomkeys=False)


def test_speed_4a(make_cluster):
    generic_test_speed(make_cluster(3))
