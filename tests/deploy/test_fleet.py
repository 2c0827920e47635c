"""Three engine hosts on this machine come together in the engines people already run.

Each host is a dockerd of its own (data root, exec root, socket) running the same compose service, with one
``observe run`` reading it. Each host's Prometheus runs in agent mode, scrapes its observe and remote-writes to
one central Prometheus, labelling its series ``host`` (external label) and ``instance`` (the host's name, the
dashboards' Host variable). Every observe ships its logs over syslog to one central syslog-ng writing JSON lines.

Slow (a minute or two): ``python3 -m pytest -m slow tests/deploy/test_fleet.py``.
"""

from __future__ import annotations

import collections
import contextlib
import json
import shutil
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from tests.conftest import TEST_IMAGE
from tests.dashboards.queries import load, substitute, variable_queries
from tests.deploy.fleet import engine_host, environment, lines_of, process, stop_process
from tests.support.nethelpers import free_port
from tests.support.waiting import wait_for

PROMETHEUS = shutil.which("prometheus")
SYSLOG_NG = shutil.which("syslog-ng")
pytestmark = [
    pytest.mark.slow, pytest.mark.engine,
    pytest.mark.skipif(PROMETHEUS is None or SYSLOG_NG is None, reason="needs prometheus and syslog-ng"),
]
HOSTS = ("host-a", "host-b", "host-c")
SERVICES = ("web", "worker")
LINES = 25
WAIT = 90.0

SYSLOG_NG_CONF = """@version: 3.38
options {{ keep-hostname(yes); }};
source s_fleet {{ syslog(transport("tcp") ip("127.0.0.1") port({port})); }};
parser p_json {{ json-parser(prefix("json.")); }};
destination d_store {{ file("{out}"
    template("$(format-json --key json.* --rekey json.* --shift 5 --pair syslog.host=${{HOST}})\\n")); }};
log {{ source(s_fleet); parser(p_json); destination(d_store); }};
"""


def get(port: int, path: str) -> Any:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=5) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def series(port: int, expr: str) -> list[dict[str, Any]]:
    answer = get(port, "/api/v1/query?query=" + urllib.parse.quote(expr))
    return list(answer["data"]["result"]) if answer and answer.get("status") == "success" else []


def label_values(port: int, label: str, selector: str) -> list[str]:
    answer = get(port, f"/api/v1/label/{label}/values?match[]={urllib.parse.quote(selector)}")
    return list(answer["data"]) if answer and answer.get("status") == "success" else []


def agent_config(host: str, observe_port: int, central_port: int) -> dict[str, Any]:
    """What each host's agent runs: scrape the local observe, name the host, remote-write to the centre."""
    return {
        "global": {"scrape_interval": "1s", "external_labels": {"host": host}},
        "scrape_configs": [{
            "job_name": "observe",
            "static_configs": [{"targets": [f"127.0.0.1:{observe_port}"]}],
            "relabel_configs": [{"target_label": "instance", "replacement": host}],
        }],
        "remote_write": [{"url": f"http://127.0.0.1:{central_port}/api/v1/write",
                          "queue_config": {"batch_send_deadline": "1s"}}],
    }


def workload(host: str, service: str) -> str:
    return (f'i=0; while [ $i -lt {LINES} ]; do i=$((i+1)); echo "{host} {service} line $i"; done; '
            "while :; do sleep 1; done")


def test_three_hosts_metrics_and_logs_meet_in_central_stores(docker_client: docker.DockerClient,
                                                              tmp_path: Path) -> None:
    assert PROMETHEUS and SYSLOG_NG
    image = b"".join(docker_client.images.get(TEST_IMAGE).save(named=True))
    store = tmp_path / "store.ndjson"
    central_port, syslog_port = free_port(), free_port()
    (tmp_path / "central.yml").write_text(yaml.safe_dump({"global": {"scrape_interval": "15s"}}))
    (tmp_path / "syslog-ng.conf").write_text(SYSLOG_NG_CONF.format(port=syslog_port, out=store))

    with contextlib.ExitStack() as stack:
        hosts = [stack.enter_context(engine_host(name, image)) for name in HOSTS]
        stack.enter_context(process(
            [PROMETHEUS, f"--config.file={tmp_path / 'central.yml'}", f"--storage.tsdb.path={tmp_path / 'central'}",
             f"--web.listen-address=127.0.0.1:{central_port}", "--web.enable-remote-write-receiver"],
            tmp_path / "central.log"))
        syslog = stack.enter_context(process(
            [SYSLOG_NG, "-F", "-e", "--no-caps", "-f", str(tmp_path / "syslog-ng.conf"), "-p",
             str(tmp_path / "syslog-ng.pid"), "-R", str(tmp_path / "syslog-ng.persist"), "-c",
             str(tmp_path / "syslog-ng.ctl")], tmp_path / "syslog-ng.log"))
        wait_for(lambda: ready(central_port), "the central Prometheus to be ready", timeout=WAIT)
        wait_for(lambda: b"Accepting connections" in (tmp_path / "syslog-ng.log").read_bytes(),
                 "syslog-ng to accept connections", timeout=WAIT)

        for host in hosts:
            for service in SERVICES:
                # create, never run: run would pull an image the host lacks
                host.client.containers.create(
                    TEST_IMAGE, ["sh", "-c", workload(host.name, service)], name=f"shop-{service}-1",
                    network_mode="none",
                    labels={"com.docker.compose.project": "shop", "com.docker.compose.service": service}).start()

        observers = []
        for host in hosts:
            port = free_port()
            observers.append(stack.enter_context(process(
                [sys.executable, "-m", "observe", "run", "--docker-host", host.url, "--host-name", host.name,
                 "--listen", f"127.0.0.1:{port}", "--sink", f"syslog+tcp://127.0.0.1:{syslog_port}",
                 "--state-dir", str(tmp_path / host.name / "state"), "--read-from-head", "true",
                 "--flush-timeout", "300ms"],
                tmp_path / f"observe-{host.name}.log", env=environment())))
            config = tmp_path / f"agent-{host.name}.yml"
            config.write_text(yaml.safe_dump(agent_config(host.name, port, central_port)))
            stack.enter_context(process(
                [PROMETHEUS, "--enable-feature=agent", f"--config.file={config}",
                 f"--storage.agent.path={tmp_path / host.name / 'agent'}",
                 f"--web.listen-address=127.0.0.1:{free_port()}"],
                tmp_path / f"agent-{host.name}.log"))

        # Metrics: the dashboards' own Host variable query lists the three hosts.
        selector, label = variable_queries(load("host-overview.json"))["instance"]
        selector = substitute(selector, {"job": ".+"})
        wait_for(lambda: sorted(label_values(central_port, label, selector)) == sorted(HOSTS),
                 f"the central Prometheus to answer the Host variable ({selector}, {label}) with {HOSTS}",
                 timeout=WAIT)
        for name in (f"shop-{s}-1" for s in SERVICES):
            info = wait_for(lambda n=name: (lambda got: got if len(got) == len(HOSTS) else None)(
                series(central_port, f'observe_container_info{{name="{n}", state="running"}}')),
                f"{name}'s info series from every host", timeout=WAIT)
            assert sorted(s["metric"]["host"] for s in info) == sorted(HOSTS)
            assert all(s["metric"]["host"] == s["metric"]["instance"] for s in info)
            assert {s["metric"]["service"] for s in info} == {f"shop/{name.split('-')[1]}"}
            cpu = wait_for(lambda n=name: (lambda got: got if len(got) == len(HOSTS) else None)(
                series(central_port, f'sum by (host) (container_cpu_usage_seconds_total{{name="{n}"}})')),
                f"{name}'s CPU series from every host", timeout=WAIT)
            assert sorted(s["metric"]["host"] for s in cpu) == sorted(HOSTS)

        # Logs: every line of every host once in the central store, with host.name.
        expected = {(h, f"shop-{s}-1", f"{h} {s} line {i}") for h in HOSTS for s in SERVICES
                    for i in range(1, LINES + 1)}

        def stored() -> list[dict[str, Any]]:
            return [json.loads(line) for line in lines_of(store)]

        wait_for(lambda: len(stored()) >= len(expected), f"{len(expected)} records in the central store",
                 timeout=WAIT, interval=0.5)
        for proc in observers:
            assert stop_process(proc) == 0, "observe did not stop cleanly on SIGTERM"
        stop_process(syslog)  # flushes the store

    records = stored()
    keys = [(r.get("host", {}).get("name"), r.get("container", {}).get("name"), r.get("message")) for r in records]
    counts = collections.Counter(keys)
    assert set(counts) == expected, (sorted(set(counts) - expected)[:5], sorted(expected - set(counts))[:5])
    assert [k for k, n in counts.items() if n != 1] == [], "lines stored more than once"
    assert all(r["syslog"]["host"] == r["host"]["name"] for r in records)
    # Each host's lines arrived in order.
    for h in HOSTS:
        for s in SERVICES:
            mine = [k[2] for k in keys if k[0] == h and k[1] == f"shop-{s}-1"]
            assert mine == [f"{h} {s} line {i}" for i in range(1, LINES + 1)]
