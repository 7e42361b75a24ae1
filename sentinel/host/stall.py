"""Saving a node's Ready batches when the disk may fill up: the node stalls, it does not die.

A Ready the disk has no room for (ENOSPC, EDQUOT) is held and saved again every
DISK_RETRY_S. Meanwhile nothing that depends on it may happen (no ack, vote, apply or
answer: the driver finishes a Ready only once it is saved), so nothing is lost or promised,
and the node keeps its connections, steps messages and reports why it is stuck. A repeated
save is safe (see `Storage.save`). Any other error still stops the node: its disk's state
is then unknown.
"""

from __future__ import annotations

import errno
import logging
import math
import time
from collections.abc import Callable

from sentinel.host.storage import Storage
from sentinel.raft.ready import Ready

__all__ = ["DISK_ERROR_LOG_S", "DISK_RETRY_S", "StallingSaver"]

log = logging.getLogger(__name__)

#: A Ready the disk had no room for is saved again this often ...
DISK_RETRY_S = 0.1
#: ... and the error logged again this often while it lasts.
DISK_ERROR_LOG_S = 10.0
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT)


class StallingSaver:
    """Saves Ready batches to `storage`; holds the one the disk had no room for."""

    def __init__(
        self, storage: Storage, node_id: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.storage = storage
        self.node_id = node_id
        self.clock = clock
        #: The Ready waiting for room, or None.
        self.stalled: Ready | None = None
        self.error = ""  # why the node cannot persist ("" when it can), for its status
        self.failures = 0  # saves refused for want of room
        self._retry_at = -math.inf
        self._logged_at = -math.inf

    def save(self, rd: Ready) -> bool:
        """Save `rd`; False (and `rd` held as `stalled`) if the disk has no room for it.
        The held Ready offered again is tried at most every DISK_RETRY_S (False meanwhile)."""
        if rd is self.stalled and self.clock() < self._retry_at:
            return False
        try:
            self.storage.save(rd)
        except OSError as exc:
            if exc.errno not in _NO_ROOM:
                raise
            self._no_room(exc)
            self.stalled = rd
            return False
        if self.error:
            log.warning("node %d: the disk has room again; the stalled batch is saved",
                        self.node_id)  # fmt: skip
            self.error = ""
        self.stalled = None
        return True

    def _no_room(self, exc: OSError) -> None:
        now = self.clock()
        self.failures += 1
        self._retry_at = now + DISK_RETRY_S
        if not self.error or now >= self._logged_at + DISK_ERROR_LOG_S:
            log.error(
                "node %d: disk full, cannot persist its log (%s): it neither acks, votes nor "
                "applies until there is room; retrying every %.0f ms",
                self.node_id, exc, DISK_RETRY_S * 1000.0,
            )  # fmt: skip
            self._logged_at = now
        self.error = f"disk full: {exc.strerror or exc}"
