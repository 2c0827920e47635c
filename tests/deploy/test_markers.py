"""Deploy markers: a service's container replaced by one from another image gives ``ServiceImageChanged`` in
observe's own log, a new ``image``/``image_id`` on ``observe_container_info``, and the dashboards' Deploys
annotation, whose query promtool evaluates over such a change."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from dashboards.render import DEPLOYS
from exporters import start_exporter
from exporters.server import ExporterServer
from observe.config import load_config
from observe.core import Core, build_core
from tests.conftest import RUN_ID, RUN_LABEL, Containers
from tests.dashboards.queries import DASHBOARD_FILES, load, substitute
from tests.support.nethelpers import http_get
from tests.support.waiting import wait_for

PROMTOOL = shutil.which("promtool")


@pytest.fixture
def exporter(containers: Containers) -> Iterator[tuple[Core, ExporterServer]]:
    config = load_config({"label_selector": f"observe.test.case={containers.test_id}", "interval": "0.5s"}, env={})
    core = build_core(config)
    server = start_exporter(core, listen="127.0.0.1:0")
    yield core, server
    server.stop()
    core.stop()


@pytest.fixture
def other_image(docker_client: docker.DockerClient, containers: Containers) -> Iterator[str]:
    """An image of our own with a new ID, committed from a container (nothing is pulled)."""
    base = containers.run("base", "true", detach=True)
    base.wait(timeout=30)
    tag = f"observe-test/deploy:{containers.test_id}"
    base.commit(repository="observe-test/deploy", tag=containers.test_id, changes=['LABEL observe.test.deploy=2'])
    try:
        yield tag
    finally:
        docker_client.images.remove(tag, force=True)


def info_series(server: ExporterServer, name: str) -> list[str]:
    status, body = http_get(server.port, "/metrics")
    assert status == 200
    return [line for line in body.decode().splitlines()
            if line.startswith("observe_container_info{") and f'name="{name}"' in line]


def events(caplog: pytest.LogCaptureFixture, kind: str) -> list[Any]:
    return [r for r in caplog.records if getattr(r, "event", "") == kind]


@pytest.mark.engine
def test_replacing_a_services_container_with_another_image_is_a_deploy(
        exporter: tuple[Core, ExporterServer], containers: Containers, other_image: str,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="observe.inventory")
    _, server = exporter
    compose = {"com.docker.compose.project": f"mk{containers.test_id}", "com.docker.compose.service": "web"}
    first = containers.run("web-1", labels=compose)
    name = containers.name("web-1")
    (before,) = wait_for(lambda: info_series(server, name), "the first replica's info series")
    assert f'image_id="{first.image.id}"' in before

    # the same image again (a recreate, a restart) is no deploy
    first.remove(force=True)
    again = containers.run("web-1", labels=compose)
    wait_for(lambda: any(again.id in line for line in info_series(server, name)), "the recreated replica's series")
    assert events(caplog, "ServiceImageChanged") == []

    again.remove(force=True)
    second = containers.client.containers.run(
        other_image, ["sh", "-c", "sleep 600"], name=name, detach=True, network_mode="none",
        labels={**compose, RUN_LABEL: RUN_ID, "observe.test.case": containers.test_id})
    containers.made.append(second)
    (changed,) = wait_for(lambda: events(caplog, "ServiceImageChanged"), "a ServiceImageChanged event")
    assert changed.service == f"mk{containers.test_id}/web" and changed.container == name
    assert (changed.previous_image, changed.image) == (first.image.tags[0], other_image)
    assert (changed.previous_image_id, changed.image_id) == (first.image.id, second.image.id)
    (after,) = wait_for(lambda: [x for x in info_series(server, name) if second.id in x], "the new replica's series")
    assert f'image_id="{second.image.id}"' in after and f'image="{other_image}"' in after


def test_every_dashboard_carries_the_deploys_annotation() -> None:
    for file in DASHBOARD_FILES:
        (deploys,) = [a for a in load(file)["annotations"]["list"] if a["name"] == "Deploys"]
        assert deploys["expr"] == DEPLOYS and deploys["enable"] is True
        assert deploys["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert "{{service}}" in deploys["titleFormat"]


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")
def test_deploys_query_marks_a_new_image_not_a_restart_or_a_new_service(tmp_path: Path) -> None:
    """Minute by minute: web runs image v1 (id a), then from minute 9 v2 (id b); db is new at minute 9; api
    keeps its image across a replaced container (a new id label). Only web's change is marked, for the window."""
    expr = substitute(DEPLOYS, {"job": ".+", "instance": ".+", "service": ".+"})

    def info(service: str, cid: str, image: str, image_id: str) -> str:
        return (f'observe_container_info{{job="observe", instance="h", id="/docker/{cid}", name="{service}-1", '
                f'service="{service}", service_kind="compose", state="running", health="", image="{image}", '
                f'image_id="{image_id}"}}')

    series = [
        {"series": info("web", "w1", "shop/web:1", "sha256:a"), "values": "1x9 _x20"},
        {"series": info("web", "w2", "shop/web:2", "sha256:b"), "values": "_x9 1x20"},
        {"series": info("db", "d1", "shop/db:1", "sha256:c"), "values": "_x9 1x20"},
        {"series": info("api", "a1", "shop/api:1", "sha256:d"), "values": "1x9 _x20"},
        {"series": info("api", "a2", "shop/api:1", "sha256:d"), "values": "_x9 1x20"},
    ]
    marked = [{"labels": '{instance="h", job="observe", service="web", image="shop/web:2", image_id="sha256:b"}',
               "value": 1}]
    tests = {"rule_files": [], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": series,
        "promql_expr_test": [
            {"expr": expr, "eval_time": "5m", "exp_samples": []},
            {"expr": expr, "eval_time": "10m", "exp_samples": marked},
            {"expr": expr, "eval_time": "13m", "exp_samples": marked},
            {"expr": expr, "eval_time": "15m", "exp_samples": []},
        ]}]}
    path = tmp_path / "deploys_test.yml"
    path.write_text(yaml.safe_dump(tests))
    done = subprocess.run([str(PROMTOOL), "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
