import os, time
import importlib.util, sys
from pathlib import Path
spec = importlib.util.spec_from_file_location("hf", Path(__file__).with_name("test_hostile_frames.py"))
hf = importlib.util.module_from_spec(spec); spec.loader.exec_module(hf)
from sentinel.netsim.client import connect

def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 10  # ms

def test_cpu(make_cluster):
    cfg = make_cluster(5)
    leader = cfg.wait_leader()
    names = cfg.group.names()
    pids = {n: cfg.group.pid(n) for n in names}
    pids["test"] = os.getpid()
    before = {n: cpu(p) for n, p in pids.items()}
    t = time.monotonic()
    with connect(cfg.directory) as net:
        took = hf._flood(net, leader + 1)
        end = net.end(leader + 1)
        t2 = time.monotonic()
        time.sleep(0.5)
    after = {n: cpu(p) for n, p in pids.items()}
    print(f"\nleader node-{leader+1} write {took:.2f}s wall {t2-t:.2f}s", {n: after[n] - before[n] for n in pids})
    print([s.term for s in cfg.states()])
