#!/usr/bin/env python3
"""Peak RSS of `observe run` on wide JSON lines whose keys change at every line.

A running busybox container (``sleep``) gets a generated json-file log appended to its own
log file (the lines as dockerd writes them, split into 16 KiB partial chunks), while
`observe run` follows it with a file sink, as its own process. Timed from the start of the
command to the last record written; CPU from /proc/<pid>/stat, peak RSS from VmHWM in
/proc/<pid>/status; the output records are counted.

    python3 bench/bench_wide.py --lines 1000 --keys 10000
    python3 bench/bench_wide.py --lines 20000 --keys 500
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 16384
TICK = os.sysconf("SC_CLK_TCK")


def docker_line(text: str, stream: str, stamp: str) -> bytes:
    return (json.dumps({"log": text, "stream": stream, "time": stamp}, ensure_ascii=False) + "\n").encode()


def wide_line(i: int, keys: int) -> bytes:
    """One app JSON line of ``keys`` keys no other line has, as json-file lines (partial chunks past 16 KiB)."""
    obj = {"level": "info", "msg": f"wide {i}", **{f"k{i}_{j}": j for j in range(keys)}}
    raw = json.dumps(obj, separators=(",", ":")).encode()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{i % 10**9:09d}Z"
    out = []
    for start in range(0, len(raw), CHUNK):
        piece = raw[start : start + CHUNK].decode()
        last = start + CHUNK >= len(raw)
        out.append(docker_line(piece + ("\n" if last else ""), "stdout", stamp))
    return b"".join(out)


def proc_figures(pid: int) -> tuple[float, float]:
    """(peak RSS MiB, CPU seconds) of a live process."""
    hwm = 0.0
    with open(f"/proc/{pid}/status") as f:
        for row in f:
            if row.startswith("VmHWM:"):
                hwm = int(row.split()[1]) / 1024
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return hwm, (int(fields[11]) + int(fields[12])) / TICK


def count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1000, help="wide app lines to write")
    ap.add_argument("--keys", type=int, default=10_000, help="keys per line, all new at every line")
    ap.add_argument("--format", default="logstash", help="--output-format of observe run")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--root", type=Path, default=ROOT, help="checkout whose observe runs (default: this one)")
    a = ap.parse_args()
    label = f"observe.bench=wide-{os.getpid()}"
    cid = subprocess.run(["docker", "run", "-d", "--network", "none", "--label", label, "observe-test/busybox:1",
                          "sleep", "3600"], check=True, capture_output=True, text=True).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="bench-wide-"))
    out = tmp / "out.ndjson"
    proc = None
    try:
        log_path = subprocess.run(["docker", "inspect", "-f", "{{.LogPath}}", cid], check=True, capture_output=True,
                                  text=True).stdout.strip()
        corpus = tmp / "corpus.log"
        with corpus.open("wb") as f:  # generated before the clock starts
            for i in range(a.lines):
                f.write(wide_line(i, a.keys))
        written = corpus.stat().st_size
        env = dict(os.environ, PYTHONPATH=str(a.root))
        t0 = time.monotonic()
        err = (tmp / "err.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "observe", "run", "--no-exporter", "--sink", f"file://{out}", "--output-format",
             a.format, "--state-dir", str(tmp / "state"), "--label-selector", label, "--reader", "json-file",
             "--read-from-head", "--flush-timeout", "200ms"],
            env=env, stdout=subprocess.DEVNULL, stderr=err)
        err.close()
        with open(log_path, "ab") as log, corpus.open("rb") as src:
            for block in iter(lambda: src.read(1 << 20), b""):
                log.write(block)
        peak = cpu = 0.0
        last_change, last_count = time.monotonic(), -1
        while time.monotonic() - t0 < a.timeout:
            peak, cpu = proc_figures(proc.pid)
            n = count_lines(out)
            if n != last_count:
                last_count, last_change = n, time.monotonic()
            if n >= a.lines or proc.poll() is not None:
                break
            time.sleep(0.2)
        elapsed = last_change - t0
        peak, cpu = proc_figures(proc.pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        records = count_lines(out)
        print(f"lines {a.lines} keys {a.keys} format {a.format}: json-file {written / 1e6:.0f} MB, "
              f"records {records}, {elapsed:.1f} s to the last record, CPU {cpu:.1f} s, peak RSS {peak:.0f} MiB")
        return 0 if records == a.lines else 1
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        subprocess.run(["rm", "-rf", str(tmp)])


if __name__ == "__main__":
    sys.exit(main())
