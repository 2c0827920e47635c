"""The collector's garbage-collector settings (``observe.runtime``), in a process of their own."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Containers
from tests.support.collector_run import CollectorProcess
from tests.support.procs import children


def test_quiet_collector_freezes_start_up_and_makes_collections_rare() -> None:
    code = ("import gc; from observe.runtime import quiet_collector, YOUNG, FULL_AFTER; "
            "import observe.logs.pipeline; quiet_collector(); "
            "assert gc.get_freeze_count() > 1000, gc.get_freeze_count(); "
            "assert gc.get_threshold() == (YOUNG, 10, FULL_AFTER), gc.get_threshold(); "
            "assert YOUNG > 10 * 700 and FULL_AFTER > 10")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_batch_of_lines_sets_off_no_collection() -> None:
    """3,500 lines through the reader and the pipeline, with the settings: not one collection (dozens before)."""
    code = """
import gc
from observe.logs.jsonfile import JsonFileReader
from observe.logs.normalise import NormaliseOptions
from observe.logs.pipeline import LogPipeline
from observe.runtime import quiet_collector
from tests.exporters.autoscale.test_engine import info
import os, sys, tempfile, orjson
path = os.path.join(tempfile.mkdtemp(), "c-json.log")
with open(path, "wb") as f:
    for i in range(3500):
        f.write(orjson.dumps({"log": f"GET /item/{i} 200 {i * 7} ms\\n", "stream": "stdout",
                              "time": f"2026-12-01T10:00:{i % 60:02d}.{i:09d}Z"}) + b"\\n")
pipeline = LogPipeline(info(1), NormaliseOptions())
if sys.argv[1] == "quiet":
    quiet_collector()
runs = []
gc.callbacks.append(lambda phase, _: runs.append(1) if phase == "start" else None)
reader = JsonFileReader(path)
lines = []
while batch := reader.read():
    lines.extend(batch)
records = [r for line in lines for r in pipeline.feed(line, 0.0)]
assert len(records) == 3499, len(records)
print(len(runs))
"""
    counts = {}
    for mode in ("default", "quiet"):
        done = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        counts[mode] = int(done.stdout)
    assert counts["quiet"] == 0 and counts["default"] > 10, counts


CPUS = sorted(os.sched_getaffinity(0))
needs_two_cpus = pytest.mark.skipif(len(CPUS) < 2, reason="this machine lets the tests use one CPU")


def allowed_cpus(pid: int) -> set[str]:
    """Every thread's allowed CPU list of a process ("0-1", "1", ...)."""
    out = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
                if line.startswith("Cpus_allowed_list:"):
                    out.add(line.split(":", 1)[1].strip())
    return out


@needs_two_cpus
@pytest.mark.parametrize("index", [None, 0, 1, 2])
def test_keep_to_one_cpu_keeps_every_thread_and_those_started_later(index: int | None) -> None:
    code = f"""
import json, os, threading, time
from observe.runtime import keep_to_one_cpu
early = threading.Thread(target=time.sleep, args=(3,), daemon=True)
early.start()
assert keep_to_one_cpu(0, {len(CPUS) + 1}) is None and os.sched_getaffinity(0) == set({CPUS})
cpu = keep_to_one_cpu({index}, 2)
late = []
t = threading.Thread(target=lambda: late.append(os.sched_getaffinity(0)))
t.start(); t.join()
print(json.dumps([cpu, sorted(os.sched_getaffinity(0)), sorted(late[0]),
                  sorted(os.sched_getaffinity(early.native_id))]))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    cpu, main, started_later, started_before = json.loads(done.stdout)
    assert cpu in CPUS and (index is None or cpu == CPUS[index % len(CPUS)])
    assert main == started_later == started_before == [cpu]


@pytest.mark.engine
@needs_two_cpus
@pytest.mark.parametrize(("flags", "kept"), [
    (("--workers", "2"), True),
    (("--workers", "2", "--cpu-affinity", "none"), False),
    (("--workers", "1"), True),
    (("--workers", str(len(CPUS) + 1)), False),  # more workers than CPUs: the kernel balances them
])
def test_observe_run_keeps_each_collecting_process_to_its_own_cpu(tmp_path: Path, containers: Containers,
                                                                  flags: tuple[str, ...], kept: bool) -> None:
    collector = CollectorProcess(tmp_path, containers.test_id, *flags)
    try:
        collector.start()
        collector.wait_ready()
        assert collector.proc is not None
        root = collector.proc.pid
        collecting = children(root) if flags[1] != "1" else [root]
        assert len(collecting) == int(flags[1])
        cpus = [allowed_cpus(pid) for pid in collecting]
        if kept:
            assert all(len(c) == 1 and next(iter(c)).isdigit() for c in cpus), cpus
            assert len({next(iter(c)) for c in cpus}) == len(collecting), f"two workers on one CPU: {cpus}"
        else:
            assert all(c == {f"{CPUS[0]}-{CPUS[-1]}"} for c in cpus), cpus
        if flags[1] != "1":
            assert allowed_cpus(root) == {f"{CPUS[0]}-{CPUS[-1]}"}, "the supervisor goes where the kernel puts it"
        assert collector.stop() == 0
    finally:
        collector.close()
