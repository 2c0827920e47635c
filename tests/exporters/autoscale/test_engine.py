"""The evaluation loop on fixture snapshots, its outputs (gauges, JSON), the hooks, the actuator's plans and the
replica spec built from an inspect document. No engine: the core is a small fake with a fixed clock."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporters.autoscale.actuator import plan_scale
from exporters.autoscale.decision import Limit
from exporters.autoscale.engine import AutoscaleEngine, AutoscaleOptions
from exporters.autoscale.hooks import Hooks
from exporters.autoscale.policy_sources import policy_from_labels
from exporters.autoscale.readings import counter_window, metric_value, reading_for
from exporters.autoscale.report import autoscale_document, gjson_escape
from exporters.exposition import render
from exporters.prometheus import decision_section
from exporters.specs import AUTOSCALE
from observe.engine.compose import ScalingError, replica_spec, stop_timeout
from observe.engine.inspect import from_inspect
from observe.model import ContainerInfo
from observe.stats import ContainerStats, InterfaceCounters, Sample, StatsSnapshot
from observe.telemetry import LogCounters
from tests.support.waiting import wait_for

INFO = {"CgroupDriver": "cgroupfs", "CgroupVersion": "1"}
T0 = 1_714_557_600.0  # wall clock of the fixture world; the container started 100 s earlier


def inspect_doc(n: int, state: str = "running", labels: dict[str, str] | None = None, project: str = "shop",
                service: str = "web", nano_cpus: int = 500_000_000, health: str = "") -> dict[str, Any]:
    all_labels = {"com.docker.compose.project": project, "com.docker.compose.service": service,
                  "com.docker.compose.container-number": str(n), **(labels or {})}
    cid = f"{'a' if service == 'web' else 'b'}{n}".ljust(64, "0")
    return {
        "Id": cid, "Name": f"/{project}-{service}-{n}",
        "Created": "2024-05-01T09:58:00Z",
        "Config": {"Image": "shop/web:1", "Cmd": ["serve"], "Env": ["A=1"], "Labels": all_labels,
                   "Hostname": "a1b2c3d4e5f6", "StopTimeout": 3},
        "State": {"Status": state, "Running": state == "running", "Pid": 10, "StartedAt": "2024-05-01T09:58:20Z",
                  "Health": {"Status": health} if health else None},
        "HostConfig": {"NanoCpus": nano_cpus, "Memory": 100_000_000, "NetworkMode": "shop_default",
                       "RestartPolicy": {"Name": "always"}, "ContainerIDFile": "/tmp/x",
                       "Binds": ["/data:/data:ro"]},
        "NetworkSettings": {"Networks": {
            "shop_default": {"Aliases": ["web", cid[:12]], "IPAMConfig": None},
            "shop_back": {"Aliases": ["web-back"], "IPAMConfig": {"IPv4Address": "10.0.0.9"}}}},
    }


def info(n: int, **kwargs: Any) -> ContainerInfo:
    return from_inspect(inspect_doc(n, **kwargs), INFO)


def samples(cpu_per_second: float, count: int = 6, step: float = 1.0, network_rx: int = 0) -> list[Sample]:
    return [Sample(T0 - (count - 1 - i) * step, 1000.0 + i * step, cpu_usage_seconds=10 + i * step * cpu_per_second,
                   memory_working_set_bytes=25_000_000, spec_memory_limit_bytes=100_000_000,
                   network=(InterfaceCounters("eth0", network_rx * i, 0, 0, 0, 0, 0, 0, 0),))
            for i in range(count)]


def stats_of(c: ContainerInfo, history: list[Sample]) -> ContainerStats:
    return ContainerStats(c, history[-1], tuple(history))


@dataclass
class FakeSampler:
    snap: StatsSnapshot

    def snapshot(self) -> StatsSnapshot:
        return self.snap


@dataclass
class FakeConfig:
    interval: float = 1.0
    autoscale_interval: float = 0.0
    autoscale_window: float = 5.0
    autoscale_readiness_delay: float = 0.0
    autoscale_apply: bool = False
    autoscale_webhook: str = ""
    autoscale_command: str = ""
    config_file: str = ""


@dataclass
class FakeCore:
    sampler: FakeSampler
    config: FakeConfig = field(default_factory=FakeConfig)
    log_counters: LogCounters = field(default_factory=LogCounters)
    collecting: bool = False
    created: list[tuple[str, int]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def create_replica_like(self, container_id: str, number: int) -> str:
        self.created.append((container_id, number))
        return f"new{number}"

    def remove_replica(self, container_id: str, timeout: float | None = None) -> None:
        self.removed.append(container_id)


def world(cpu: float, policy: dict[str, str], replicas: int = 2, **kwargs: Any) -> FakeCore:
    """``replicas`` compose replicas of shop/web with 0.5 CPU each, burning ``cpu`` cores."""
    labels = {f"observe.autoscale.{k}": v for k, v in policy.items()}
    cs = [info(n, labels=labels, **kwargs) for n in range(1, replicas + 1)]
    snap = StatsSnapshot(T0, tuple(cs), {c.id: stats_of(c, samples(cpu)) for c in cs})
    return FakeCore(FakeSampler(snap))


def make_engine(core: FakeCore, **options: Any) -> AutoscaleEngine:
    """An engine whose monotonic clock moves 1 s per reading and whose wall clock stands at T0."""
    ticks = iter(range(10_000))
    base = AutoscaleOptions.from_config(core.config)
    opts = AutoscaleOptions(**{**{k: getattr(base, k) for k in AutoscaleOptions.__dataclass_fields__}, **options})
    return AutoscaleEngine(core, opts, clock=lambda: T0, monotonic=lambda: float(next(ticks)))


# ---- readings ---------------------------------------------------------------------------------


def test_cpu_window_takes_the_oldest_sample_within_the_window() -> None:
    history = samples(0.25, count=10)
    window = counter_window(history, history[-1], 3.0, lambda s: s.cpu_usage_seconds)
    assert window is not None and window.end_time - window.start_time == 3.0
    assert window.rate() == pytest.approx(0.25)
    assert counter_window(history[-1:], history[-1], 3.0, lambda s: s.cpu_usage_seconds) is None


def test_reading_has_cpu_memory_limits_and_readiness() -> None:
    c = info(1)
    now = c.started_at
    assert now is not None
    r = reading_for(c, stats_of(c, samples(0.25)), None, (), now + timedelta(seconds=40), 5.0, 30.0)
    assert r.cpu_limit_cores == 0.5 and r.cpu_seconds is not None and r.cpu_seconds.rate() == pytest.approx(0.25)
    assert r.working_set_bytes == 25_000_000 and r.memory_limit_bytes == 100_000_000
    assert r.ready and r.started and r.error_lines is None
    young = reading_for(c, stats_of(c, samples(0.25)), None, (), now + timedelta(seconds=10), 5.0, 30.0)
    assert not young.ready and young.started
    sick = info(1, health="unhealthy")
    assert not reading_for(sick, None, None, (), now + timedelta(seconds=40), 5.0, 0.0).ready
    restarting = info(1, state="restarting")
    assert not reading_for(restarting, None, None, (), now, 5.0, 0.0).started


def test_error_rate_from_counter_points() -> None:
    c = info(1)
    points = [(100.0, 10.0), (101.0, 12.0), (102.0, 20.0), (103.0, 30.0)]
    assert c.started_at is not None
    r = reading_for(c, None, points, (), c.started_at, 2.0, 0.0)
    assert r.error_lines is not None and r.error_lines.rate() == pytest.approx(9.0)  # (30 - 12) / 2


def test_named_metrics_gauge_and_counter_rate() -> None:
    c = info(1)
    st = stats_of(c, samples(0.1, network_rx=500))
    assert metric_value("container_network_receive_bytes_per_second", st, 3.0) == pytest.approx(500.0)
    assert metric_value("container_network_receive_bytes_total", st, 3.0) == pytest.approx(500.0)
    assert metric_value("container_memory_working_set_bytes", st, 3.0) == 25_000_000
    assert metric_value("no_such_metric", st, 3.0) is None


# ---- the loop ----------------------------------------------------------------------------------


def test_burning_group_scales_up_with_reason_and_metrics() -> None:
    core = world(0.5, {"cpu": "50", "max": "10"})  # 100 % of a 0.5-core limit against 50 %
    engine = make_engine(core)
    [d] = engine.evaluate()
    assert d.service == "shop/web" and d.current == 2 and d.desired == 4 and d.limited is Limit.NONE
    assert d.reason == "scale up to 4: cpu 100% against a target of 50% asks for 4"
    assert d.time == T0
    assert engine.decision("shop/web") == d


def test_groups_without_policy_are_not_evaluated() -> None:
    core = world(0.5, {})
    assert make_engine(core).evaluate() == []


def test_bad_label_policy_is_logged_once_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    core = world(0.5, {"cpu": "150", "max": "3"})
    engine = make_engine(core)
    with caplog.at_level(logging.WARNING):
        assert engine.evaluate() == [] and engine.evaluate() == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["autoscale policy for shop/web (labels): cpu 150% cannot exceed 100 "
                        "(utilisation is measured against the limit)"]
    assert engine.errors() == warnings


def test_config_file_table_wins_over_labels(tmp_path: Path) -> None:
    path = tmp_path / "observe.toml"
    path.write_text('[autoscale."shop/web"]\nmax = 3\ncpu = 25\n')
    core = world(0.5, {"cpu": "50", "max": "10"})
    core.config.config_file = str(path)
    [d] = make_engine(core, policy_file=str(path)).evaluate()
    assert d.max_replicas == 3 and d.desired == 3 and d.limited is Limit.MAX
    assert d.metric("cpu") is not None and d.metrics[0].target.target == 25


def test_error_rate_needs_the_collector_and_reads_its_counters() -> None:
    core = world(0.0, {"error-rate": "1", "max": "5"})
    engine = make_engine(core)
    [d] = engine.evaluate()
    assert d.limited is Limit.MISSING_METRICS  # no collector: no sample
    core.collecting = True
    ids = [c.id for c in core.sampler.snap.containers]
    for _ in range(4):
        for cid in ids:
            core.log_counters.add_record(cid, "error", "stderr", 10, lines=3)
            core.log_counters.add_record(cid, "info", "stdout", 10, lines=50)
        [d] = engine.evaluate()
    # 3 error lines per second (monotonic clock steps 1 s per round) against 1/s: 2 replicas -> 6
    assert d.metric("error_rate") is not None and d.desired == 5 and d.limited is Limit.MAX, d.reason


def test_dry_run_logs_the_plan_once_and_does_nothing(caplog: pytest.LogCaptureFixture) -> None:
    core = world(0.5, {"cpu": "50", "max": "10"})
    engine = make_engine(core)
    with caplog.at_level(logging.INFO):
        engine.evaluate()
        engine.evaluate()
    dry = [r.getMessage() for r in caplog.records if getattr(r, "event", "") == "AutoscaleDryRun"]
    assert dry == ["dry run: shop/web: scale up from 2 to 4: create 2 replica(s) like shop-web-2 (number 3, 4)"]
    assert core.created == [] and core.removed == []


def test_apply_creates_once_until_the_inventory_catches_up() -> None:
    core = world(0.5, {"cpu": "50", "max": "10"})
    engine = make_engine(core, apply=True)
    engine.evaluate()
    engine.actuator.join()
    assert core.created == [("a2".ljust(64, "0"), 3), ("a2".ljust(64, "0"), 4)]
    assert engine.autoscaler.history("shop/web").events[0].change == 2
    engine.evaluate()  # the snapshot still shows 2 replicas: nothing more is done
    engine.actuator.join()
    assert len(core.created) == 2


def test_hooks_get_each_change(tmp_path: Path) -> None:
    received: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            assert self.headers["Content-Type"] == "application/json"
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    out = tmp_path / "hook.out"
    command = f'{{ cat; echo "$OBSERVE_SERVICE $OBSERVE_DESIRED $OBSERVE_CURRENT"; }} >> {out}'
    try:
        core = world(0.5, {"cpu": "50", "max": "10"})
        engine = make_engine(core, webhook=f"http://127.0.0.1:{httpd.server_address[1]}/scale", command=command)
        engine.evaluate()
        engine.evaluate()  # same desired: no second notice
        core.sampler.snap = world(0.125, {"cpu": "50", "max": "10"}).sampler.snap
        engine.evaluate()  # 25 %: desired 1, but the 300 s window holds it at the current 2 -> a change from 4
        engine.hooks.stop()
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
    assert [(r["service"], r["desired_replicas"], r["current_replicas"]) for r in received] == [
        ("shop/web", 4, 2), ("shop/web", 2, 2)]
    assert received[1]["limited"] == "scale_down_window" and received[0]["reason"].startswith("scale up to 4")
    lines = out.read_text().splitlines()
    assert json.loads(lines[0])["desired_replicas"] == 4 and lines[1] == "shop/web 4 2"
    assert json.loads(lines[2])["desired_replicas"] == 2 and lines[3] == "shop/web 2 2"
    assert engine.hooks.delivered == 2 and engine.hooks.failed == 0


def test_a_failing_webhook_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    hooks = Hooks(webhook="http://127.0.0.1:9/unreachable")
    with caplog.at_level(logging.WARNING):
        assert not hooks.deliver({"service": "s", "desired_replicas": 1, "current_replicas": 1})
    assert any(getattr(r, "event", "") == "AutoscaleWebhookFailed" for r in caplog.records)


# ---- outputs -----------------------------------------------------------------------------------


def test_json_document_shape_for_keda() -> None:
    core = world(0.5, {"cpu": "50", "max": "10"})
    engine = make_engine(core)
    engine.evaluate()
    doc = engine.document()
    entry = doc["services"]["shop/web"]
    assert entry["desired_replicas"] == 4 and entry["current_replicas"] == 2 and entry["reason"]
    assert entry["value_location"] == "services.shop/web.desired_replicas"
    assert doc["items"] == [entry] and doc["errors"] == []
    assert entry["time"] == "2024-05-01T10:00:00Z"
    json.dumps(doc)  # plain JSON all through
    assert gjson_escape("a.b|c*d?e#f@g!h\\i/j") == "a\\.b\\|c\\*d\\?e\\#f\\@g\\!h\\\\i/j"
    assert autoscale_document([], ["bad"], T0)["services"] == {}


def exposition(engine: AutoscaleEngine) -> str:
    return render([decision_section(engine.decisions())]).decode()


def test_gauges_from_decisions() -> None:
    core = world(0.5, {"cpu": "50", "memory": "80", "max": "3"})
    engine = make_engine(core)
    engine.evaluate()
    text = exposition(engine)
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    for spec in AUTOSCALE:
        assert spec.name in fams, spec.name

    def values(name: str) -> dict[tuple[tuple[str, str], ...], float]:
        return {tuple(sorted(s.labels.items())): s.value for s in fams[name].samples}

    assert values("observe_autoscale_current_replicas") == {(("service", "shop/web"),): 2.0}
    assert values("observe_autoscale_desired_replicas") == {(("service", "shop/web"),): 3.0}
    assert values("observe_autoscale_metric_value") == {
        (("metric", "cpu"), ("service", "shop/web")): 100.0, (("metric", "memory"), ("service", "shop/web")): 25.0}
    assert values("observe_autoscale_metric_target")[(("metric", "memory"), ("service", "shop/web"))] == 80.0
    limited = {k[0][1]: v for k, v in values("observe_autoscale_limited").items()}
    assert limited["max"] == 1.0 and sum(limited.values()) == 1.0 and len(limited) == len(Limit)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_gauges() -> None:
    core = world(0.5, {"cpu": "50", "max": "3"})
    engine = make_engine(core)
    engine.evaluate()
    out = subprocess.run(["promtool", "check", "metrics"], input=exposition(engine), capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "" and out.stderr.strip() == "", out.stdout + out.stderr


# ---- the actuator's plans and the replica spec -------------------------------------------------


def test_plan_numbers_after_every_known_container_and_removes_newest_first() -> None:
    policy = policy_from_labels("shop/web", {"observe.autoscale.cpu": "50", "observe.autoscale.max": "6"})
    assert policy is not None
    replicas = [info(1), info(2), info(5)]
    stopped = info(7, state="exited")
    core = world(0.5, {"cpu": "50", "max": "6"}, replicas=3)
    [d] = make_engine(core).evaluate()
    up = plan_scale(d, replicas, [*replicas, stopped], policy)
    assert up.create == ((replicas[2].id, 8), (replicas[2].id, 9), (replicas[2].id, 10)) and up.template == "shop-web-5"
    down = plan_scale(type(d)(**{**{k: getattr(d, k) for k in d.__slots__}, "desired": 1}), replicas, replicas,
                      policy)
    assert [c.name for c in down.remove] == ["shop-web-5", "shop-web-2"]


def test_plan_refuses_other_kinds_and_out_of_range() -> None:
    wide = policy_from_labels("solo", {"observe.autoscale.cpu": "50", "observe.autoscale.max": "10"})
    narrow = policy_from_labels("solo", {"observe.autoscale.cpu": "50", "observe.autoscale.max": "2"})
    assert wide is not None and narrow is not None
    core = world(0.5, {"cpu": "50", "max": "10"})
    [d] = make_engine(core).evaluate()
    plain = from_inspect({**inspect_doc(1), "Config": {"Image": "x", "Labels": {}}}, INFO)
    refused = plan_scale(d, [plain, plain], [plain], wide)
    assert "only compose services" in refused.refused and "(container group)" in refused.refused
    assert "outside min 1 and max 2" in plan_scale(d, [info(1), info(2)], [], narrow).refused


def test_replica_spec_copies_the_configuration_but_not_the_identity() -> None:
    doc = inspect_doc(2, labels={"observe.test": "x"})
    spec = replica_spec(doc, 4)
    assert spec.name == "shop-web-4"
    body = spec.body
    assert body["Image"] == "shop/web:1" and body["Cmd"] == ["serve"] and body["Env"] == ["A=1"]
    assert body["Labels"]["com.docker.compose.container-number"] == "4" and body["Labels"]["observe.test"] == "x"
    assert "Hostname" not in body and body["StopTimeout"] == 3
    assert body["HostConfig"]["NanoCpus"] == 500_000_000 and body["HostConfig"]["Binds"] == ["/data:/data:ro"]
    assert "ContainerIDFile" not in body["HostConfig"]
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"shop_default": {"Aliases": ["web"]}}}
    assert spec.networks == {"shop_back": {"Aliases": ["web-back"]}}  # no fixed address copied
    assert stop_timeout(doc) == 3 and stop_timeout({"Config": {}}) == 10
    with pytest.raises(ScalingError):
        replica_spec({"Config": {"Labels": {}}}, 2)


def test_cli_autoscale_needs_no_prometheus() -> None:
    code = "import sys, observe.cli.exporter; print('prometheus_client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture(autouse=True)
def _no_threads_left() -> Iterator[None]:
    yield
    wait_for(lambda: not [t for t in threading.enumerate() if t.name.startswith("observe-autoscale")],
             "autoscale threads ending", timeout=10)
