"""The collector's garbage-collector settings (``observe.runtime``), in a process of their own."""

from __future__ import annotations

import subprocess
import sys


def test_quiet_collector_freezes_start_up_and_makes_collections_rare() -> None:
    code = ("import gc; from observe.runtime import quiet_collector, YOUNG, FULL_AFTER; "
            "import observe.logs.pipeline; quiet_collector(); "
            "assert gc.get_freeze_count() > 1000, gc.get_freeze_count(); "
            "assert gc.get_threshold() == (YOUNG, 10, FULL_AFTER), gc.get_threshold(); "
            "assert YOUNG > 10 * 700 and FULL_AFTER > 10")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_batch_of_lines_sets_off_no_collection() -> None:
    """3,500 lines through the reader and the pipeline, with the settings: not one collection (dozens before)."""
    code = """
import gc
from observe.logs.jsonfile import JsonFileReader
from observe.logs.normalise import NormaliseOptions
from observe.logs.pipeline import LogPipeline
from observe.runtime import quiet_collector
from tests.exporters.autoscale.test_engine import info
import os, sys, tempfile, orjson
path = os.path.join(tempfile.mkdtemp(), "c-json.log")
with open(path, "wb") as f:
    for i in range(3500):
        f.write(orjson.dumps({"log": f"GET /item/{i} 200 {i * 7} ms\\n", "stream": "stdout",
                              "time": f"2026-12-01T10:00:{i % 60:02d}.{i:09d}Z"}) + b"\\n")
pipeline = LogPipeline(info(1), NormaliseOptions())
if sys.argv[1] == "quiet":
    quiet_collector()
runs = []
gc.callbacks.append(lambda phase, _: runs.append(1) if phase == "start" else None)
reader = JsonFileReader(path)
lines = []
while batch := reader.read():
    lines.extend(batch)
records = [r for line in lines for r in pipeline.feed(line, 0.0)]
assert len(records) == 3499, len(records)
print(len(runs))
"""
    counts = {}
    for mode in ("default", "quiet"):
        done = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        counts[mode] = int(done.stdout)
    assert counts["quiet"] == 0 and counts["default"] > 10, counts
