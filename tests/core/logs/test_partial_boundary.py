"""Docker's 16 KiB partial lines with a multi-byte character or an invalid byte at the boundary, end to end.

The engine splits a long line into 16 KiB chunks of bytes, each with its own timestamp in the API
stream; a character cut in two, or a byte replaced by the json-file driver (which makes the chunk
longer once decoded), must never put Docker's timestamp inside the message.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import Containers
from tests.support.collector_run import CollectorProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engine

CHUNK = 16 * 1024
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z")


def _fill(char: str, n: int) -> str:
    return f"head -c {n} /dev/zero | tr '\\0' {char}"


# é (2 bytes) and € (3 bytes) cut by the first boundary; an invalid byte just before it; é cut by the second.
SCRIPT = f"""
sleep 1
{_fill('A', CHUNK - 1)}; printf '\\303\\251BBBBBBBBBB\\n'
{{ {_fill('C', CHUNK - 1)}; printf '\\377DDDDDDDDDD\\n'; }} >&2
{_fill('E', CHUNK - 2)}; printf '\\342\\202\\254FFFFFFFFFF\\n'
{_fill('G', 2 * CHUNK - 1)}; printf '\\303\\251HHHHH\\n'
echo end
sleep 600
"""

CASES = [
    pytest.param("json-file", "json-file", False, id="jsonfile-reader"),
    pytest.param("api", "json-file", False, id="api-reader-jsonfile-driver"),
    pytest.param("api", "json-file", True, id="api-reader-jsonfile-driver-tty"),
    pytest.param("api", "local", False, id="api-reader-local-driver"),
    pytest.param("api", "local", True, id="api-reader-local-driver-tty"),
]


@pytest.mark.parametrize(("reader", "driver", "tty"), CASES)
def test_character_cut_by_a_partial_boundary(tmp_path: Path, containers: Containers, reader: str, driver: str,
                                             tty: bool) -> None:
    collector = CollectorProcess(tmp_path, containers.test_id, reader=reader)
    try:
        collector.start()
        collector.wait_ready()
        c = containers.run("boundary", SCRIPT, tty=tty, log_config={"type": driver})
        name = containers.name("boundary")
        wait_for(lambda: "end" in collector.messages(name), "the last line collected")
        records = [r for r in collector.records() if r["container.name"] == name]
        messages = [r["message"] for r in records]
        if driver == "local":  # the bytes are kept as written: the cut characters are whole again
            expected = ["A" * (CHUNK - 1) + "é" + "B" * 10, "C" * (CHUNK - 1) + "\ufffd" + "D" * 10,
                        "E" * (CHUNK - 2) + "€" + "F" * 10, "G" * (2 * CHUNK - 1) + "é" + "H" * 5, "end"]
        else:  # what the engine holds: the json-file driver replaced each part of a cut character
            expected = c.logs(stdout=True, stderr=True).decode("utf-8", "replace").splitlines()
        assert Counter(messages) == Counter(expected)
        assert not [m[:80] for m in messages if TIMESTAMP.search(m)], "a timestamp inside a message"
        if driver == "local":
            bad = next(r for r in records if r["message"].startswith("CCC"))
            assert bad["log.invalid_utf8"] is True
        assert collector.stop() == 0
    finally:
        collector.close()
