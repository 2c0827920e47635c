"""``observe run --workers N``: sharding, checkpoint layouts, and the collector end to end over several processes."""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from observe.errors import ConfigError
from observe.logs.checkpoints import CheckpointStore, consolidate, file_name
from observe.logs.owners import Owners, owners_dir, shard_of
from observe.logs.workers import Supervisor, WorkerCounters, _add_reports, effective_workers, parse_shard, report
from observe.model import LogPosition
from observe.telemetry import LogCounters, SinkStatus
from tests.conftest import Containers
from tests.support.collector_run import CollectorProcess
from tests.support.nethelpers import free_port
from tests.support.procs import alive, children, cpu_ticks
from tests.support.waiting import wait_for


def test_workers_default_to_cores_except_for_sinks_that_cannot_be_shared() -> None:
    assert effective_workers(0, ["file:///tmp/out"], cpus=4) == 4
    assert effective_workers(3, ["tcp://127.0.0.1:5000"], cpus=2) == 3
    assert effective_workers(1, ["tcp://127.0.0.1:5000"], cpus=8) == 1
    assert effective_workers(0, ["stdout"], cpus=4) == 1
    assert effective_workers(0, ["file:///tmp/out?max_size=10MB"], cpus=4) == 1
    assert effective_workers(0, ["file:///tmp/out?max_size=0"], cpus=4) == 4
    with pytest.raises(ConfigError, match="--workers"):
        effective_workers(2, ["tcp://127.0.0.1:5000", "stdout?format=text"], cpus=4)


def test_parse_shard() -> None:
    assert parse_shard("1/3") == (1, 3)
    for bad in ("3/3", "-1/2", "x/2", "1"):
        with pytest.raises(ValueError):
            parse_shard(bad)


@given(st.text(min_size=1, max_size=64), st.integers(1, 16))
def test_shard_is_stable_and_in_range(cid: str, n: int) -> None:
    k = shard_of(cid, n)
    assert 0 <= k < n and shard_of(cid, n) == k


positions = st.builds(LogPosition, st.integers(0, 10**12), st.integers(0, 3), st.sampled_from(["1:2:3", "1:4:5"]),
                      st.integers(0, 10**6))
layouts = st.lists(st.dictionaries(st.sampled_from([f"c{i}" for i in range(12)]), positions, max_size=12),
                   min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(layouts, st.integers(1, 5))
def test_consolidate_keeps_each_containers_furthest_position(tmp_path_factory: pytest.TempPathFactory,
                                                             files: list[dict[str, LogPosition]], n: int) -> None:
    state = tmp_path_factory.mktemp("state")
    # Files an earlier life left: one process, then 2, 3 ... workers.
    names = [file_name(0, 1)] + [file_name(i, len(files)) for i in range(len(files) - 1)]
    for name, content in zip(names, files, strict=False):
        (state / name).write_bytes(orjson.dumps({"version": 1, "containers": {k: v._asdict() for k, v in
                                                                              content.items()}}))
    furthest: dict[str, LogPosition] = {}
    for content in files[: len(names)]:
        for cid, pos in content.items():
            if cid not in furthest or (pos.time_ns, pos.seq, pos.offset, pos.file_id) > (
                    furthest[cid].time_ns, furthest[cid].seq, furthest[cid].offset, furthest[cid].file_id):
                furthest[cid] = pos
    consolidate(str(state), n)
    stores = [CheckpointStore(str(state), k, n) for k in range(n)]
    def key(p: LogPosition) -> tuple[int, int, int]:
        return p.time_ns, p.seq, p.offset

    # Each container's position is in the file of the worker its claim names (one process: the only file).
    owner = {cid: Owners(str(state), 0, n, list).owner(cid) if n > 1 else 0 for cid in furthest}
    if n > 1 and furthest:
        assert max(owner.values()) < n and sorted(p.name for p in owners_dir(state, n).iterdir()) == sorted(furthest)
        per_worker = [list(owner.values()).count(k) for k in range(n)]
        assert max(per_worker) - min(per_worker) <= 1, "a new layout spreads the containers evenly"
    for cid, pos in furthest.items():
        got = stores[owner[cid]].get(cid)
        # Equally far positions (same time, sequence and offset) are all the furthest: any may stay.
        tied = [p for content in files[: len(names)] for c, p in content.items() if c == cid and key(p) == key(pos)]
        assert got is not None and got in tied
        assert all(s.get(cid) is None for k, s in enumerate(stores) if k != owner[cid])
    left = {p.name for p in state.glob("log-positions*.json")}
    assert left <= {file_name(k, n) for k in range(n)}


def test_counters_and_sink_states_add_up_over_workers() -> None:
    one, two = LogCounters(), LogCounters()
    one.add_record("c1", "info", "stdout", 10, 1)
    two.add_record("c1", "info", "stdout", 5, 2)
    two.add_flag("c2", "truncated", 3)
    sink_a = SinkStatus(name="tcp:x", url="tcp://x", written=7, connected=True, last_success=5.0,
                        dropped={"too_large": 1})
    sink_b = SinkStatus(name="tcp:x", url="tcp://x", written=3, connected=False, last_error="refused",
                        last_success=9.0, dropped={"too_large": 2, "closed": 1})
    supervisor = Supervisor(["run"], 2, "/nonexistent", 1.0)
    supervisor._workers[0].report = orjson.loads(report(one, [sink_a]))
    supervisor._workers[1].report = orjson.loads(report(two, [sink_b]))
    snap = WorkerCounters(supervisor).snapshot()
    assert snap.lines == {("c1", "info", "stdout"): 3}
    assert snap.bytes == {("c1", "info", "stdout"): 15}
    assert snap.flags == {("c2", "truncated"): 3}
    [merged] = supervisor.statuses()
    assert merged.written == 10 and not merged.connected and merged.last_error == "refused"
    assert merged.dropped == {"too_large": 3, "closed": 1}
    assert merged.last_success == 9.0
    # A restarted worker's earlier totals still count.
    again = _add_reports(orjson.loads(report(one, [])), orjson.loads(report(one, [])))
    assert again["lines"] == [["c1", "info", "stdout", 2]]


SCRIPT = 'i=0; while [ $i -lt 4000 ]; do echo "n=$i"; i=$((i+1)); usleep 1500; done; echo end; sleep 600'


@pytest.mark.engine
def test_several_workers_collect_every_line_once_across_a_layout_change(tmp_path: Path,
                                                                        containers: Containers) -> None:
    collector = CollectorProcess(tmp_path, containers.test_id, "--workers", "2")
    try:
        collector.start()
        collector.wait_ready()
        names = []
        for i in range(4):
            containers.run(f"w{i}", SCRIPT)
            names.append(containers.name(f"w{i}"))
        wait_for(lambda: all(len(collector.messages(n)) > 300 for n in names), "every container collected")
        assert collector.stop() == 0
        # Four busy containers over two workers: two each (a hash alone often splits them 3:1 or 4:0).
        follows = [orjson.loads(line) for line in collector.stderr().splitlines() if '"LogFollowStarted"' in line]
        by_worker = {w: sorted(e["container"] for e in follows if e.get("worker") == w) for w in ("0/2", "1/2")}
        assert sorted(by_worker["0/2"] + by_worker["1/2"]) == sorted(names)
        assert len(by_worker["0/2"]) == len(by_worker["1/2"]) == 2, by_worker
        before = {n: collector.messages(n) for n in names}
        # The same state directory, another layout: each container resumes where it stopped.
        collector.extra = ("--workers", "3")
        collector.start()
        wait_for(lambda: all("end" in collector.messages(n) for n in names), "the last lines", timeout=120)
        assert collector.stop() == 0
        expected = [f"n={i}" for i in range(4000)] + ["end"]
        for n in names:
            assert collector.messages(n) == expected, f"{n}: lines lost, repeated or reordered"
            assert len(before[n]) > 300
        assert sorted(p.name for p in collector.state.glob("log-positions*.json")) == [
            file_name(k, 3) for k in range(3)]
        assert "Traceback" not in collector.stderr()
    finally:
        collector.close()


def test_a_layout_saved_without_owners_gets_them_and_positions_follow(tmp_path: Path) -> None:
    """Checkpoint files of an N-worker layout written before owners existed (placed by hash alone)."""
    pos = {f"c{i}": LogPosition(10**9 + i, 0, "1:2:3", 100 * i) for i in range(4)}
    (tmp_path / file_name(0, 2)).write_bytes(orjson.dumps({"version": 1, "containers": {
        k: v._asdict() for k, v in pos.items()}}))
    (tmp_path / file_name(1, 2)).write_bytes(orjson.dumps({"version": 1, "containers": {}}))
    consolidate(str(tmp_path), 2)
    stores = [CheckpointStore(str(tmp_path), k, 2) for k in range(2)]
    owner = {cid: Owners(str(tmp_path), 0, 2, list).owner(cid) for cid in pos}
    assert sorted(owner.values()) == [0, 0, 1, 1]
    for cid, p in pos.items():
        assert stores[owner[cid]].get(cid) == p and stores[1 - owner[cid]].get(cid) is None


@pytest.mark.engine
def test_the_supervisors_metrics_count_what_the_workers_collected(tmp_path: Path, containers: Containers) -> None:
    """/metrics of ``observe run --workers 2`` holds the workers' log counters and sink states."""
    port = free_port()
    collector = CollectorProcess(tmp_path, containers.test_id, "--workers", "2", "--max-line-bytes", "1024",
                                 "--listen", f"127.0.0.1:{port}", "--interval", "1s", exporter=True)
    try:
        collector.start()
        collector.wait_ready()
        c = containers.run("counted", 'head -c 3000 /dev/zero | tr "\\0" x; echo; echo short; sleep 600')

        def metrics() -> str:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                    return str(resp.read().decode())
            except OSError:
                return ""

        def counted() -> str:
            text = metrics()
            ok = ('kind="truncated"' in text and "observe_log_lines_total{" in text and c.id[:12] in text
                  and "observe_sink_written_total{" in text)
            return text if ok else ""

        text = wait_for(counted, "the workers' counters on the supervisor's /metrics", timeout=60, interval=0.5)
        truncated = [line for line in text.splitlines()
                     if line.startswith("observe_log_events_total{") and 'kind="truncated"' in line]
        assert truncated and float(truncated[0].rsplit(" ", 1)[1]) == 1
        assert collector.stop() == 0
    finally:
        collector.close()


@pytest.mark.engine
def test_workers_die_at_once_with_a_killed_supervisor_and_wait_for_it_without_waking(
        tmp_path: Path, containers: Containers) -> None:
    """The supervisor SIGKILLed alone: its workers must not run on beside the next collector."""
    collector = CollectorProcess(tmp_path, containers.test_id, "--workers", "2")
    try:
        collector.start()
        collector.wait_ready()
        assert collector.proc is not None
        root = collector.proc.pid
        workers = children(root)
        assert len(workers) == 2
        before = [cpu_ticks(pid) for pid in workers]
        time.sleep(3)  # idle: what the workers spend while nothing happens is the measure
        spent = [cpu_ticks(pid) - b for pid, b in zip(workers, before, strict=True)]
        assert all(s <= 15 for s in spent), f"idle workers used {spent} ticks of CPU in 3 s"
        os.kill(root, signal.SIGKILL)
        started = time.monotonic()
        wait_for(lambda: not any(alive(pid) for pid in workers), "the workers gone", timeout=10, interval=0.02)
        assert time.monotonic() - started < 1.0
    finally:
        collector.close()
