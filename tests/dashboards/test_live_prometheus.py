"""Every panel query, variable and rule against a real Prometheus scraping a real ``observe run`` over test containers.

The containers give every panel something to show: two replicas of one compose service that burn
CPU under a limit, write to disk, log at several levels (plus an over-long and an invalid UTF-8
line) and carry an autoscaling policy (one on the host network, so it has interfaces); a
container the engine keeps restarting, one that exited, one whose health check fails, and one
OOM killed. Prometheus (Debian's package) scrapes every second and evaluates our rules.

A panel query must return data when every metric it reads has series in Prometheus; a query
whose metrics are absent in this run (none, unless the collector or autoscaling failed to
start) is reported, not failed. Queries run twice: every variable at "All", and the templated
dashboards narrowed to one real service and container.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dashboards import DASHBOARD_FILES
from tests.conftest import Containers
from tests.dashboards.queries import (
    RULES,
    Query,
    dashboard_queries,
    load,
    metric_names,
    rule_files,
    rules,
    substitute,
    variable_queries,
)
from tests.support.nethelpers import free_port
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.engine,
              pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus is not installed")]
SECOND = 1_000_000_000
WORKLOAD = (
    "printf 'INFO start %01200d\\n' 0; printf 'bad \\377\\376 bytes\\n'; i=0; while :; do i=$((i+1)); "
    "echo \"INFO served request $i\"; echo \"WARN slow request $i\"; echo \"ERROR request $i failed\" >&2; "
    "echo '{\"level\":\"debug\",\"msg\":\"tick\"}'; dd if=/dev/zero of=/tmp/f bs=64k count=8 oflag=direct "
    "2>/dev/null; j=0; while [ $j -lt 3000 ]; do j=$((j+1)); done; done"
)
OOM = "x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done"


def regex_value(value: str) -> str:
    """A value as Grafana puts it into a ``=~"..."`` matcher: regex-escaped, the backslashes escaped for PromQL."""
    return re.escape(value).replace("\\", "\\\\")




def get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        body = json.loads(err.read())
        err.close()
        return body
    except OSError:
        return None


@dataclass
class Prom:
    port: int

    def query(self, expr: str) -> dict[str, Any]:
        """An instant query; the whole API answer (``status``, ``data`` or ``error``)."""
        answer = get(f"http://127.0.0.1:{self.port}/api/v1/query?query={urllib.parse.quote(expr)}")
        assert answer is not None, "Prometheus does not answer"
        return dict(answer)

    def series(self, expr: str) -> list[dict[str, Any]]:
        answer = self.query(expr)
        assert answer["status"] == "success", (expr, answer.get("error"))
        return list(answer["data"]["result"])

    def label_values(self, label: str, selector: str) -> list[str]:
        answer = get(f"http://127.0.0.1:{self.port}/api/v1/label/{label}/values?"
                     f"match[]={urllib.parse.quote(selector)}&start={time.time() - 300}")
        assert answer is not None and answer["status"] == "success", (label, selector, answer)
        return list(answer["data"])


@dataclass
class Setup:
    prom: Prom
    values: dict[str, str]
    mode: str
    names: dict[str, str]
    service: str
    host_lacks: dict[str, str]


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_observe(containers: Containers, tmp: Path, port: int) -> tuple[subprocess.Popen[bytes], str]:
    """``observe run`` (logs + exporter + autoscaling); ``observe exporter`` when run does not come up."""
    common = ["--name", containers.name("*"), "--listen", f"127.0.0.1:{port}", "--interval", "1s",
              "--label-allowlist", "observe.test.case"]
    run = ["run", "--sink", f"file://{tmp}/records.ndjson", "--state-dir", str(tmp / "state"),
           "--max-line-bytes", "1024", "--read-from-head", "true", "--autoscale-readiness-delay", "0s",
           "--autoscale-window", "10s"]
    for mode, args in (("run", run), ("exporter", ["exporter"])):
        log = open(tmp / f"observe-{mode}.log", "wb")  # noqa: SIM115 - closed when the process is stopped
        proc = subprocess.Popen([sys.executable, "-m", "observe", *args, *common], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        up = wait_for(lambda p=proc: p.poll() is not None or _serves(port),  # type: ignore[misc]
                      f"observe {mode} to serve /metrics", timeout=30)
        if up and proc.poll() is None:
            return proc, mode
        stop(proc)
    raise AssertionError(f"neither observe run nor observe exporter came up: {(tmp / 'observe-run.log').read_text()}")


def _serves(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            return b"observe_container_info" in resp.read()
    except OSError:
        return False


@pytest.fixture
def live(containers: Containers, tmp_path: Path) -> Iterator[Setup]:
    project = f"obs{containers.test_id}"
    compose = {"com.docker.compose.project": project, "com.docker.compose.service": "app",
               "observe.autoscale.cpu": "50", "observe.autoscale.min": "1", "observe.autoscale.max": "4"}
    limits: dict[str, Any] = {"nano_cpus": SECOND // 5, "mem_limit": "64m"}
    app = containers.run("app-1", WORKLOAD, labels={**compose, "com.docker.compose.container-number": "1"},
                   network_mode="host", **limits)
    containers.run("app-2", WORKLOAD, labels={**compose, "com.docker.compose.container-number": "2"}, **limits)
    containers.run("restarting", "sleep 2; exit 3", restart_policy={"Name": "always"})
    containers.run("exited", "echo bye; exit 3")
    containers.run("unhealthy", "sleep 600", healthcheck={"test": ["CMD", "false"], "interval": SECOND,
                                                          "timeout": SECOND, "retries": 1, "start_period": 0})
    containers.run("oom", OOM, mem_limit="16m", memswap_limit="16m")
    observe_port, prom_port = free_port(), free_port()
    observe, mode = start_observe(containers, tmp_path, observe_port)
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files: [{', '.join(json.dumps(str(p)) for p in rule_files())}]\n"
        "scrape_configs:\n  - job_name: observe\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{observe_port}']\n")
    log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 - closed when the process is stopped
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        prom = Prom(prom_port)
        instance = f"127.0.0.1:{observe_port}"
        sel = f'job="observe", instance="{instance}"'
        service = f"{project}/app"
        names = {k: containers.name(k) for k in ("app-1", "app-2", "restarting", "exited", "unhealthy", "oom")}

        def has(expr: str) -> bool:
            answer = get(f"http://127.0.0.1:{prom_port}/api/v1/query?query={urllib.parse.quote(expr)}")
            return bool(answer and answer.get("status") == "success" and answer["data"]["result"])

        # 20 s of scrapes (rates over 10 s windows need more than the window), and each condition seen
        wait_for(lambda: has(f"count_over_time(observe_sampler_up{{{sel}}}[30s]) >= 20"),
                 "Prometheus to hold 20 scrapes of observe", timeout=90, interval=1)
        wait_for(lambda: has(f'observe_container_info{{{sel}, name="{names["unhealthy"]}", health="unhealthy"}}'),
                 "the unhealthy container in Prometheus", timeout=60, interval=1)
        wait_for(lambda: has(f'observe_container_oom_killed{{{sel}, name="{names["oom"]}"}} == 1'),
                 "the OOM-killed container in Prometheus", timeout=60, interval=1)
        wait_for(lambda: has(f'observe_container_restarts_total{{{sel}, name="{names["restarting"]}"}} >= 2'),
                 "two restarts of the restarting container", timeout=60, interval=1)
        wait_for(lambda: has(f'rate(container_cpu_cfs_throttled_periods_total{{{sel}}}[10s]) > 0'),
                 "throttling of the CPU-limited replicas", timeout=60, interval=1)
        if mode == "run":
            for kind in ("truncated", "invalid_utf8"):
                wait_for(lambda k=kind: has(f'observe_log_events_total{{{sel}, kind="{k}"}}'),  # type: ignore[misc]
                         f"a log line counted {kind}", timeout=60, interval=1)
        yield Setup(prom, {"job": "observe", "instance": regex_value(instance), "datasource": "x"}, mode, names,
                    service, host_lacks(app.id))
    finally:
        stop(prometheus)
        stop(observe)


def host_lacks(container_id: str) -> dict[str, str]:
    """Metrics this host cannot give, and why: some VMs' blkio cgroup counts no I/O at all (cgroup v1)."""
    blkio = Path(f"/sys/fs/cgroup/blkio/docker/{container_id}/blkio.throttle.io_service_bytes")
    if blkio.is_file() and blkio.read_text().strip().endswith("Total 0"):
        return {"container_fs_": f"{blkio} counts no I/O although the container writes with O_DIRECT"}
    return {}


def evaluate(prom: Prom, queries: list[tuple[Query, str]]) -> tuple[list[str], list[str], dict[str, set[str]]]:
    """(queries with data, queries without data whose metrics all exist, queries whose metrics are absent)."""
    present: dict[str, bool] = {}
    with_data, missing, absent = [], [], {}
    for q, expr in queries:
        answer = prom.query(expr)
        assert answer["status"] == "success", (q.key, expr, answer.get("error"))
        names = metric_names(expr)
        for n in names - set(present):
            present[n] = bool(prom.series(f'count({{__name__="{n}", job="observe"}})'))
        gone = {n for n in names if not present[n]}
        if answer["data"]["result"]:
            with_data.append(q.key)
        elif gone:
            absent[q.key] = gone
        else:
            missing.append(f"{q.key}: {expr}")
    return with_data, missing, absent


def check_panels(live: Setup) -> None:
    prom = live.prom
    everything = {**live.values, "service": ".+", "container": ".+"}
    one = {**live.values, "service": regex_value(live.service), "container": regex_value(live.names["app-1"])}
    runs: list[tuple[Query, str]] = []
    for file in DASHBOARD_FILES:
        for q in dashboard_queries(load(file), file):
            runs.append((q, substitute(q.expr, everything, rate_interval="10s", range_="30s")))
            if file != "host-overview.json":
                narrowed = Query(q.file + "[one]", q.panel, q.ref, q.expr)
                runs.append((narrowed, substitute(q.expr, one, rate_interval="10s", range_="30s")))
    with_data, missing, absent = evaluate(prom, runs)
    report = [f"mode: observe {live.mode}", f"{len(with_data)} of {len(runs)} queries returned data"]
    report += [f"no data, metrics absent in this run: {k} ({', '.join(sorted(v))})" for k, v in absent.items()]
    report += [f"host cannot give {prefix}*: {why}" for prefix, why in live.host_lacks.items()]
    print("\n".join(report))
    assert missing == [], "queries without data although their metrics exist:\n" + "\n".join(missing)
    allowed = tuple(live.host_lacks)
    absent = {k: v for k, v in absent.items() if not all(n.startswith(allowed) for n in v)} if allowed else absent
    if live.mode == "run":
        assert absent == {}, report
    else:  # only the log-path and autoscaling panels may lack data without the collector
        assert all(n.startswith(("observe_log_", "observe_sink_", "observe_autoscale_"))
                   for names in absent.values() for n in names), report

    # a deliberate typo: the same query, its metric misspelt, returns nothing and is caught
    q, expr = next(r for r in runs if "container_cpu_usage_seconds_total" in r[1])
    broken = expr.replace("container_cpu_usage_seconds_total", "container_cpu_usage_second_total")
    _, missing_typo, absent_typo = evaluate(prom, [(q, broken)])
    assert missing_typo == [] and absent_typo == {q.key: {"container_cpu_usage_second_total"}}


def check_variables(live: Setup) -> None:
    prom = live.prom
    for file in DASHBOARD_FILES:
        variables = variable_queries(load(file))
        values = {"job": "observe", "instance": live.values["instance"], "service": ".+"}
        found = {name: prom.label_values(label, substitute(selector, values))
                 for name, (selector, label) in variables.items()}
        assert "observe" in found["job"], file
        assert [v for v in found["instance"] if regex_value(v) == live.values["instance"]], (file, found)
        if file == "autoscaling.json":
            if live.mode == "run":
                assert live.service in found["service"], (file, found)
            continue
        assert live.service in found["service"], (file, found)
        if "container" in found:
            assert set(live.names.values()) <= set(found["container"]), (file, found)


def check_rules(live: Setup) -> None:
    prom = live.prom
    expected = {r.get("alert") or r.get("record") for path in rule_files() for r in rules(path)}

    def loaded() -> list[dict[str, Any]] | None:
        answer = get(f"http://127.0.0.1:{prom.port}/api/v1/rules")
        groups = answer["data"]["groups"] if answer and answer.get("status") == "success" else []
        found = [r for g in groups for r in g["rules"] if r.get("lastEvaluation", "").startswith("2")]
        return found if {r["name"] for r in found} >= expected else None

    evaluated = wait_for(loaded, "every rule evaluated once", timeout=30, interval=1)
    assert [(r["name"], r.get("lastError")) for r in evaluated if r["health"] != "ok"] == []
    recorded = [r["record"] for path in rule_files() for r in rules(path) if "record" in r]
    empty = [name for name in recorded if not prom.series(f'{name}{{job="observe"}}')]
    if live.mode != "run":
        empty = [n for n in empty if "log" not in n]
    assert empty == [], f"recording rules without data: {empty}"
    assert RULES.is_dir()
    # the unhealthy and OOM-killed containers are already pending (or firing) alerts
    alerts = {(a["metric"]["alertname"], a["metric"].get("name")) for a in prom.series("ALERTS")}
    assert ("ContainerUnhealthy", live.names["unhealthy"]) in alerts
    assert ("ContainerOOMKilled", live.names["oom"]) in alerts


def test_dashboards_and_rules_against_a_real_prometheus(live: Setup) -> None:
    """One Prometheus run for three checks: every panel query returns data (and a typo does not), every
    variable lists the real values, every rule evaluates without error and every recording rule has data."""
    check_panels(live)
    check_variables(live)
    check_rules(live)
