#!/usr/bin/env python3
"""Throughput of the log readers end to end: reader -> pipeline -> render, per reader and format.

Each measurement runs in a fresh child process so that its peak RSS is its own:

- ``json-file``: JsonFileReader over the corpus file (the fast path, as `observe run` reads a
  local container's log);
- ``api``: ApiLogReader against the real engine, for a stopped container whose json-file log
  is the corpus (the engine parses the file and streams it over its API, as for a remote engine).

For each: read only, then read + normalise + render for every output format. Prints lines/s
and peak RSS. The corpus comes from ../shared/bench/gen_jsonfile.py (cached under bench/out/).

    python3 bench/bench_logs.py --lines 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_normalise import GENERATOR, corpus  # noqa: E402


def measure(reader: str, fmt: str, path: str, container: str) -> dict[str, float]:
    """Runs in the child: read the whole log once, optionally normalising and rendering."""
    from observe.config import Config
    from observe.engine import Engine
    from observe.engine.inspect import from_inspect
    from observe.logs.apilogs import ApiLogReader
    from observe.logs.formats import render_batch
    from observe.logs.jsonfile import JsonFileReader
    from observe.logs.normalise import NormaliseOptions
    from observe.logs.pipeline import LogPipeline

    engine = Engine(Config())
    info = from_inspect(engine.inspect(container), engine.info())
    pipeline = LogPipeline(info, NormaliseOptions(host_name="bench"))
    lines = records = out_bytes = 0
    t0 = time.perf_counter()

    def consume(batch: list) -> None:  # type: ignore[type-arg]
        nonlocal lines, records, out_bytes
        lines += len(batch)
        if fmt == "none":
            return
        now = time.monotonic()
        recs = []
        feed = pipeline.feed
        for line in batch:
            recs.extend(feed(line, now))
        records += len(recs)
        if recs:
            out_bytes += len(render_batch([r.doc for r in recs], fmt))

    if reader == "json-file":
        jf = JsonFileReader(path)
        while True:
            batch = jf.read()
            if not batch:
                break
            consume(batch)
        jf.close()
    else:
        api = ApiLogReader(engine, info.id, follow=False)
        for batch in api.batches():
            consume(batch)
    if fmt != "none":
        recs = pipeline.flush_all()
        records += len(recs)
    elapsed = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"lines": lines, "records": records, "seconds": elapsed, "lines_per_s": lines / elapsed,
            "out_mb": out_bytes / 1e6, "peak_rss_mb": rss}


def prepare_container(log_file: Path) -> tuple[str, str]:
    """A stopped container whose json-file log is the corpus; returns (id, its log path)."""
    cid = subprocess.run(["docker", "create", "--network", "none", "--label", "observe.bench=logs",
                          "observe-test/busybox:1", "true"], check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run(["docker", "start", "-a", cid], check=True, capture_output=True)
    log_path = subprocess.run(["docker", "inspect", "-f", "{{.LogPath}}", cid], check=True, capture_output=True,
                              text=True).stdout.strip()
    shutil.copyfile(log_file, log_path)
    return cid, log_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--readers", default="json-file,api")
    parser.add_argument("--formats", default="none,logstash,json,text")
    parser.add_argument("--child", nargs=4, metavar=("READER", "FORMAT", "PATH", "CONTAINER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child)))
        return
    log_file = corpus(args.lines, GENERATOR)
    cid, log_path = prepare_container(log_file)
    try:
        print(f"corpus: {log_file} ({log_file.stat().st_size / 1e6:.0f} MB, {args.lines} json-file lines)")
        print(f"{'reader':10} {'format':9} {'lines/s':>10} {'records':>9} {'seconds':>8} {'peak RSS MB':>12}")
        for reader in args.readers.split(","):
            for fmt in args.formats.split(","):
                out = subprocess.run([sys.executable, __file__, "--child", reader, fmt, log_path, cid],
                                     check=True, capture_output=True, text=True).stdout
                r = json.loads(out)
                label = "read only" if fmt == "none" else fmt
                print(f"{reader:10} {label:9} {r['lines_per_s']:10.0f} {r['records']:9.0f} {r['seconds']:8.2f} "
                      f"{r['peak_rss_mb']:12.0f}", flush=True)
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)


if __name__ == "__main__":
    main()
