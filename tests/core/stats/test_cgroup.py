"""cgroup readers on file trees built here, shaped like real hosts (v2 systemd and cgroupfs, v1 co-mounted)."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from observe.engine.inspect import cgroup_location
from observe.stats.cgroup import REFRESH_EVERY, CgroupReader, parse_proc_cgroup
from observe.stats.cgroupfs import (
    ContainerFiles,
    KeyPicker,
    cpu_weight_to_shares,
    parse_blkio_v1,
    parse_flat_keyed,
    parse_nested_keyed,
)
from observe.stats.netdev import parse_net_dev
from observe.stats.sample import ContainerGone, Sample

CID = "4890d6990787171369d74ab4112a30b0c73edfa4149a1dfbb5bc5551615cf0cc"

V2_FILES = {
    "cpu.stat": "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 40\nnr_throttled 30\n"
                "throttled_usec 1500000\nnr_bursts 0\nburst_usec 0\n",
    "cpu.max": "20000 100000\n",
    "cpu.weight": "39\n",
    "memory.current": "10485760\n",
    "memory.max": "67108864\n",
    "memory.peak": "20971520\n",
    "memory.swap.current": "4096\n",
    "memory.stat": "anon 6291456\nfile 3145728\nkernel 1048576\nfile_mapped 1048576\nactive_file 1048576\n"
                   "inactive_file 2097152\nshmem 0\n",
    "memory.events": "low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\noom_group_kill 0\n",
    "io.stat": "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"
               "259:0 rbytes=100 wbytes=0 rios=3 wios=0 dbytes=0 dios=0\n",
    "pids.current": "5\n",
    "pids.max": "max\n",
    "cgroup.procs": "101\n102\n",
}


def write_tree(base: Path, files: dict[str, str]) -> None:
    base.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (base / name).write_text(text)


def v2_host(tmp_path: Path, rel: str) -> tuple[str, str]:
    root = tmp_path / "sys" / "fs" / "cgroup"
    write_tree(root, {"cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n"})
    write_tree(root / rel, V2_FILES)
    proc = tmp_path / "proc"
    write_tree(proc, {"partitions": "major minor  #blocks  name\n\n 259        0  104857600 nvme0n1\n"
                                    "   8        0   1048576 sda\n"})
    return str(root), str(proc)


@pytest.mark.parametrize(
    ("driver", "parent", "rel"),
    [
        ("systemd", "", f"system.slice/docker-{CID}.scope"),
        ("cgroupfs", "", f"docker/{CID}"),
        ("systemd", "my-apps.slice", f"my.slice/my-apps.slice/docker-{CID}.scope"),
    ],
)
def test_v2_tree(tmp_path: Path, driver: str, parent: str, rel: str) -> None:
    root, proc = v2_host(tmp_path, rel)
    location = cgroup_location(CID, parent, driver, 2)
    assert location.path == rel
    reader = CgroupReader(root, 2, proc)
    assert reader.available()
    s = reader.read(reader.locate(location), 100.0, 5.0)
    assert s.cpu_usage_seconds == 2.5
    assert (s.cpu_user_seconds, s.cpu_system_seconds) == (2.0, 0.5)
    assert (s.cpu_cfs_periods, s.cpu_cfs_throttled_periods, s.cpu_cfs_throttled_seconds) == (40, 30, 1.5)
    assert s.memory_usage_bytes == 10485760
    assert s.memory_working_set_bytes == 10485760 - 2097152
    assert (s.memory_rss_bytes, s.memory_cache_bytes, s.memory_mapped_file_bytes) == (6291456, 3145728, 1048576)
    assert s.memory_swap_bytes == 4096
    assert s.memory_max_usage_bytes == 20971520
    assert (s.memory_failcnt, s.oom_events) == (7, 1)
    assert (s.processes, s.threads, s.threads_max) == (2, 5, 0)
    assert s.spec_memory_limit_bytes == 64 * 1024 * 1024
    assert (s.spec_cpu_quota_us, s.spec_cpu_period_us) == (20000, 100000)
    assert s.spec_cpu_shares == cpu_weight_to_shares(39)
    assert s.block_io is not None
    devices = {d.device: d for d in s.block_io}
    assert devices["/dev/sda"].read_bytes == 4096 and devices["/dev/sda"].writes == 2
    assert devices["/dev/nvme0n1"].reads == 3
    assert s.network is None  # the reader knows no pid; the backend adds net/dev


def test_v2_unlimited_and_missing_files(tmp_path: Path) -> None:
    rel = f"docker/{CID}"
    root, proc = v2_host(tmp_path, rel)
    d = Path(root) / rel
    (d / "memory.max").write_text("max\n")
    (d / "cpu.max").write_text("max 100000\n")
    for gone in ("memory.swap.current", "memory.peak", "io.stat"):
        (d / gone).unlink()
    reader = CgroupReader(root, 2, proc)
    s = reader.read(reader.locate(cgroup_location(CID, "", "cgroupfs", 2)), 1.0, 1.0)
    assert s.spec_memory_limit_bytes == 0 and s.spec_cpu_quota_us == 0
    assert s.memory_swap_bytes is None and s.memory_max_usage_bytes is None and s.block_io is None


def test_v2_gone(tmp_path: Path) -> None:
    root, proc = v2_host(tmp_path, "other")
    reader = CgroupReader(root, 2, proc)
    with pytest.raises(ContainerGone):
        reader.read(reader.locate(cgroup_location(CID, "", "systemd", 2)), 1.0, 1.0)


def test_v2_location_from_proc_wins(tmp_path: Path) -> None:
    """A custom parent the inspect document does not explain: /proc/<pid>/cgroup is believed when it exists."""
    rel = f"custom/parent/docker-{CID}.scope"
    root, proc = v2_host(tmp_path, rel)
    write_tree(Path(proc) / "4242", {"cgroup": f"0::/{rel}\n"})
    reader = CgroupReader(root, 2, proc)
    paths = reader.locate(cgroup_location(CID, "", "systemd", 2), pid=4242)
    assert paths.dirs[""] == str(Path(root) / rel)
    # a private cgroup namespace shows "/": the computed guess is kept
    write_tree(Path(proc) / "4243", {"cgroup": "0::/\n"})
    assert reader.locate(cgroup_location(CID, "", "systemd", 2), pid=4243).dirs[""].endswith(
        f"system.slice/docker-{CID}.scope")


def test_v1_comounted_tree(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    rel = f"docker/{CID}"
    write_tree(root / "cpu,cpuacct" / rel, {
        "cpuacct.usage": "3000000000\n", "cpuacct.stat": "user 200\nsystem 50\n",
        "cpu.stat": "nr_periods 10\nnr_throttled 4\nthrottled_time 250000000\n",
        "cpu.cfs_quota_us": "-1\n", "cpu.cfs_period_us": "100000\n", "cpu.shares": "512\n",
    })
    (root / "cpu").symlink_to("cpu,cpuacct")
    (root / "cpuacct").symlink_to("cpu,cpuacct")
    write_tree(root / "memory" / rel, {
        "memory.usage_in_bytes": "5000000\n", "memory.limit_in_bytes": "9223372036854771712\n",
        "memory.stat": "cache 100\nrss 200\ntotal_cache 1000\ntotal_rss 2000\ntotal_swap 0\n"
                       "total_inactive_file 600\ntotal_mapped_file 30\n",
        "memory.failcnt": "3\n", "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        "memory.max_usage_in_bytes": "6000000\n",
    })
    write_tree(root / "pids" / rel, {"pids.current": "3\n", "pids.max": "100\n", "cgroup.procs": "1\n2\n"})
    write_tree(root / "blkio" / rel, {
        "blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4608\n",
        "blkio.throttle.io_serviced_recursive": "8:0 Read 1\n8:0 Write 1\n8:0 Total 2\nTotal 2\n",
        "blkio.io_service_bytes_recursive": "Total 0\n",
    })
    reader = CgroupReader(str(root), 1, str(tmp_path / "noproc"))
    assert reader.available()
    s = reader.read(reader.locate(cgroup_location(CID, "", "cgroupfs", 1)), 1.0, 1.0)
    assert s.cpu_usage_seconds == 3.0
    assert s.cpu_user_seconds is not None and s.cpu_user_seconds > 0
    assert (s.cpu_cfs_periods, s.cpu_cfs_throttled_periods, s.cpu_cfs_throttled_seconds) == (10, 4, 0.25)
    assert s.spec_cpu_quota_us == 0 and s.spec_cpu_shares == 512
    assert s.spec_memory_limit_bytes == 0  # "unlimited", as cAdvisor reports it
    assert (s.memory_usage_bytes, s.memory_working_set_bytes) == (5000000, 5000000 - 600)
    assert (s.memory_rss_bytes, s.memory_cache_bytes, s.memory_swap_bytes) == (2000, 1000, 0)
    assert (s.memory_failcnt, s.oom_events) == (3, 2)
    assert (s.processes, s.threads, s.threads_max) == (2, 3, 100)
    assert s.block_io is not None and [(d.device, d.read_bytes, d.write_bytes, d.reads) for d in s.block_io] == [
        ("8:0", 4096, 512, 1)]


def test_parsers() -> None:
    assert parse_proc_cgroup("2:cpu,cpuacct:/docker/x\n0::/\n") == {"cpu": "/docker/x", "cpuacct": "/docker/x",
                                                                    "": "/"}
    assert parse_nested_keyed("8:0 rbytes=1 wbytes=x\n") == {"8:0": {"rbytes": 1}}
    assert parse_blkio_v1("8:0 Read 5\nTotal 5\n") == {"8:0": {"read": 5}}
    text = ("Inter-|   Receive                                                |  Transmit\n"
            " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls "
            "carrier compressed\n"
            "    lo:  100 1 0 0 0 0 0 0  100 1 0 0 0 0 0 0\n"
            "  eth0: 1500 10 1 2 0 0 0 0  900 9 3 4 0 0 0 0\n"
            "veth12: 5 5 5 5 0 0 0 0 5 5 5 5 0 0 0 0\n")
    (eth0,) = parse_net_dev(text)
    assert (eth0.interface, eth0.rx_bytes, eth0.rx_packets, eth0.rx_errors, eth0.rx_dropped) == ("eth0", 1500, 10, 1, 2)
    assert (eth0.tx_bytes, eth0.tx_packets, eth0.tx_errors, eth0.tx_dropped) == (900, 9, 3, 4)


@given(st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), st.integers(0, 2**63), max_size=20))
def test_flat_keyed_round_trip(values: dict[str, int]) -> None:
    text = "".join(f"{k} {v}\n" for k, v in values.items())
    assert parse_flat_keyed(text + "garbage line here\n\n") == values


@given(st.text())
def test_parsers_never_raise(text: str) -> None:
    parse_flat_keyed(text)
    parse_nested_keyed(text)
    parse_blkio_v1(text)
    parse_proc_cgroup(text)
    parse_net_dev(text)


CFQ_STATS = {
    "blkio.io_service_bytes_recursive": "8:0 Read 8192\n8:0 Write 4096\n8:0 Sync 12288\n8:0 Async 0\n"
                                        "8:0 Total 12288\nTotal 12288\n",
    "blkio.io_serviced_recursive": "8:0 Read 2\n8:0 Write 1\n8:0 Sync 3\n8:0 Async 0\n8:0 Total 3\nTotal 3\n",
    "blkio.io_service_time_recursive": "8:0 Read 2000000000\n8:0 Write 500000000\n8:0 Total 2500000000\n",
    "blkio.io_wait_time_recursive": "8:0 Read 1\n8:0 Write 1\n8:0 Total 3000000000\n",
    "blkio.io_merged_recursive": "8:0 Read 4\n8:0 Write 5\n8:0 Total 9\n",
    "blkio.io_queued_recursive": "8:0 Read 0\n8:0 Write 1\n8:0 Total 1\n",
    "blkio.time_recursive": "8:0 1500\n",
}


def v1_tree(tmp_path: Path, blkio: dict[str, str]) -> tuple[CgroupReader, object]:
    root = tmp_path / "cgroup"
    rel = f"docker/{CID}"
    write_tree(root / "cpuacct" / rel, {"cpuacct.usage": "3000000000\n", "cpuacct.stat": "user 200\nsystem 50\n",
                                        "cpuacct.usage_percpu": "1000000000 2000000000 0\n"})
    write_tree(root / "cpu" / rel, {"cpu.stat": "nr_periods 10\nnr_throttled 4\nthrottled_time 250000000\n"
                                                "nr_bursts 2\nburst_time 125000000\n",
                                    "cpu.cfs_quota_us": "50000\n", "cpu.cfs_period_us": "100000\n"})
    write_tree(root / "memory" / rel, {
        "memory.usage_in_bytes": "5000000\n", "memory.limit_in_bytes": "67108864\n",
        "memory.soft_limit_in_bytes": "33554432\n", "memory.memsw.limit_in_bytes": "134217728\n",
        "memory.kmem.usage_in_bytes": "4096\n",
        "memory.stat": "pgfault 10\npgmajfault 1\ntotal_pgfault 20\ntotal_pgmajfault 2\ntotal_active_file 300\n"
                       "total_inactive_file 600\ntotal_dirty 8\ntotal_writeback 4\n",
    })
    write_tree(root / "blkio" / rel, blkio)
    write_tree(tmp_path / "proc", {"partitions": "major minor  #blocks  name\n\n   8        0   1048576 sda\n"})
    reader = CgroupReader(str(root), 1, str(tmp_path / "proc"))
    return reader, reader.locate(cgroup_location(CID, "", "cgroupfs", 1))


def test_v1_cfq_statistics_give_every_blkio_family(tmp_path: Path) -> None:
    """The legacy CFQ files (this kernel counts nothing in its own, so a tree stands in)."""
    reader, paths = v1_tree(tmp_path, {**CFQ_STATS, "blkio.throttle.io_service_bytes_recursive": "Total 0\n"})
    s = reader.read(paths, 1.0, 1.0)  # type: ignore[arg-type]
    assert s.block_io is not None
    (d,) = s.block_io
    assert (d.device, d.major, d.minor, d.read_bytes, d.write_bytes, d.reads, d.writes) == ("/dev/sda", 8, 0, 8192,
                                                                                          4096, 2, 1)
    assert (d.read_seconds, d.write_seconds, d.reads_merged, d.writes_merged) == (2.0, 0.5, 4, 5)
    assert (d.io_current, d.io_time_seconds, d.io_weighted_seconds) == (1, 1.5, 3.0)
    assert dict(d.bytes_by_op) == {"Read": 8192, "Write": 4096, "Sync": 12288, "Async": 0, "Total": 12288}
    # per-CPU usage (the idle third CPU included here; the exporter leaves it out), burst, newer memory figures
    assert s.cpu_percpu_seconds == (1.0, 2.0, 0.0) and s.cpu_usage_seconds == 3.0
    assert (s.cpu_cfs_burst_periods, s.cpu_cfs_burst_seconds) == (2, 0.125)
    assert (s.memory_pgfault, s.memory_pgmajfault, s.memory_hierarchy_pgfault, s.memory_hierarchy_pgmajfault) == (
        10, 1, 20, 2)
    assert (s.memory_active_file_bytes, s.memory_inactive_file_bytes, s.memory_dirty_bytes) == (300, 600, 8)
    assert (s.memory_writeback_bytes, s.memory_kernel_bytes) == (4, 4096)
    assert (s.spec_memory_limit_bytes, s.spec_memory_reservation_bytes, s.spec_memory_swap_limit_bytes) == (
        67108864, 33554432, 134217728)


def test_v1_throttle_only_and_percpu_off(tmp_path: Path) -> None:
    reader, paths = v1_tree(tmp_path, {
        "blkio.bfq.io_service_bytes_recursive": "Total 0\n",
        "blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 512\nTotal 4608\n",
        "blkio.throttle.io_serviced_recursive": "8:0 Read 1\n8:0 Write 1\nTotal 2\n"})
    reader.percpu = False
    s = reader.read(paths, 1.0, 1.0)  # type: ignore[arg-type]
    assert s.cpu_percpu_seconds is None and s.cpu_usage_seconds == 3.0
    assert s.block_io is not None
    (d,) = s.block_io
    assert (d.read_bytes, d.reads, d.read_seconds, d.io_current) == (4096, 1, None, None)


def test_v1_host_whose_blkio_counts_nothing(tmp_path: Path) -> None:
    reader, paths = v1_tree(tmp_path, {"blkio.bfq.io_service_bytes_recursive": "Total 0\n",
                                       "blkio.throttle.io_service_bytes_recursive": "Total 0\n"})
    assert reader.read(paths, 1.0, 1.0).block_io == ()  # type: ignore[arg-type]


def test_v2_io_pressure_and_memory_events(tmp_path: Path) -> None:
    rel = f"system.slice/docker-{CID}.scope"
    root, proc = v2_host(tmp_path, rel)
    d = Path(root) / rel
    write_tree(d, {
        "cpu.pressure": "some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\n"
                        "full avg10=0.00 avg60=0.00 avg300=0.00 total=500000\n",
        "memory.pressure": "some avg10=1.00 avg60=0.00 avg300=0.00 total=250000\n"
                           "full avg10=0.00 avg60=0.00 avg300=0.00 total=125000\n",
        "io.pressure": "some avg10=0.00 avg60=0.00 avg300=0.00 total=2000000\n",
        "memory.low": "16777216\n", "memory.swap.max": "max\n",
        "memory.stat": V2_FILES["memory.stat"] + "pgfault 40\npgmajfault 4\npgscan 7\npgsteal 5\n"
                       "workingset_refault_anon 1\nworkingset_refault_file 2\nfile_dirty 12\nfile_writeback 0\n",
    })
    reader = CgroupReader(root, 2, proc)
    s = reader.read(reader.locate(cgroup_location(CID, "", "systemd", 2)), 1.0, 1.0)
    assert s.pressure is not None
    assert {(p.resource, p.waiting_seconds, p.stalled_seconds) for p in s.pressure} == {
        ("cpu", 1.5, 0.5), ("memory", 0.25, 0.125), ("io", 2.0, None)}
    assert s.memory_events == (("low", 0), ("high", 0), ("max", 7), ("oom", 2), ("oom_kill", 1))
    assert s.memory_refaults == (("anon", 1), ("file", 2))
    assert (s.memory_pgscan, s.memory_pgsteal, s.memory_pgfault, s.memory_hierarchy_pgfault) == (7, 5, 40, 40)
    assert (s.memory_kernel_bytes, s.memory_dirty_bytes) == (1048576, 12)
    assert (s.spec_memory_reservation_bytes, s.spec_memory_swap_limit_bytes) == (16777216, 0)
    assert s.cpu_percpu_seconds is None  # v2 has no per-CPU usage: cpu="total"
    assert s.block_io is not None
    by_op = {dev.device: dict(dev.bytes_by_op) for dev in s.block_io}
    assert by_op["/dev/sda"] == {"Read": 4096, "Write": 8192, "Discard": 0, "Total": 12288}
    assert [(dev.major, dev.minor) for dev in s.block_io] == [(259, 0), (8, 0)]


def test_open_files_follow_a_removed_cgroup(tmp_path: Path) -> None:
    """Files kept open read as missing once the cgroup is gone, so the container reads as gone."""
    reader, paths = v1_tree(tmp_path, CFQ_STATS)
    files = ContainerFiles()
    assert reader.read(paths, 1.0, 1.0, files).memory_usage_bytes == 5000000  # type: ignore[arg-type]
    (tmp_path / "cgroup" / "memory" / "docker" / CID / "memory.usage_in_bytes").write_text("6000000\n")
    assert reader.read(paths, 2.0, 2.0, files).memory_usage_bytes == 6000000  # type: ignore[arg-type]
    assert files.open_count() > 5
    (tmp_path / "cgroup" / "memory" / "docker" / CID / "memory.usage_in_bytes").unlink()
    files.forget_missing()
    fresh = ContainerFiles()
    with pytest.raises(ContainerGone):
        reader.read(paths, 3.0, 3.0, fresh)  # type: ignore[arg-type]
    files.close()
    assert files.open_count() == 0


FLAT = st.dictionaries(st.sampled_from(["a", "b", "total_rss", "pgfault", "x_y", "zz"]), st.integers(0, 2**63),
                       max_size=6)


@given(st.lists(st.tuples(FLAT, st.booleans(), st.booleans()), min_size=1, max_size=6),
       st.lists(st.sampled_from(["a", "total_rss", "pgfault", "missing"]), min_size=1, max_size=4, unique=True))
def test_key_picker_gives_what_a_full_parse_gives(texts: list[tuple[dict[str, int], bool, bool]],
                                                  keys: list[str]) -> None:
    """Whatever the files read in turn (keys coming and going, reordered, junk lines), the picker's answer is
    the full parse's for its keys: the places it learnt are checked, never trusted."""
    picker = KeyPicker(tuple(keys))
    for values, junk, reverse in texts:
        items = list(values.items())[::-1] if reverse else list(values.items())
        text = "".join(f"{k} {v}\n" for k, v in items) + ("a 1 2\nb x\n" if junk else "")
        full = parse_flat_keyed(text)
        assert picker.pick(text) == {k: v for k, v in full.items() if k in keys}


def test_kept_open_files_follow_counters_and_cfs_without_quota_on_the_slow_refresh(tmp_path: Path) -> None:
    """Every sweep sees new counters; CFS counters, which stand still without a quota, are read with the
    limits on the slow refresh, and at every sweep again once a quota is set."""
    reader, paths = v1_tree(tmp_path, CFQ_STATS)
    cpu_dir = tmp_path / "cgroup" / "cpu" / "docker" / CID
    mem_dir = tmp_path / "cgroup" / "memory" / "docker" / CID
    (cpu_dir / "cpu.cfs_quota_us").write_text("-1\n")
    files = ContainerFiles()
    files.sweeps = 0
    first = reader.read(paths, 1.0, 1.0, files)  # type: ignore[arg-type]
    assert (first.spec_cpu_quota_us, first.cpu_cfs_periods) == (0, 10)
    (mem_dir / "memory.stat").write_text("pgfault 11\ntotal_inactive_file 700\ntotal_rss 5\n")
    (cpu_dir / "cpu.stat").write_text("nr_periods 12\nnr_throttled 4\nthrottled_time 250000000\n")
    (cpu_dir / "cpu.cfs_quota_us").write_text("20000\n")
    usage = tmp_path / "cgroup" / "cpuacct" / "docker" / CID / "cpuacct.usage_percpu"
    usage.write_text("1000000100 2000000000 0\n")  # the container ran: its faults and periods came with CPU time
    second = reader.read(paths, 2.0, 2.0, files)  # type: ignore[arg-type]
    assert (second.memory_pgfault, second.memory_working_set_bytes, second.memory_rss_bytes) == (11, 5000000 - 700, 5)
    assert (second.spec_cpu_quota_us, second.cpu_cfs_periods) == (0, 10)  # both wait for the slow refresh
    for t in range(3, 3 + REFRESH_EVERY):
        last = reader.read(paths, float(t), float(t), files)  # type: ignore[arg-type]
    assert (last.spec_cpu_quota_us, last.cpu_cfs_periods) == (20000, 12)
    (cpu_dir / "cpu.stat").write_text("nr_periods 13\nnr_throttled 5\nthrottled_time 300000000\n")
    usage.write_text("1000000200 2000000000 0\n")
    now = reader.read(paths, 99.0, 99.0, files)  # type: ignore[arg-type]
    assert (now.cpu_cfs_periods, now.cpu_cfs_throttled_periods, now.cpu_cfs_throttled_seconds) == (13, 5, 0.3)
    files.close()


@pytest.mark.parametrize("percpu", [True, False])
def test_kept_open_files_reuse_values_only_while_every_file_reads_the_same(tmp_path: Path, percpu: bool) -> None:
    """A reader with kept-open files reuses the last sweep's values while its files read the same; any one
    file that changes (each tried alone, with the CPU time the container's activity brings) gives what a fresh
    read of the tree gives, with the new clocks."""
    v1_tree(tmp_path, CFQ_STATS)
    root = tmp_path / "cgroup"
    write_tree(root / "pids" / "docker" / CID, {"pids.current": "3\n", "pids.max": "100\n", "cgroup.procs": "1\n"})
    reader = CgroupReader(str(root), 1, str(tmp_path / "proc"), percpu=percpu)
    paths = reader.locate(cgroup_location(CID, "", "cgroupfs", 1))
    files = ContainerFiles()
    files.sweeps = 1  # no slow refresh during the test: only the per-sweep files change
    first = reader.read(paths, 1.0, 1.0, files)
    again = reader.read(paths, 2.0, 2.0, files)
    assert (again.time, again.monotonic) == (2.0, 2.0) and replace(again, time=1.0, monotonic=1.0) == first
    assert all(getattr(again, f.name) is getattr(first, f.name) for f in fields(Sample)[2:])  # nothing rebuilt
    changes = {
        "cpuacct/docker/{}/cpuacct.usage_percpu": "1000000001 2000000000 7\n",
        "cpuacct/docker/{}/cpuacct.usage": "3000000009\n",
        "cpuacct/docker/{}/cpuacct.stat": "user 201\nsystem 50\n",
        "memory/docker/{}/memory.usage_in_bytes": "5000001\n",
        "memory/docker/{}/memory.stat": "pgfault 11\npgmajfault 1\ntotal_pgfault 21\ntotal_inactive_file 601\n",
        "cpu/docker/{}/cpu.stat": "nr_periods 11\nnr_throttled 4\nthrottled_time 250000000\n",
        "pids/docker/{}/pids.current": "4\n",
        "blkio/docker/{}/blkio.io_service_bytes_recursive": "8:0 Read 8192\n8:0 Write 512\n8:0 Total 8704\n",
    }
    t = 3.0
    for k, (rel, text) in enumerate(changes.items()):
        (root / rel.format(CID)).write_text(text)
        tick = root / "cpuacct" / "docker" / CID / ("cpuacct.usage_percpu" if percpu else "cpuacct.usage")
        tick.write_text(f"{1000000100 + k} 2000000000 0\n" if percpu else f"{3000000100 + k}\n")
        kept = reader.read(paths, t, t, files)
        fresh = reader.read(paths, t, t)
        assert kept == fresh, rel
        t += 1
    assert kept != replace(first, time=kept.time, monotonic=kept.monotonic)
    files.close()


def test_v1_idle_container_is_read_in_three_files_until_the_refresh(tmp_path: Path) -> None:
    """While memory usage, CPU usage and network read the same, the rest is the last reading's (new clocks);
    what moved without CPU (page cache aging) shows at the slow refresh, a CPU tick at once."""
    reader, paths = v1_tree(tmp_path, CFQ_STATS)
    mem_dir = tmp_path / "cgroup" / "memory" / "docker" / CID
    usage = tmp_path / "cgroup" / "cpuacct" / "docker" / CID / "cpuacct.usage_percpu"
    files = ContainerFiles()
    files.sweeps = 1  # just after a refresh
    first = reader.read(paths, 1.0, 1.0, files)  # type: ignore[arg-type]
    full = files.reads
    (mem_dir / "memory.stat").write_text("pgfault 10\ntotal_inactive_file 900\n")  # aged, no CPU
    before = files.reads
    idle = reader.read(paths, 2.0, 2.0, files)  # type: ignore[arg-type]
    assert files.reads - before == 2 < full, "memory and CPU usage only (no process: no network file)"
    assert (idle.time, idle.monotonic) == (2.0, 2.0)
    assert replace(idle, time=1.0, monotonic=1.0) == first
    usage.write_text("1000000001 2000000000 0\n")
    moved = reader.read(paths, 3.0, 3.0, files)  # type: ignore[arg-type]
    assert moved.cpu_usage_seconds == 3.000000001 and moved.memory_inactive_file_bytes == 900
    (mem_dir / "memory.stat").write_text("pgfault 10\ntotal_inactive_file 1000\n")
    seen = [reader.read(paths, float(t), float(t), files).memory_inactive_file_bytes  # type: ignore[arg-type]
            for t in range(4, 4 + REFRESH_EVERY)]
    assert seen[0] == 900 and seen[-1] == 1000, "lags at most until the slow refresh"


def test_v2_idle_container_is_read_in_two_files_and_a_gone_one_is_still_gone(tmp_path: Path) -> None:
    root, proc = v2_host(tmp_path, f"docker/{CID}")
    reader = CgroupReader(root, 2, proc)
    paths = reader.locate(cgroup_location(CID, "", "cgroupfs", 2))
    d = Path(root) / "docker" / CID
    files = ContainerFiles()
    files.sweeps = 1
    first = reader.read(paths, 1.0, 1.0, files)
    before = files.reads
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 8\noom 2\noom_kill 1\n")
    idle = reader.read(paths, 2.0, 2.0, files)
    assert files.reads - before == 2
    assert replace(idle, time=1.0, monotonic=1.0) == first
    (d / "cpu.stat").write_text(V2_FILES["cpu.stat"].replace("usage_usec 2500000", "usage_usec 2500001"))
    assert reader.read(paths, 3.0, 3.0, files).memory_failcnt == 8
    for name in list(V2_FILES):
        (d / name).unlink()
    d.rmdir()
    files.close()  # a removed cgroup's kept descriptors read ENODEV, and are dropped: here they are closed
    with pytest.raises(ContainerGone):
        reader.read(paths, 4.0, 4.0, files)
    with pytest.raises(ContainerGone):
        reader.read(paths, 5.0, 5.0, files)
