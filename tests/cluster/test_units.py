"""Pure and in-process parts: settings, the directory lock, main-thread jobs, the control
socket with a stand-in handler, the view builder on synthetic router reports, the table."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import threading

import pytest

from sentinel.cluster.ctlsock import ControlError, ControlServer, request
from sentinel.cluster.jobs import JobTimeout, MainThreadJobs
from sentinel.cluster.kv import KVError, read_value
from sentinel.cluster.lock import DirectoryBusy, DirectoryLock, holder_pid, is_locked
from sentinel.cluster.settings import RunOptions, SettingsError, open_identity, preset_name
from sentinel.cluster.table import status_table
from sentinel.cluster.views import ProcessInfo, ViewBuilder, group_labels, view_to_json
from sentinel.dashboard import EventLog, ProcessState
from sentinel.host.nodestatus import NodeStatus
from sentinel.kvraft.limits import VALUE_BYTES_MAX
from sentinel.netsim.faults import PRESETS, UNRELIABLE, make_topology
from sentinel.netsim.protocol import RouterReport
from sentinel.netsim.stats import EndpointStats, totals
from sentinel.wire import encode


def test_identity_is_kept_and_size_checked(tmp_path):
    identity, recovered = open_identity(tmp_path, 4)
    assert not recovered and identity.nodes == 4 and identity.node_ids == (1, 2, 3, 4)
    again, recovered = open_identity(tmp_path, None)
    assert recovered and again == identity
    with pytest.raises(SettingsError, match="-n 5 does not match"):
        open_identity(tmp_path, 5)
    (tmp_path / "cluster.json").write_text("{not json")
    with pytest.raises(SettingsError, match="not a cluster settings file"):
        open_identity(tmp_path, None)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"heartbeat_ms": 5}, "--heartbeat-ms"),
        ({"heartbeat_ms": 100, "election_ms": 150}, "--election-ms"),
        ({"maxraftstate": 0}, "--maxraftstate"),
        ({"disk_quota_mb": -1}, "--disk-quota-mb"),
    ],
)
def test_run_options_validated(kwargs, words):
    with pytest.raises(SettingsError, match=words):
        RunOptions(**kwargs)


def test_run_options_faults_and_ticks():
    options = RunOptions(unreliable=True, long_reordering=True, election_ms=500, heartbeat_ms=50)
    assert preset_name(options.faults) == "unreliable_long_reordering"
    assert (options.election_ticks, options.heartbeat_ticks) == (50, 5)
    for name, config in PRESETS.items():
        assert preset_name(config) == name


def test_lock_is_exclusive_and_names_its_holder(tmp_path):
    first = DirectoryLock(tmp_path)
    first.acquire()
    assert is_locked(tmp_path) and holder_pid(tmp_path) == os.getpid()
    with pytest.raises(DirectoryBusy, match=f"supervisor pid {os.getpid()}"):
        DirectoryLock(tmp_path).acquire()
    first.release()
    assert not is_locked(tmp_path)
    second = DirectoryLock(tmp_path)
    second.acquire()
    second.release()


def test_jobs_run_on_the_main_thread():
    jobs = MainThreadJobs()
    results: list[object] = []

    def worker() -> None:
        results.append(jobs.call(threading.current_thread, 30.0))
        try:
            jobs.call(lambda: 1 / 0, 30.0)
        except ZeroDivisionError:
            results.append("raised")

    thread = threading.Thread(target=worker)
    thread.start()
    while thread.is_alive():
        jobs.run_pending()
        thread.join(0.01)
    assert results == [threading.main_thread(), "raised"]
    out: list[BaseException] = []
    waiter = threading.Thread(target=_expect_timeout, args=(jobs, out))
    waiter.start()  # nobody runs jobs meanwhile: the call gives up
    waiter.join()
    assert len(out) == 1 and isinstance(out[0], JobTimeout)
    assert jobs.run_pending() == 0  # the timed-out job was cancelled, never runs


def _expect_timeout(jobs: MainThreadJobs, out: list[BaseException]) -> None:
    try:
        jobs.call(lambda: None, 0.05)
    except JobTimeout as e:
        out.append(e)


def test_control_socket_round_trip_and_garbage(tmp_path):
    seen = []

    def handler(req):
        seen.append(req)
        if req.get("cmd") == "boom":
            raise RuntimeError("bug")
        return {"ok": True, "echo": req}

    server = ControlServer(tmp_path, handler)
    try:
        assert stat.S_IMODE((tmp_path / "control.sock").stat().st_mode) == 0o600
        assert request(tmp_path, {"cmd": "x", "n": 1}) == {"ok": True, "echo": {"cmd": "x", "n": 1}}
        assert request(tmp_path, {"cmd": "boom"})["error"] == "internal error: bug"
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(30)
            s.connect(str(tmp_path / "control.sock"))
            s.sendall(b"x" * (70 * 1024))
            reply = json.loads(s.makefile("rb").readline())
        assert not reply["ok"] and "longer than" in reply["error"]
        assert request(tmp_path, {"cmd": "still"})["ok"]
    finally:
        server.close()
    assert not (tmp_path / "control.sock").exists()
    with pytest.raises(ControlError, match="no cluster is running"):
        request(tmp_path, {"cmd": "x"})


def test_control_socket_in_a_long_directory(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    server = ControlServer(deep, lambda req: {"ok": True})
    try:
        assert request(deep, {"cmd": "x"}) == {"ok": True}
    finally:
        server.close()


def _status(node_id, pid, role="FOLLOWER", term=3, leader=1, commit=10):
    return NodeStatus(
        node_id, pid, role, term, leader, commit, commit, commit + 1, commit + 1, 0, 4096,
        1000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1000, {},
    )  # fmt: skip


def _report(statuses, sent=(0, 0), groups=(), config=PRESETS["reliable"]):
    stats = tuple(
        EndpointStats(i, True, sent_msgs=sent[0] * i, received_msgs=sent[0] * i, sent_bytes=sent[1])
        for i in (1, 2, 3)
    )
    return RouterReport(
        stats, totals(stats), {s.node_id: encode(s) for s in statuses}, config,
        make_topology(groups), 2,
    )  # fmt: skip


def test_view_builder_leader_rates_staleness_and_events():
    log = EventLog()
    builder = ViewBuilder("/tmp/x", (1, 2, 3), log)
    procs = {
        1: ProcessInfo(ProcessState.RUNNING, 101),
        2: ProcessInfo(ProcessState.RUNNING, 102),
        3: ProcessInfo(ProcessState.KILLED, None),
    }
    statuses = [_status(1, 101, "LEADER"), _status(2, 102), _status(3, 99)]
    view = builder.build(_report(statuses), procs)
    assert (view.leader, view.term, view.elections) == (1, 3, 1)
    assert view.node(3).state == ProcessState.KILLED and view.node(3).role is None  # stale blob
    assert view.node(1).role == "leader" and view.node(2).leader_id == 1
    assert view.node(1).msgs_in_per_s is None  # no rate before two samples

    # Node 1 restarted (new pid, old blob still at the router): restarting, not leader.
    procs[1] = ProcessInfo(ProcessState.RUNNING, 201)
    statuses[1] = _status(2, 102, "LEADER", term=4, leader=2)
    view = builder.build(_report(statuses, sent=(100, 5000), groups=[[1], [2, 3]]), procs)
    assert view.node(1).state == ProcessState.RESTARTING and view.node(1).term is None
    assert (view.leader, view.term, view.elections) == (2, 4, 2)
    assert view.node(2).msgs_in_per_s is not None and view.node(2).msgs_in_per_s > 0
    assert view.totals.msgs_per_s is not None and view.totals.in_flight == 2
    assert (view.node(1).group, view.node(2).group, view.node(3).group) == ("A", "B", "B")
    texts = [e.text for e in view.events]
    assert any("node 2 is leader in term 4" in t for t in texts)
    assert any("split {1} | {2,3}" in t for t in texts)

    data = view_to_json(view, {"cluster_id": "c"})
    assert data["leader"] == 2 and data["term"] == 4 and data["cluster_id"] == "c"
    assert [n["id"] for n in data["nodes"]] == [1, 2, 3]
    assert {"id", "pid", "state", "role", "term", "commit", "applied", "log_len"} <= set(
        data["nodes"][0]
    )
    json.dumps(data)  # plain JSON
    table = status_table(data)
    assert "leader 2, term 4" in table and "restarting" in table and "killed" in table


def test_a_node_that_ended_before_the_first_sample_still_has_its_event():
    log = EventLog()
    builder = ViewBuilder("/tmp/x", (1, 2), log)
    builder.as_started = {
        1: ProcessInfo(ProcessState.RUNNING, 101),
        2: ProcessInfo(ProcessState.RUNNING, 102),
    }
    procs = {
        1: ProcessInfo(ProcessState.RUNNING, 101),
        2: ProcessInfo(ProcessState.EXITED, None, "exit status 2; its log ends: corrupt"),
    }
    view = builder.build(_report([_status(1, 101, "LEADER")]), procs)
    texts = [e.text for e in view.events]
    assert texts == ["node 2 exited by itself (pid 102): exit status 2; its log ends: corrupt"]
    assert not builder.build(_report([_status(1, 101, "LEADER")]), procs).events[1:]  # once


def test_group_labels_disconnected_and_whole():
    assert group_labels(make_topology([]), (1, 2)) == {1: None, 2: None}
    labels = group_labels(make_topology([[1, 2]], disconnected=[3]), (1, 2, 3))
    assert labels == {1: "A", 2: "A", 3: "-3"}
    assert preset_name(UNRELIABLE) == "unreliable"


def test_the_disk_quota_reaches_every_node_in_bytes(tmp_path):
    from sentinel.cluster import Supervisor
    from sentinel.cluster.settings import create_identity

    identity = create_identity(tmp_path, 3)
    sup = Supervisor(tmp_path, identity, RunOptions(disk_quota_mb=3))
    assert {sup.spec(i).disk_quota_bytes for i in (1, 2, 3)} == {3 * 1024 * 1024}
    assert Supervisor(tmp_path, identity, RunOptions()).spec(1).disk_quota_bytes == 0


def test_lost_state_and_the_first_view_say_why_a_node_is_not_started(tmp_path):
    from sentinel.cluster import Supervisor
    from sentinel.cluster.settings import create_identity

    identity = create_identity(tmp_path, 3)
    sup = Supervisor(tmp_path, identity, RunOptions())
    assert [sup.lost_state(i) for i in (1, 2, 3)] == [None, None, None]  # a new cluster
    for i in (1, 2):
        (tmp_path / f"node-{i}").mkdir()
        (tmp_path / f"node-{i}" / "meta").write_bytes(b"x")  # only its presence counts
    why = sup.lost_state(3)
    assert why is not None and why.startswith("node-3 holds no state"), why
    assert sup.lost_state(1) is None
    (tmp_path / "node-3").mkdir()
    assert sup.lost_state(3) is not None  # an emptied directory is as lost as a missing one
    (tmp_path / "node-3" / "node.log").write_text("a first run that wrote nothing else\n")
    assert sup.lost_state(3) is None  # it never voted nor stored

    (tmp_path / "node-3" / "node.log").unlink()
    sup._not_started(3, sup.lost_state(3))  # what `start` does, without the processes
    three = sup.view().node(3)  # the view `status` answers with before the first sample
    assert three.state == "exited" and three.exit_reason.startswith("not started: node-3")


def test_a_value_from_standard_input_is_utf8_within_the_limit():
    assert read_value(io.BytesIO("grüße\n".encode())) == "grüße\n"  # taken as is
    assert read_value(io.BytesIO(b"")) == ""
    assert read_value(io.BytesIO(b"x" * VALUE_BYTES_MAX)) == "x" * VALUE_BYTES_MAX
    stream = io.BytesIO(b"x" * (VALUE_BYTES_MAX * 3))
    with pytest.raises(KVError, match="over the 1048576-byte limit"):
        read_value(stream)
    assert stream.tell() == VALUE_BYTES_MAX + 1  # refused without reading it all
    with pytest.raises(KVError, match="not UTF-8 text"):
        read_value(io.BytesIO(b"\xff\xfe"))


def test_status_table_marks_a_node_that_cannot_persist():
    nodes = [
        {"id": 1, "state": "running", "role": "leader", "disk_bytes": 4096, "disk_error": None},
        {"id": 2, "state": "running", "role": "follower", "disk_bytes": 8192,
         "disk_error": "disk full: No space left on device"},
    ]  # fmt: skip
    lines = status_table({"leader": 1, "term": 2, "nodes": nodes}).splitlines()
    assert lines[2].endswith(" 4.00 KiB") and lines[3].endswith(" FULL"), lines
    assert lines[4:] == ["node 2 cannot persist: disk full: No space left on device"], lines
