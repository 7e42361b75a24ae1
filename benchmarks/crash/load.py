"""The steady client load, its history, and the check that no acknowledged write was lost.

Each of `clients` worker threads appends unique tokens `<client.n>` to its own keys (so
every acknowledged append can be found again) and reads any client's key of the round.
Every call goes into a `sentinel.lin.HistoryRecorder` (one per round; a round's keys are
new, so its history stands alone) and into the run's sample list (completion time, latency,
success) from which throughput, latency and unavailability are computed.
"""

from __future__ import annotations

import itertools
import random
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from sentinel.kvraft.client import Client
from sentinel.kvraft.errors import OutcomeUnknown, Unavailable
from sentinel.lin import HistoryRecorder

KEYS_PER_CLIENT = 4
WRITE_FRACTION = 0.5
#: Client ids of the recorder above the workers': the verifier and the stale-read probes.
VERIFIER_ID = 10_000
PROBE_ID = 20_000
VERIFY_TIMEOUT_S = 30.0
_TOKEN = re.compile(r"<(\d+)\.(\d+)>")


@dataclass(frozen=True, slots=True)
class Sample:
    """One finished call: when it ended (monotonic s), how long it took, did it succeed."""

    t_end: float
    latency_s: float
    ok: bool
    write: bool


@dataclass
class RoundLoad:
    """What one round's clients did."""

    round_id: int
    recorder: HistoryRecorder = field(default_factory=HistoryRecorder)
    acked: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    unknown: set[str] = field(default_factory=set)

    def key(self, client: int, index: int) -> str:
        return f"r{self.round_id}.c{client}.{index}"


@dataclass(frozen=True, slots=True)
class WriteCheck:
    """The acknowledged-write check of one round."""

    acked: int
    unknown: int
    lost: int
    duplicated: int
    reordered: int
    lost_examples: tuple[str, ...]


class Load:
    """`clients` worker threads on one shared `Client`; `start_round` / `stop_round`."""

    def __init__(self, client: Client, clients: int, seed: int, op_timeout_s: float) -> None:
        self.client = client
        self.clients = clients
        self.seed = seed
        self.op_timeout_s = op_timeout_s
        self.samples: list[Sample] = []  # appended by workers (list.append is atomic)
        self.current: RoundLoad | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start_round(self, round_id: int) -> RoundLoad:
        assert not self._threads, "a round is already running"
        self.current = RoundLoad(round_id)
        self._stop.clear()
        for c in range(self.clients):
            rng = random.Random(self.seed * 7919 + round_id * 131 + c)
            t = threading.Thread(
                target=self._worker, args=(c, rng, self.current), name=f"load-{c}", daemon=True
            )
            t.start()
            self._threads.append(t)
        return self.current

    def stop_round(self) -> RoundLoad:
        self._stop.set()
        for t in self._threads:
            t.join(self.op_timeout_s + 30)
            assert not t.is_alive(), f"{t.name} did not stop"
        self._threads = []
        assert self.current is not None
        return self.current

    def stop_round_quietly(self) -> None:
        """Stop the workers on an error path (they end within one call deadline)."""
        self._stop.set()
        for t in self._threads:
            t.join(self.op_timeout_s + 30)
        self._threads = []

    def _worker(self, me: int, rng: random.Random, rnd: RoundLoad) -> None:
        n = 0
        while not self._stop.is_set():
            if rng.random() < WRITE_FRACTION:
                n += 1
                self._append(me, rnd.key(me, rng.randrange(KEYS_PER_CLIENT)), f"<{me}.{n}>", rnd)
            else:
                key = rnd.key(rng.randrange(self.clients), rng.randrange(KEYS_PER_CLIENT))
                self._get(me, key, rnd)

    def _append(self, me: int, key: str, token: str, rnd: RoundLoad) -> None:
        tok = rnd.recorder.invoke(me, "append", key, token)
        t0 = time.monotonic()
        ok = False
        try:
            self.client.append(key, token, timeout_s=self.op_timeout_s)
            ok = True
        except Unavailable:
            rnd.recorder.fail(tok)  # certainly not applied
        except Exception:  # OutcomeUnknown, or anything unexpected: it may have applied
            rnd.recorder.info(tok)
            rnd.unknown.add(token)
        else:
            rnd.recorder.ok(tok)
            rnd.acked[key].append(token)
        t1 = time.monotonic()
        self.samples.append(Sample(t1, t1 - t0, ok, True))

    def _get(self, me: int, key: str, rnd: RoundLoad) -> None:
        tok = rnd.recorder.invoke(me, "get", key)
        t0 = time.monotonic()
        try:
            value = self.client.get(key, timeout_s=self.op_timeout_s)
        except Exception:  # a read that failed changed nothing
            rnd.recorder.fail(tok)
            ok = False
        else:
            rnd.recorder.ok(tok, value if value is not None else "")  # absent reads as ""
            ok = True
        t1 = time.monotonic()
        self.samples.append(Sample(t1, t1 - t0, ok, False))


def verify_writes(client: Client, rnd: RoundLoad, clients: int) -> WriteCheck:
    """Read back every key of the round (recorded in its history too) and find each
    acknowledged token: present exactly once, and in acknowledgement order."""
    lost: list[str] = []
    duplicated = reordered = 0
    for c in range(clients):
        for i in range(KEYS_PER_CLIENT):
            key = rnd.key(c, i)
            tok = rnd.recorder.invoke(VERIFIER_ID, "get", key)
            try:
                value = client.get(key, timeout_s=VERIFY_TIMEOUT_S) or ""
            except (Unavailable, OutcomeUnknown):
                rnd.recorder.fail(tok)
                raise
            rnd.recorder.ok(tok, value)
            found = [m.group(0) for m in _TOKEN.finditer(value)]
            duplicated += len(found) - len(set(found))
            position = {t: p for p, t in enumerate(found)}
            acked = rnd.acked.get(key, [])
            lost += [t for t in acked if t not in position]
            kept = [position[t] for t in acked if t in position]
            reordered += sum(1 for a, b in itertools.pairwise(kept) if b < a)
    acked_n = sum(len(v) for v in rnd.acked.values())
    return WriteCheck(
        acked_n,
        len(rnd.unknown),
        len(lost),
        duplicated,
        reordered,
        tuple(f"{t}" for t in lost[:10]),
    )
