"""``observe logs``: a local json-file container's file read directly, the same records as through the API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.conftest import Containers
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engine

CONTENT = r"""
i=0
while [ $i -lt 200 ]; do echo "plain n=$i"; echo "{\"level\":\"warn\",\"msg\":\"json n=$i\"}"; i=$((i+1)); done
printf 'Exception in thread "main" java.lang.IllegalStateException: boom\n\tat a.B.c(B.java:10)\n'
printf 'big '; head -c 40000 /dev/zero | tr '\0' 'y'; echo
printf 'bad \377 utf8\n'
echo "ERROR on stderr" >&2
echo "last-line"
"""


def observe_logs(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    return subprocess.run([sys.executable, "-m", "observe", "logs", "--output-format", "json", *args],
                          capture_output=True, env=env, timeout=timeout)


def finished(c: Any) -> bool:
    c.reload()
    return bool(c.status == "exited")


def test_file_and_api_print_the_same_records(containers: Containers) -> None:
    c = containers.run("both", CONTENT)
    wait_for(lambda: finished(c), "the container to finish")
    name = containers.name("both")
    direct = observe_logs(name)
    api = observe_logs(name, "--reader", "api")
    assert direct.returncode == 0 and api.returncode == 0, direct.stderr + api.stderr
    assert direct.stdout == api.stdout
    lines = direct.stdout.splitlines()
    assert len(lines) == 200 * 2 + 5  # the trace is one record, the 40 KB line (three chunks) one
    # --since (applied per line by the file reader, by the engine through the API) agrees too
    since = str(int(time.time()) - 3600)
    assert observe_logs(name, "--since", since).stdout == observe_logs(name, "--since", since, "--reader",
                                                                       "api").stdout


def test_follow_ends_when_the_container_stops(containers: Containers) -> None:
    c = containers.run("follow", 'echo first; sleep 2; echo second')
    name = containers.name("follow")
    done = observe_logs(name, "-f", timeout=30)
    assert done.returncode == 0
    messages = [line for line in done.stdout.splitlines()]
    assert len(messages) == 2 and b'"first"' in messages[0] and b'"second"' in messages[1]
    assert finished(c)


def test_other_log_drivers_go_through_the_api(containers: Containers) -> None:
    c = containers.run("local", 'echo one; echo two', log_config={"type": "local", "config": {}})
    wait_for(lambda: finished(c), "the container to finish")
    out = observe_logs(containers.name("local"))
    assert out.returncode == 0 and len(out.stdout.splitlines()) == 2
