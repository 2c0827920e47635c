"""The autoscaling maths is pure: importing it loads neither Docker nor any face's libraries."""

from __future__ import annotations

import pytest

from tests.architecture.test_import_hygiene import loaded_after

MODULES = ("policy", "hpa", "signals", "engine", "actuator", "hooks")


@pytest.mark.parametrize("module", [f"exporters.autoscale.{name}" for name in MODULES])
def test_autoscale_loads_no_docker_and_no_faces(module: str) -> None:
    assert not {"docker", "textual", "prometheus_client", "tui"} & loaded_after(module)
