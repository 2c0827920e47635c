"""The whole /metrics exposition for a fixed snapshot, against a saved file, promtool and the parsers.

Regenerate the golden file after a deliberate change:
``OBSERVE_UPDATE_GOLDEN=1 pytest tests/exporters/test_exposition.py``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from exporters.cadvisor import VersionInfo
from exporters.prometheus import Exposition, ScrapeInput, label_columns
from exporters.specs import ALL_SPECS
from observe.engine.inspect import from_inspect
from observe.stats import ContainerStats, DeviceIO, InterfaceCounters, Pressure, Sample, SamplerHealth, StatsSnapshot
from observe.stats.host import FsUsage, MachineInfo
from observe.stats.local import root_container
from observe.telemetry import LogCountersSnapshot, SinkStatus
from tests.support.promtool import promtool_problems

GOLDEN = Path(__file__).parent / "golden" / "exposition.prom"
BAD = 'say "hi"\\back\nslash \u2013 ünïcødé ☃'
INFO_V1 = {"CgroupDriver": "cgroupfs", "CgroupVersion": "1"}
INFO_V2 = {"CgroupDriver": "systemd", "CgroupVersion": "2"}


def doc(cid: str, name: str, state: str, **host: Any) -> dict[str, Any]:
    return {
        "Id": cid * 64, "Name": "/" + name, "Created": "2024-05-01T10:00:00.123456789Z", "RestartCount": 2,
        "Config": {"Image": "registry.local:5000/web:1.2", "Labels": {
            "com.docker.compose.project": "shop", "com.docker.compose.service": "web",
            "app.kubernetes.io/name": BAD, "secret.token": "do-not-export"}},
        "State": {"Status": state, "Running": state == "running", "Pid": 0,
                  "ExitCode": 0 if state == "running" else 137,
                  "OOMKilled": state != "running", "StartedAt": "2024-05-01T10:00:01Z",
                  "Health": {"Status": "healthy"} if name == "web-1" else {}},
        "HostConfig": host,
    }


def fixture_input(with_core_parts: bool = True) -> ScrapeInput:
    web = from_inspect(doc("a", "web-1", "running", NanoCpus=500_000_000, Memory=67108864), INFO_V1)
    db = from_inspect(doc("b", "db", "running"), INFO_V2)
    old = from_inspect(doc("c", "old", "exited"), INFO_V1)
    web_sample = Sample(
        1714557600.5, 50.0, cpu_usage_seconds=12.5, cpu_user_seconds=10.0, cpu_system_seconds=2.5,
        cpu_cfs_periods=100, cpu_cfs_throttled_periods=40, cpu_cfs_throttled_seconds=3.25,
        memory_usage_bytes=50_000_000, memory_working_set_bytes=40_000_000, memory_rss_bytes=30_000_000,
        memory_cache_bytes=10_000_000, memory_swap_bytes=0, memory_mapped_file_bytes=1_000_000,
        memory_max_usage_bytes=60_000_000, memory_failcnt=4, oom_events=1, processes=3, threads=7, threads_max=0,
        spec_memory_limit_bytes=67108864, spec_cpu_quota_us=50000, spec_cpu_period_us=100000, spec_cpu_shares=1024,
        network=(InterfaceCounters("eth0", 1000, 10, 0, 1, 2000, 20, 0, 0),),
        block_io=(DeviceIO("/dev/sda", 4096, 8192, 1, 2, 8, 0, read_seconds=0.25, write_seconds=0.5, reads_merged=3,
                           writes_merged=4, io_current=1, io_time_seconds=1.5, io_weighted_seconds=2.5,
                           bytes_by_op=(("Read", 4096), ("Write", 8192), ("Total", 12288))),),
        cpu_percpu_seconds=(12.0, 0.5, 0.0), cpu_cfs_burst_periods=2, cpu_cfs_burst_seconds=0.125,
        memory_kernel_bytes=500_000, memory_active_file_bytes=6_000_000, memory_inactive_file_bytes=4_000_000,
        memory_dirty_bytes=4096, memory_writeback_bytes=0, memory_pgfault=1000, memory_pgmajfault=10,
        memory_hierarchy_pgfault=1200, memory_hierarchy_pgmajfault=12, spec_memory_reservation_bytes=33554432,
        spec_memory_swap_limit_bytes=134217728,
    )
    # A v2 host without quota and without swap accounting: no CFS series, no swap series.
    db_sample = Sample(1714557600.5, 50.0, cpu_usage_seconds=1.0, memory_usage_bytes=1000,
                       memory_working_set_bytes=900, spec_memory_limit_bytes=0, spec_cpu_quota_us=0,
                       spec_cpu_period_us=100000, spec_cpu_shares=998, network=(), block_io=None,
                       memory_pgscan=7, memory_pgsteal=5, memory_refaults=(("anon", 1), ("file", 2)),
                       memory_events=(("low", 0), ("high", 0), ("max", 3), ("oom", 1), ("oom_kill", 1)),
                       pressure=(Pressure("cpu", 1.5, 0.5), Pressure("memory", 0.25, 0.125),
                                 Pressure("io", 2.0, 1.0)))
    fs = (FsUsage("/dev/vda1", 8192, 100 * 2**30, 1000, 2000),)
    tasks = (("sleeping", 2), ("running", 1), ("stopped", 0), ("uninterruptible", 0), ("iowaiting", 0))
    root_sample = Sample(1714557600.5, 50.0, cpu_usage_seconds=5000.0, memory_usage_bytes=8 * 2**30,
                         memory_working_set_bytes=6 * 2**30,
                         network=(InterfaceCounters("eth0", 9, 1, 0, 0, 8, 1, 0, 0),))
    root = ContainerStats(root_container(2, "systemd", None), root_sample, (root_sample,),
                          (FsUsage("/dev/vda1", 50 * 2**30, 100 * 2**30, 1000, 2000),))
    machine = MachineInfo(4, 2, 1, 16 * 2**30, 2**30, "boot-1", "machine-1", "")
    stats = {web.id: ContainerStats(web, web_sample, (web_sample,), fs, tasks),
             db.id: ContainerStats(db, db_sample, (db_sample,))}
    health = SamplerHealth("cgroup", 1.0, True, 42, 3, 0.0042, 1714557600.25, "stats of x: broken", 1)
    snap = StatsSnapshot(1714557600.6, (db, old, web), MappingProxyType(stats), health, root, machine)
    version = VersionInfo("1.2.3", {"docker_version": "27.0.1", "kernel_version": "6.1.0", "os_version": "Debian"})
    if not with_core_parts:
        return ScrapeInput(snap, version=version)
    counters = LogCountersSnapshot(
        lines={(web.id, "error", "stderr"): 5, (web.id, "info", "stdout"): 100, ("f" * 64, "info", "stdout"): 9},
        bytes={(web.id, "error", "stderr"): 500, (web.id, "info", "stdout"): 8000},
        flags={(web.id, "truncated"): 2},
    )
    sinks = [SinkStatus("tcp", "tcp://127.0.0.1:5000", written=10, confirmed=8, unconfirmed=2, resent=4, failed=1,
                        retried=2, disconnects=1, truncated=1, dropped={"sink_closed": 5}, queue_depth=3,
                        queue_capacity=1000, connected=True, last_success=1714557599.0),
             SinkStatus("file", "file:///var/log/o.json")]
    return ScrapeInput(snap, counters, sinks, version)


def exposition(data: ScrapeInput, allow: tuple[str, ...] = ("com.docker.compose.service", "app.kubernetes.io/name"),
               openmetrics: bool = False) -> str:
    built = Exposition(lambda: data, allow, timer=iter([10.0, 10.5]).__next__)
    return built.body(openmetrics=openmetrics).decode("utf-8")


def test_golden_exposition() -> None:
    text = exposition(fixture_input())
    if os.environ.get("OBSERVE_UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_conventions() -> None:
    fams = {f.name: f for f in text_string_to_metric_families(exposition(fixture_input()))}
    cpu = fams["container_cpu_usage_seconds"]
    assert cpu.type == "counter"
    # per-CPU where the host gives it (idle CPUs left out, as cAdvisor), else cpu="total"
    assert {s.labels["cpu"]: s.value for s in cpu.samples if s.labels.get("name", "") == "web-1"} == {
        "cpu00": 12.0, "cpu01": 0.5}
    web = next(s for s in cpu.samples if s.labels.get("name", "") == "web-1")
    assert web.labels["id"] == "/docker/" + "a" * 64
    assert web.labels["image"] == "registry.local:5000/web:1.2"
    assert web.labels["container_label_com_docker_compose_service"] == "web"
    assert not any(k.startswith("container_label_secret") for k in web.labels)  # not allowlisted
    db = next(s for s in cpu.samples if s.labels.get("name", "") == "db")
    assert db.labels["cpu"] == "total"
    assert db.labels["id"] == "/system.slice/docker-" + "b" * 64 + ".scope"
    # CFS only with a quota; swap absent where unknown; nothing for stopped containers
    assert {s.labels.get("name", "") for s in fams["container_cpu_cfs_throttled_periods"].samples} == {"web-1"}
    assert {s.labels.get("name", "") for s in fams["container_memory_swap"].samples} == {"web-1"}
    assert {s.labels.get("name", "") for s in fams["container_spec_cpu_quota"].samples} == {"web-1"}
    assert [s.value for s in fams["container_spec_cpu_quota"].samples] == [50000.0]
    assert all(s.labels.get("name", "") != "old" for s in fams["container_memory_usage_bytes"].samples)
    assert fams["container_network_receive_bytes"].samples[0].labels["interface"] == "eth0"
    assert fams["container_fs_writes_bytes"].samples[0].labels["device"] == "/dev/sda"
    text = exposition(fixture_input())
    assert "# TYPE container_memory_failcnt counter\ncontainer_memory_failcnt{" in text
    # the root cgroup, the machine and the version, as cAdvisor gives them with --docker_only
    root = [s for s in fams["container_memory_usage_bytes"].samples if s.labels["id"] == "/"]
    assert [(r.labels.get("name", ""), r.labels.get("image", ""), r.value) for r in root] == [("", "", 8.0 * 2**30)]
    assert [s.labels["id"] for s in fams["container_fs_usage_bytes"].samples] == ["/", "/docker/" + "a" * 64]
    assert fams["machine_memory_bytes"].samples[0].value == 16 * 2**30
    assert fams["machine_cpu_cores"].samples[0].labels["boot_id"] == "boot-1"
    assert fams["cadvisor_version_info"].samples[0].labels["dockerVersion"] == "27.0.1"
    assert fams["observe_version_info"].samples[0].labels["version"] == "1.2.3"
    assert [s.value for s in fams["container_scrape_error"].samples] == [1.0]
    limits = {f: [s.value for s in fams[f].samples] for f in
              ("container_spec_memory_reservation_limit_bytes", "container_spec_memory_swap_limit_bytes")}
    assert limits == {"container_spec_memory_reservation_limit_bytes": [0, 0, 33554432],  # root, db, web-1
                      "container_spec_memory_swap_limit_bytes": [0, 0, 134217728]}
    failures = {(s.labels["failure_type"], s.labels["scope"]): s.value
                for s in fams["container_memory_failures"].samples}
    assert failures == {("pgfault", "container"): 1000, ("pgmajfault", "container"): 10,
                        ("pgfault", "hierarchy"): 1200, ("pgmajfault", "hierarchy"): 12}
    usage = {s.labels["operation"]: s.value for s in fams["container_blkio_device_usage"].samples}
    assert usage == {"Read": 4096, "Write": 8192, "Total": 12288}
    assert {s.labels["state"]: s.value for s in fams["container_tasks_state"].samples}["sleeping"] == 2
    psi = {f: s.value for f in ("container_pressure_memory_stalled_seconds", "container_pressure_cpu_stalled_seconds")
           for s in fams.get(f, type("F", (), {"samples": []})).samples}
    assert psi == {"container_pressure_memory_stalled_seconds": 0.125, "container_pressure_cpu_stalled_seconds": 0.5}
    health = {s.labels.get("name", ""): s.value for s in fams["container_health_state"].samples}
    assert health == {"web-1": 1.0, "db": -1.0}
    # observe_ metrics: every selected container, exit code only for stopped ones, log counters of known ones
    info = {s.labels.get("name", ""): s.labels for s in fams["observe_container_info"].samples}
    assert info["old"]["state"] == "exited" and info["web-1"]["service"] == "shop/web"
    assert {s.labels.get("name", ""): s.value for s in fams["observe_container_exit_code"].samples} == {"old": 137.0}
    assert {s.labels.get("name", ""): s.value for s in fams["observe_container_restarts"].samples} == {
        "web-1": 2.0, "db": 2.0, "old": 2.0}
    lines = {(s.labels.get("name", ""), s.labels["level"]): s.value for s in fams["observe_log_lines"].samples}
    assert lines == {("web-1", "error"): 5.0, ("web-1", "info"): 100.0}
    assert [s.value for s in fams["observe_sampler_errors"].samples] == [3.0]
    assert [s.value for s in fams["observe_exporter_scrape_duration_seconds"].samples] == [0.5]
    assert len(fams["observe_sink_last_success_timestamp_seconds"].samples) == 1


def test_every_spec_row_is_exposed_and_unique() -> None:
    names = [s.name for s in ALL_SPECS]
    assert len(names) == len(set(names))
    text = exposition(fixture_input())
    for spec in ALL_SPECS:
        assert f"\n{spec.name}" in text or text.startswith(spec.name) or f"\n{spec.name}{{" in text, spec.name


def test_without_log_path_those_families_are_absent() -> None:
    text = exposition(fixture_input(with_core_parts=False))
    assert "observe_log_" not in text and "observe_sink_" not in text
    assert "container_cpu_usage_seconds_total{" in text


def test_bad_label_values_are_escaped() -> None:
    text = exposition(fixture_input())
    escaped = 'container_label_app_kubernetes_io_name="say \\"hi\\"\\\\back\\nslash \u2013 ünïcødé ☃"'
    assert escaped in text
    assert "\nslash" not in text  # no raw newline inside a label value
    parsed = list(text_string_to_metric_families(text))
    values = {s.labels.get("container_label_app_kubernetes_io_name") for f in parsed for s in f.samples}
    assert BAD in values
    om = exposition(fixture_input(), openmetrics=True)
    om_values = {s.labels.get("container_label_app_kubernetes_io_name") for f in parse_openmetrics(om)
                 for s in f.samples}
    assert BAD in om_values


def test_label_allowlist_sanitising() -> None:
    assert label_columns(["a.b", "a-b", "id", "x/y"]) == (
        ("container_label_a_b", "a.b"), ("container_label_id", "id"), ("container_label_x_y", "x/y"))


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_reports_nothing() -> None:
    for text in (exposition(fixture_input()), exposition(fixture_input(with_core_parts=False), allow=())):
        report = promtool_problems(text)
        assert not report, report


def test_vanished_container_disappears() -> None:
    data = fixture_input()
    web = next(c for c in data.snapshot.containers if c.name == "web-1")
    source = [data]
    built = Exposition(lambda: source[0], ())
    assert 'name="web-1"' in built.body(snapshot=data.snapshot).decode()
    snap = data.snapshot
    data2 = ScrapeInput(StatsSnapshot(snap.time, tuple(c for c in snap.containers if c.id != web.id),
                                      {k: v for k, v in snap.stats.items() if k != web.id}, snap.health),
                        data.log_counters, data.sinks)
    source[0] = data2
    assert 'name="web-1"' not in built.body(snapshot=data2.snapshot).decode()
