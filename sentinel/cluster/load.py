"""`python -m sentinel.cluster load`: clients that keep a running cluster busy while you break
it, then a linearizability check of everything they saw.

Each client is a thread making one blocking call at a time through one shared
`sentinel.connect` client: gets, appends, puts and deletes on a few keys, so that clients
contend. The keys are new ones (`load-<run>-k<i>`), so the history starts from an empty store
as the checker assumes; they are deleted at the end. Appended pieces are unique
(`x <client> <n> y`, as in 6.824), so an append applied twice or lost shows in a later read.
Every call is recorded with `sentinel.lin`'s `HistoryRecorder`; when the run ends (its time
is up, or Ctrl-C) every key is read once more and the history is written to a file and
checked. A call whose deadline passes is recorded as it is: a write's outcome unknown (it
may still be applied), a read's failure (it changed nothing).

Once a second the command prints the completed calls and their latency, so a failover shows
as a dip; the summary gives the longest stretch with no call completing.
"""

from __future__ import annotations

import random
import shutil
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sentinel.kvraft.client import Client
from sentinel.kvraft.errors import OutcomeUnknown, Unavailable, ValueTooLarge
from sentinel.lin import (
    CheckResult,
    HistoryRecorder,
    check_operations,
    check_operations_verbose,
    kv_model,
    visualize,
)

CLIENTS_MAX = 64
KEYS_MAX = 1000
#: (operation, share of calls): mostly reads and appends, as in 6.824's tests.
MIX = (("get", 0.45), ("append", 0.35), ("put", 0.1), ("delete", 0.1))
#: A value past this is reset with a put instead of growing: the checker keeps a copy of the
#: value with every state it caches.
VALUE_BYTES_SOFT_MAX = 1024
#: A round (its own keys, its own history, its own check) ends at the first progress line
#: after `round_calls` calls, at most this many: the recorder keeps every call until the
#: round is checked, and the check's memory grows with the history (200,000 calls: 260 MB
#: and 1.5 s to read and check here; 750,000: 0.9 GB).
ROUND_CALLS_MAX = 200_000
LATENCIES_PER_SECOND_MAX = 100_000
JOIN_GRACE_S = 5.0
HISTORY_NAME = "load-history.edn"

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """What one `load` run does."""

    clients: int
    keys: int
    seconds: float  # 0: until Ctrl-C
    op_timeout_s: float
    check_timeout_s: float
    seed: int | None  # of the clients' choices (None: a new one each run)
    round_calls: int  # calls per round (see ROUND_CALLS_MAX)
    history_format: str = "kv"  # or "jepsen": EDN op maps Knossos and Elle read

    def problems(self) -> list[str]:
        """What is wrong with these options (empty when they are usable)."""
        out = []
        if not 1 <= self.clients <= CLIENTS_MAX:
            out.append(f"--clients must be 1..{CLIENTS_MAX}, not {self.clients}")
        if not 1 <= self.keys <= KEYS_MAX:
            out.append(f"--keys must be 1..{KEYS_MAX}, not {self.keys}")
        if self.seconds < 0:
            out.append(f"--seconds must not be negative, not {self.seconds}")
        if not 1 <= self.round_calls <= ROUND_CALLS_MAX:
            out.append(f"--round-calls must be 1..{ROUND_CALLS_MAX}, not {self.round_calls}")
        if self.history_format not in HistoryRecorder.FORMATS:
            out.append(
                f"--history-format must be one of {', '.join(HistoryRecorder.FORMATS)}, "
                f"not {self.history_format}"
            )
        if self.op_timeout_s <= 0 or self.check_timeout_s <= 0:
            out.append("timeouts must be positive")
        return out


@dataclass(eq=False)
class Round:
    """A stretch of the run with its own keys and history, checked on its own."""

    number: int
    keys: list[str]
    rec: HistoryRecorder = field(default_factory=HistoryRecorder)
    calls: int = 0  # begun (under Tally.lock)
    open: int = 0  # under way (under Tally.lock)


@dataclass
class Tally:
    """State shared by the clients and the reporting thread (under `lock`)."""

    run: str
    keys: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    current: Round = field(init=False)
    done: dict[str, int] = field(default_factory=lambda: dict.fromkeys(dict(MIX), 0))
    unavailable: int = 0
    unknown: int = 0
    errors: list[str] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)  # since the last progress line
    last_done: float = field(default_factory=time.monotonic)
    gap_s: float = 0.0  # the longest time with no call completing
    gap_at: float = 0.0  # when that gap began
    idle: threading.Condition = field(init=False)  # a round's last call ended

    def __post_init__(self) -> None:
        self.idle = threading.Condition(self.lock)
        self.current = self.new_round(1)

    def new_round(self, number: int) -> Round:
        return Round(number, [f"load-{self.run}-{number}-k{i}" for i in range(self.keys)])

    def begin(self) -> Round:
        """The round a call that starts now belongs to."""
        with self.lock:
            rnd = self.current
            rnd.calls += 1
            rnd.open += 1
            return rnd

    def end(self, rnd: Round) -> None:
        with self.lock:
            rnd.open -= 1
            if not rnd.open:
                self.idle.notify_all()

    def completed(self, op: str, latency_s: float) -> None:
        with self.lock:
            now = time.monotonic()
            if now - self.last_done > self.gap_s:
                self.gap_s, self.gap_at = now - self.last_done, self.last_done
            self.last_done = now
            self.done[op] += 1
            if len(self.latencies_s) < LATENCIES_PER_SECOND_MAX:
                self.latencies_s.append(latency_s)

    def failed(self, unknown: bool) -> None:
        """A call ended without an answer: a write's outcome unknown, or nothing changed."""
        with self.lock:
            if unknown:
                self.unknown += 1
            else:
                self.unavailable += 1

    def broken(self, error: str) -> None:
        with self.lock:
            self.errors.append(error)

    def take_latencies(self) -> list[float]:
        with self.lock:
            out, self.latencies_s = self.latencies_s, []
        return out


class Worker:
    """One client: a thread calling the cluster until `stop` is set."""

    def __init__(
        self, cid: int, client: Client, tally: Tally, opts: LoadOptions, stop: threading.Event
    ) -> None:
        self.cid, self.client, self.tally, self.opts, self.stop = cid, client, tally, opts, stop
        seed = opts.seed if opts.seed is not None else random.randrange(1 << 30)
        self.rng = random.Random(seed * 1000 + cid)
        self.sizes: dict[str, int] = {}  # the size this client last knew of each value
        self.thread = threading.Thread(target=self.run, name=f"load-{cid}", daemon=True)

    def run(self) -> None:
        ops, weights = zip(*MIX, strict=True)
        n, round_number = 0, 0
        while not self.stop.is_set():
            rnd = self.tally.begin()
            try:
                if rnd.number != round_number:
                    self.sizes.clear()  # the old round's keys are gone
                    round_number = rnd.number
                key = self.rng.choice(rnd.keys)
                op = self.rng.choices(ops, weights)[0]
                if op == "append" and self.sizes.get(key, 0) > VALUE_BYTES_SOFT_MAX:
                    op = "put"
                value = f"x {self.cid} {n} y" if op == "append" else f"p {self.cid} {n}"
                going = self.call(rnd, op, key, value if op in ("put", "append") else None)
            finally:
                self.tally.end(rnd)
            if not going:
                return
            n += 1

    def call(self, rnd: Round, op: str, key: str, value: str | None) -> bool:
        """One recorded call; False when the run must end (an error the load cannot ride)."""
        token = rnd.rec.invoke(self.cid, op, key, value)
        began = time.monotonic()
        try:
            args = (key,) if value is None else (key, value)
            out = getattr(self.client, op)(*args, timeout_s=self.opts.op_timeout_s)
        except OutcomeUnknown:
            rnd.rec.info(token)  # a write that may yet be applied
            self.tally.failed(unknown=True)
            return self.still_connected()
        except (Unavailable, ValueTooLarge):
            rnd.rec.fail(token)  # certainly changed nothing
            self.tally.failed(unknown=False)
            return self.still_connected()
        except Exception as e:  # the router went away, say: this run cannot go on
            rnd.rec.info(token)
            self.tally.broken(f"client {self.cid}: {op} failed: {type(e).__name__}: {e}")
            self.stop.set()
            return False
        if op == "get":
            rnd.rec.ok(token, out if out is not None else "")  # a missing key reads ""
            self.sizes[key] = len(out or "")
        else:
            rnd.rec.ok(token)
            grown = self.sizes.get(key, 0) if op == "append" else 0
            self.sizes[key] = grown + len(value or "")
        self.tally.completed(op, time.monotonic() - began)
        return True

    def still_connected(self) -> bool:
        """False (and the run stops) once the router connection is gone: `down`, say."""
        if not self.client.closed:
            return True
        self.tally.broken(f"client {self.cid}: the connection to the router closed")
        self.stop.set()
        return False


class Load:
    """One `load` run: the clients, a progress line a second, and a check of every round."""

    def __init__(self, directory: Path, client: Client, opts: LoadOptions, say: Say) -> None:
        self.directory, self.client, self.opts, self.say = directory, client, opts, say
        self.tally = Tally(run=uuid.uuid4().hex[:8], keys=opts.keys)
        self.stop = threading.Event()
        self.workers = [
            Worker(cid, client, self.tally, opts, self.stop) for cid in range(opts.clients)
        ]
        self.verdicts: list[tuple[int, CheckResult]] = []

    def run(self) -> int:
        """The exit status: 0 when every round was linearizable and no client broke down."""
        opts, tally = self.opts, self.tally
        until = f"for {opts.seconds:g} s (Ctrl-C ends it early)" if opts.seconds else "until Ctrl-C"
        self.say(
            f"load: {opts.clients} clients on {opts.keys} new keys ({tally.current.keys[0]}...) "
            + until
        )
        began = time.monotonic()
        tally.last_done = began
        for worker in self.workers:
            worker.thread.start()
        try:
            self.report_until(began)
        except KeyboardInterrupt:
            self.say("stopping: the calls under way finish first")
        finally:
            self.stop.set()
            for worker in self.workers:
                worker.thread.join(opts.op_timeout_s + JOIN_GRACE_S)
        ended = time.monotonic()
        self.summary(began, ended)
        for error in tally.errors[:5]:
            self.say(f"error: {error}")
        self.finish_round(tally.current)
        bad = [n for n, result in self.verdicts if result is not CheckResult.OK]
        self.say(
            f"rounds: {len(self.verdicts)} checked, {len(self.verdicts) - len(bad)} linearizable"
        )
        return 1 if bad or tally.errors else 0

    def report_until(self, began: float) -> None:
        """A progress line a second (and a new round when one is full) until the time is up
        or a client stops the run."""
        end = began + self.opts.seconds if self.opts.seconds else float("inf")
        done_before, last = 0, began
        while True:
            second = int(time.monotonic() - began) + 1
            if self.stop.wait(max(0.0, min(began + second, end) - time.monotonic())):
                return
            now = time.monotonic()
            with self.tally.lock:
                done = sum(self.tally.done.values())
                full = self.tally.current.calls >= self.opts.round_calls
            self.progress(now - began, (done - done_before) / (now - last))
            done_before, last = done, now
            if now >= end:
                return
            if full:
                with self.tally.lock:
                    old = self.tally.current
                    self.tally.current = self.tally.new_round(old.number + 1)
                self.finish_round(old)

    def progress(self, at_s: float, rate: float) -> None:
        latencies = self.tally.take_latencies()
        line = f"{at_s:6.1f} s {rate:8.0f} calls/s"
        if latencies:
            q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
            line += f"   p50 {q[49] * 1e3:6.1f} ms   p99 {q[98] * 1e3:6.1f} ms"
        else:
            line += "   (nothing completed)"
        with self.tally.lock:
            unavailable, unknown = self.tally.unavailable, self.tally.unknown
        if unavailable or unknown:
            line += f"   unavailable {unavailable}   unknown {unknown}"
        self.say(line)

    def summary(self, began: float, ended: float) -> None:
        tally = self.tally
        with tally.lock:
            done = dict(tally.done)
            gap_s, gap_at = tally.gap_s, tally.gap_at
            if ended - tally.last_done > gap_s:
                gap_s, gap_at = ended - tally.last_done, tally.last_done
            trouble = f"unavailable {tally.unavailable}, outcome unknown {tally.unknown}"
        total, took = sum(done.values()), ended - began
        parts = ", ".join(f"{op}s {count:,}" for op, count in done.items())
        self.say(
            f"done: {total:,} calls in {took:.1f} s ({total / took:.0f}/s): {parts}; {trouble}"
        )
        self.say(
            f"longest time with no call completing: {gap_s * 1e3:.0f} ms "
            f"(from {gap_at - began:.1f} s)"
        )

    def finish_round(self, rnd: Round) -> None:
        """Wait for the round's calls, read every key once more (so that a lost write shows),
        delete the keys, write the history and check it."""
        with self.tally.lock:
            self.tally.idle.wait_for(lambda: not rnd.open, self.opts.op_timeout_s + JOIN_GRACE_S)
        if not self.tally.errors:
            reader = Worker(self.opts.clients, self.client, self.tally, self.opts, self.stop)
            for key in rnd.keys:
                reader.call(rnd, "get", key, None)
            self.delete(rnd.keys)
        self.verdicts.append((rnd.number, self.check(rnd)))

    def delete(self, keys: list[str]) -> None:
        """Remove a round's keys (not part of its history: it has ended)."""
        for key in keys:
            try:
                self.client.delete(key, timeout_s=self.opts.op_timeout_s)
            except Exception as e:
                self.say(f"could not delete {key}: {type(e).__name__}: {e}")

    def check(self, rnd: Round) -> CheckResult:
        """Write the round's history next to the cluster and check it."""
        history = rnd.rec.history()
        path = self.directory / HISTORY_NAME
        rnd.rec.write(str(path), self.opts.history_format)
        began = time.perf_counter()
        result = check_operations(kv_model, history, timeout_s=self.opts.check_timeout_s)
        took = time.perf_counter() - began
        what = f"round {rnd.number}: {len(history):,} operations"
        if result is CheckResult.OK:
            self.say(f"{what}: linearizable (checked in {took:.1f} s; history {path})")
            return result
        kept = self.directory / f"load-history-{rnd.number}.edn"
        shutil.copyfile(path, kept)  # the evidence stays when the next round overwrites `path`
        if result is CheckResult.UNKNOWN:
            self.say(
                f"{what}: linearizability unknown (the checker gave up after "
                f"{self.opts.check_timeout_s:g} s); try longer: "
                f"python -m sentinel.lin check --timeout 600 {kept}"
            )
            return result
        _, info = check_operations_verbose(kv_model, history, self.opts.check_timeout_s)
        picture = kept.with_suffix(".html")
        visualize(info, picture, title=f"python -m sentinel.cluster load, round {rnd.number}")
        self.say(
            f"{what}: NOT linearizable (no order of the calls explains what they saw); "
            f"history {kept}, picture {picture}"
        )
        return result


def run_load(directory: Path, client: Client, opts: LoadOptions, say: Say) -> int:
    """Run the clients until the time is up or Ctrl-C, checking every round; the exit status:
    0 when every round was linearizable, 1 when one was not (or could not be told), or the
    load could not go on."""
    return Load(directory, client, opts, say).run()
