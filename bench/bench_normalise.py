#!/usr/bin/env python3
"""Throughput of the pure log path: LogPipeline (join, merge, normalise) + render, per format.

Generates (once, cached under bench/out/) a Docker json-file log with the shared generator,
parses it into LogLine values outside the timed part, then for each format times feeding
every line through a fresh LogPipeline and rendering the records in batches, as a sink
would. Prints lines/s, records/s and MB/s of output, and the peak RSS of the process.

    python3 bench/bench_normalise.py --lines 200000
"""

from __future__ import annotations

import argparse
import calendar
import gc
import resource
import subprocess
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from observe.engine.inspect import from_inspect  # noqa: E402
from observe.logs.formats import FORMATS, render_batch  # noqa: E402
from observe.logs.normalise import NormaliseOptions  # noqa: E402
from observe.logs.pipeline import LogPipeline  # noqa: E402
from observe.model import (  # noqa: E402
    LogLine,
    LogPosition,
    Record,
)

GENERATOR = ROOT.parent / "shared" / "bench" / "gen_jsonfile.py"
BATCH = 512


def corpus(lines: int, generator: Path) -> Path:
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"corpus-{lines}.log"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        subprocess.run([sys.executable, str(generator), "--lines", str(lines), "--out", str(tmp),
                        "--meta", str(out / f"corpus-{lines}.meta.json")], check=True, stderr=subprocess.DEVNULL)
        tmp.rename(path)
    return path


def load(path: Path) -> list[LogLine]:
    """The json-file lines as LogLine values, with the positions the json-file reader would give."""
    out: list[LogLine] = []
    append = out.append
    offset = 0
    loads = orjson.loads
    seconds: dict[str, int] = {}
    with path.open("rb") as f:
        for raw in f:
            offset += len(raw)
            d = loads(raw)
            log: str = d["log"]
            partial = log[-1:] != "\n"
            text = log if partial else log[:-1]
            stamp: str = d["time"]
            secs = seconds.get(stamp[:19])
            if secs is None:
                secs = seconds[stamp[:19]] = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
            frac = stamp[20:-1]
            time_ns = secs * 1_000_000_000 + (int(frac.ljust(9, "0")) if frac else 0)
            position = LogPosition(time_ns, 0, "1:1", offset)
            append(LogLine(time_ns, d["stream"], text, partial, "\ufffd" in text, position))
    return out


def container():  # type: ignore[no-untyped-def]
    doc = {
        "Id": "c" * 64, "Name": "/shop-web-1", "Config": {"Image": "shop/web:2.4.1", "Labels": {
            "com.docker.compose.project": "shop", "com.docker.compose.service": "web", "team": "payments"}},
        "State": {"Status": "running"}, "HostConfig": {"LogConfig": {"Type": "json-file"}},
    }
    return from_inspect(doc, {"CgroupDriver": "cgroupfs", "CgroupVersion": "1"})


def run(lines: list[LogLine], fmt: str, options: NormaliseOptions) -> tuple[float, int, int]:
    pipeline = LogPipeline(container(), options)
    feed = pipeline.feed
    pending: list[Record] = []
    nrecords = 0
    nbytes = 0
    gc.collect()
    t0 = time.perf_counter()
    now = 0.0
    for i, line in enumerate(lines):
        records = feed(line, now)
        if records:
            pending.extend(records)
            if len(pending) >= BATCH:
                nbytes += len(render_batch([r.doc for r in pending], fmt))
                nrecords += len(pending)
                pending.clear()
        if not i & 1023:
            now = time.monotonic()
            pending.extend(pipeline.flush_due(now))
    pending.extend(pipeline.flush_all())
    nbytes += len(render_batch([r.doc for r in pending], fmt))
    nrecords += len(pending)
    return time.perf_counter() - t0, nrecords, nbytes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=200_000, help="json-file lines in the corpus (default 200,000)")
    ap.add_argument("--formats", default=",".join(FORMATS), help="comma-separated formats to time")
    ap.add_argument("--repeat", type=int, default=1, help="runs per format; the best is shown")
    ap.add_argument("--no-multiline", action="store_true", help="time with multi-line merging off")
    ap.add_argument("--generator", type=Path, default=GENERATOR, help="path of gen_jsonfile.py")
    a = ap.parse_args()
    path = corpus(a.lines, a.generator)
    t0 = time.perf_counter()
    lines = load(path)
    parse_s = time.perf_counter() - t0
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    options = NormaliseOptions(host_name="bench-host", label_allowlist=("team",), multiline=not a.no_multiline)
    print(f"corpus {path.name}: {len(lines)} lines, {path.stat().st_size / 1e6:.1f} MB; "
          f"json-file parse into LogLine (untimed below): {len(lines) / parse_s:,.0f} lines/s")
    for fmt in a.formats.split(","):
        best = min((run(lines, fmt, options) for _ in range(a.repeat)), key=lambda r: r[0])
        secs, nrecords, nbytes = best
        print(f"{fmt:9s} {len(lines) / secs:10,.0f} lines/s {nrecords / secs:10,.0f} records/s "
              f"{nbytes / secs / 1e6:7.1f} MB/s out  ({nrecords} records, {secs:.2f} s)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB ({loaded:.0f} MiB reached already by loading the corpus as LogLine values)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
