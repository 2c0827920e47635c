#!/usr/bin/env python3
"""Peak RSS of `observe run` on wide JSON lines whose keys change at every line.

A running busybox container (``sleep``) gets a generated json-file log appended to its own
log file (the lines as dockerd writes them, split into 16 KiB partial chunks), while
`observe run` follows it with a file sink, as its own process. Timed from the start of the
command to the last record written; CPU from /proc/<pid>/stat, peak RSS from VmHWM in
/proc/<pid>/status, over the command's process tree (it forks reader workers); the records
of the wide lines in the output are counted. ``--root`` runs another checkout's observe.

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


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (`observe run` forks reader workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def proc_figures(pid: int) -> tuple[float, float, float]:
    """(largest peak RSS of one process MiB, sum of the peaks MiB, CPU seconds) of a live process tree."""
    peaks: list[float] = []
    cpu = 0.0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for row in f:
                    if row.startswith("VmHWM:"):
                        peaks.append(int(row.split()[1]) / 1024)
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / TICK
        except OSError:
            continue
    return max(peaks, default=0.0), sum(peaks), cpu


WIDE = b'"message":"wide '


def count(path: Path, what: bytes = b"\n") -> int:
    """Occurrences of ``what`` in the output (``WIDE``: records of the wide lines, by their message)."""
    if not path.exists():
        return 0
    n = 0
    tail = b""
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            data = tail + chunk
            n += data.count(what)
            tail = data[-len(what) + 1 :] if len(what) > 1 else b""
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1000, help="wide app lines to write")
    ap.add_argument("--keys", type=int, default=10_000, help="keys per line, all new at every line")
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
             "logstash", "--state-dir", str(tmp / "state"), "--label-selector", label, "--reader", "json-file",
             "--read-from-head", "--flush-timeout", "200ms"],
            env=env, cwd=a.root, stdout=subprocess.DEVNULL, stderr=err)  # `-m` looks in the cwd first
        err.close()
        with open(log_path, "ab") as log, corpus.open("rb") as src:
            for block in iter(lambda: src.read(1 << 20), b""):
                log.write(block)
        peak = total = cpu = 0.0
        last_change, last_count = time.monotonic(), -1
        while time.monotonic() - t0 < a.timeout:
            figures = proc_figures(proc.pid)
            peak, total = max(peak, figures[0]), max(total, figures[1])
            cpu = max(cpu, figures[2])
            n = count(out, WIDE)
            if n != last_count:
                last_count, last_change = n, time.monotonic()
            if n >= a.lines or proc.poll() is not None:
                break
            time.sleep(0.2)
        elapsed = last_change - t0
        figures = proc_figures(proc.pid)
        peak, total, cpu = max(peak, figures[0]), max(total, figures[1]), max(cpu, figures[2])
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        records = count(out, WIDE)
        print(f"lines {a.lines} keys {a.keys}: json-file {written / 1e6:.0f} MB, records of the wide lines "
              f"{records} (output lines {count(out)}), {elapsed:.1f} s to the last record, CPU {cpu:.1f} s, "
              f"peak RSS {peak:.0f} MiB (largest process; {total:.0f} MiB summed over its processes)")
        return 0 if records == a.lines else 1
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        subprocess.run(["rm", "-rf", str(tmp)])


if __name__ == "__main__":
    sys.exit(main())
