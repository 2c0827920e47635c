#!/usr/bin/env python3
"""The product path, end to end: ``observe run`` and ``observe logs`` as their own processes.

What is measured, in the same run, for each of ``--runs`` repetitions:

- ``run -> file``: ``observe run --read-from-head --no-exporter --sink file://<tmpfs>`` following
  sleeping busybox containers (json-file driver) whose log is the corpus;
- ``run -> tcp``: the same to ``tcp://127.0.0.1:<port>``, a receiver in its own process writing
  what it receives to tmpfs;
- ``logs`` / ``docker logs``: ``observe logs NAME`` and ``docker logs NAME`` on one corpus
  container, output to tmpfs, wall time each and their ratio.

A collector run is timed from the spawn of the process to its last output (the moment the
output file last grew, polled every 20 ms; it is done once the output stood still for
``--quiet`` seconds), so it includes start-up and the multi-line flush timeout that releases
the last held record. CPU seconds are utime + stime from ``/proc/<pid>/stat`` of the process
and every descendant (worker processes), peak RSS is ``VmHWM`` (of the main process, and the
sum over the tree). The output is counted: records = lines of NDJSON, checked against the
corpus's expected count (902,267 for the 1M-line corpus).

The containers are created running ``sleep`` with ``--network none``; the corpus is written over
their ``<id>-json.log`` (the sleeping process writes nothing, so dockerd never appends to it).
They carry the label ``observe.bench=run`` and are removed at the end.

    python3 bench/bench_run.py --runs 3                      # 1 container: file, tcp, logs
    python3 bench/bench_run.py --runs 3 --containers 4 --modes file
    python3 bench/bench_run.py --runs 3 --containers 1,4 --modes file  # each run: 1 then 4, and their ratio
    python3 bench/bench_run.py --runs 3 --extra=--workers=2  # extra flags for observe run

The corpus comes from ../shared/bench/gen_jsonfile.py (cached under bench/out/).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_normalise import GENERATOR, corpus  # noqa: E402

IMAGE = "observe-test/busybox:1"
LABEL = "observe.bench=run"
TICK = os.sysconf("SC_CLK_TCK")
POLL = 0.02


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


# -- /proc ---------------------------------------------------------------------------------
def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, CPU seconds) of a process, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Tree:
    """A process and its descendants: the CPU and peak RSS each was last seen with."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.cpu: dict[int, float] = {}
        self.hwm: dict[int, float] = {}

    def sample(self) -> None:
        parents: dict[int, int] = {}
        cpu: dict[int, float] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                st = _stat(int(entry))
                if st is not None:
                    parents[int(entry)], cpu[int(entry)] = st
        members = {self.root}
        grew = True
        while grew:
            grew = False
            for pid, ppid in parents.items():
                if ppid in members and pid not in members:
                    members.add(pid)
                    grew = True
        for pid in members:
            if pid in cpu:
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu[pid])
                self.hwm[pid] = max(self.hwm.get(pid, 0.0), _hwm_mb(pid))

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())


# -- containers ----------------------------------------------------------------------------
def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def make_containers(count: int, log_file: Path) -> list[str]:
    """Sleeping json-file containers whose log is the corpus; returns their names."""
    names = []
    for i in range(count):
        name = f"observe-bench-run-{os.getpid()}-{i}"
        _docker("run", "-d", "--name", name, "--network", "none", "--log-driver", "json-file", "--label", LABEL,
                IMAGE, "sleep", "86400")
        log_path = _docker("inspect", "-f", "{{.LogPath}}", name)
        shutil.copyfile(log_file, log_path)
        names.append(name)
    return names


def remove_containers(names: list[str]) -> None:
    if names:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True)


# -- the receiver ----------------------------------------------------------------------------
def receiver(out: str) -> None:
    """Accept connections on a loopback port (printed), append what arrives to ``out``."""
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    print(server.getsockname()[1], flush=True)
    lock = threading.Lock()
    fh = open(out, "ab", buffering=0)  # noqa: SIM115 - open for the process's life

    def serve(conn: socket.socket) -> None:
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        with conn:
            while True:
                n = conn.recv_into(buf)
                if not n:
                    return
                with lock:
                    fh.write(view[:n])

    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


# -- one collector run -------------------------------------------------------------------------
def count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            n += chunk.count(b"\n")
    return n


def run_collector(names: list[str], mode: str, quiet: float, extra: list[str], keep: Path | None) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="observe-bench-", dir="/dev/shm"))
    out = work / "out.ndjson"
    out.touch()
    recv = None
    try:
        if mode == "tcp":
            recv = subprocess.Popen([sys.executable, __file__, "--receiver", str(out)], stdout=subprocess.PIPE,
                                    text=True)
            assert recv.stdout is not None
            sink = f"tcp://127.0.0.1:{recv.stdout.readline().strip()}"
        else:
            sink = f"file://{out}"
        argv = [sys.executable, "-m", "observe", "run", "--read-from-head", "--no-exporter", "--sink", sink,
                "--state-dir", str(work / "state"), "--log-level", "warning"]
        for name in names:
            argv += ["--name", name]
        argv += extra
        with (work / "stderr").open("wb") as err:
            t0 = time.monotonic()
            proc = subprocess.Popen(argv, env=_env(), stdout=subprocess.DEVNULL, stderr=err)
            tree = Tree(proc.pid)
            size, last_change, first_output = 0, t0, 0.0
            next_sample = 0.0
            while True:
                now = time.monotonic()
                if now >= next_sample:
                    tree.sample()
                    next_sample = now + 0.25
                cur = out.stat().st_size
                if cur != size:
                    size, last_change = cur, now
                    first_output = first_output or now
                elif size and now - last_change >= quiet:
                    break
                if proc.poll() is not None:
                    raise RuntimeError(f"observe run exited with {proc.returncode}: {(work / 'stderr').read_text()}")
                if now - t0 > 600:
                    raise RuntimeError("no end of output in 600 s")
                time.sleep(POLL)
            tree.sample()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
        records = count_lines(out)
        if keep is not None:
            shutil.copyfile(out, keep)
            shutil.copyfile(work / "stderr", f"{keep}.stderr")
        elapsed = last_change - t0
        return {
            "mode": mode, "containers": len(names), "records": records, "seconds": elapsed,
            "first_output": first_output - t0 if first_output else None, "cpu_seconds": tree.cpu_seconds,
            "rss_mb": tree.hwm.get(proc.pid, 0.0), "rss_tree_mb": sum(tree.hwm.values()),
            "processes": len(tree.cpu), "exit": code, "out_mb": size / 1e6,
        }
    finally:
        if recv is not None:
            recv.kill()
            recv.wait()
        shutil.rmtree(work, ignore_errors=True)


def run_logs(name: str, which: str, extra: list[str]) -> dict[str, Any]:
    """``observe logs NAME`` or ``docker logs NAME`` to tmpfs: wall time, CPU, lines."""
    work = Path(tempfile.mkdtemp(prefix="observe-bench-", dir="/dev/shm"))
    try:
        out = work / "out"
        if which == "observe":
            argv = [sys.executable, "-m", "observe", "logs", name, "--log-level", "warning", *extra]
        else:
            argv = ["docker", "logs", name]
        with out.open("wb") as fh:
            t0 = time.monotonic()
            proc = subprocess.Popen(argv, env=_env(), stdout=fh, stderr=fh if which == "docker" else None)
            tree = Tree(proc.pid)
            while proc.poll() is None:
                tree.sample()
                time.sleep(0.1)
            elapsed = time.monotonic() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited with {proc.returncode}")
        return {"mode": f"{which} logs", "seconds": elapsed, "lines": count_lines(out),
                "cpu_seconds": tree.cpu_seconds, "rss_mb": max(tree.hwm.values(), default=0.0)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _range(values: list[float], fmt: str = "{:,.0f}") -> str:
    lo, hi = min(values), max(values)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}\u2013{fmt.format(hi)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000, help="corpus size in json-file lines")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--containers", default="1",
                        help="corpus containers followed by one observe run; a list (1,4) measures each count in "
                             "every run, one after the other, and gives each run's ratio to the first count")
    parser.add_argument("--modes", default="file,tcp,logs", help="any of file, tcp, logs")
    parser.add_argument("--quiet", type=float, default=3.0, help="seconds of still output that mean done")
    parser.add_argument("--extra", action="append", default=[], help="extra flags for observe run (repeatable)")
    parser.add_argument("--logs-extra", action="append", default=[], help="extra flags for observe logs")
    parser.add_argument("--keep", type=Path, help="copy the last file-sink output here")
    parser.add_argument("--json", action="store_true", help="print one JSON object per measurement")
    parser.add_argument("--receiver", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        receiver(args.receiver)
        return
    log_file = corpus(args.lines, GENERATOR)
    meta = json.loads((log_file.with_suffix(".meta.json")).read_text()) if log_file.with_suffix(
        ".meta.json").exists() else {}
    expected = meta.get("expected_records_after_multiline")
    counts = [int(n) for n in args.containers.split(",")]
    names = make_containers(max(counts), log_file)
    modes = args.modes.split(",")
    results: dict[str, list[dict[str, Any]]] = {}
    ratios: dict[str, list[float]] = {}
    try:
        print(f"corpus: {log_file} ({log_file.stat().st_size / 1e6:.0f} MB, {args.lines:,} json-file lines, "
              f"{expected or '?'} records expected per container); containers: {args.containers}; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        for run in range(args.runs):
            for mode in modes:
                first: dict[str, Any] | None = None
                for count in counts if mode in ("file", "tcp") else ():
                    r = run_collector(names[:count], mode, args.quiet, args.extra, args.keep)
                    lines = args.lines * count
                    r["lines_per_s"] = lines / r["seconds"]
                    r["lines_per_cpu_s"] = lines / r["cpu_seconds"]
                    r["ok"] = expected is None or r["records"] == expected * count
                    key = mode if len(counts) == 1 else f"{mode} x{count}"
                    results.setdefault(key, []).append(r)
                    ratio = ""
                    if first is None:
                        first = r
                    else:
                        r["ratio_to_first"] = r["lines_per_s"] / first["lines_per_s"]
                        ratios.setdefault(key, []).append(r["ratio_to_first"])
                        ratio = f"  {r['ratio_to_first']:.2f}x the {counts[0]}-container run"
                    if args.json:
                        print(json.dumps(r), flush=True)
                    else:
                        print(f"run {run + 1} {key:5} {r['lines_per_s']:9,.0f} lines/s  "
                              f"{r['lines_per_cpu_s']:9,.0f} lines/CPU-s  {r['seconds']:6.2f} s  "
                              f"cpu {r['cpu_seconds']:6.2f} s  records {r['records']:,} "
                              f"{'ok' if r['ok'] else 'WRONG'}  rss {r['rss_mb']:.0f} MB "
                              f"(tree {r['rss_tree_mb']:.0f} MB, {r['processes']} proc)  "
                              f"first output {r['first_output'] or 0:.2f} s  exit {r['exit']}{ratio}", flush=True)
                if mode == "logs":
                    ours = run_logs(names[0], "observe", args.logs_extra)
                    theirs = run_logs(names[0], "docker", [])
                    ratio = ours["seconds"] / theirs["seconds"]
                    results.setdefault("logs", []).append({"observe": ours, "docker": theirs, "ratio": ratio})
                    if args.json:
                        print(json.dumps({"observe": ours, "docker": theirs, "ratio": ratio}), flush=True)
                    else:
                        print(f"run {run + 1} logs  observe logs {ours['seconds']:6.2f} s ({ours['lines']:,} "
                              f"records, cpu {ours['cpu_seconds']:.2f} s, rss {ours['rss_mb']:.0f} MB)  "
                              f"docker logs {theirs['seconds']:6.2f} s ({theirs['lines']:,} lines)  "
                              f"ratio {ratio:.2f}", flush=True)
        print("summary (ranges over runs):")
        for mode, rs in results.items():
            if mode == "logs":
                print(f"  logs: observe {_range([r['observe']['seconds'] for r in rs], '{:.2f}')} s, docker "
                      f"{_range([r['docker']['seconds'] for r in rs], '{:.2f}')} s, ratio "
                      f"{_range([r['ratio'] for r in rs], '{:.2f}')}")
            else:
                print(f"  {mode}: {_range([r['lines_per_s'] for r in rs])} lines/s, "
                      f"{_range([r['lines_per_cpu_s'] for r in rs])} lines/CPU-s, "
                      f"records {_range([r['records'] for r in rs])}, "
                      f"RSS {_range([r['rss_mb'] for r in rs])} MB (tree {_range([r['rss_tree_mb'] for r in rs])})"
                      + (f", {_range(ratios[mode], '{:.2f}')}x the {counts[0]}-container runs"
                         if mode in ratios else ""))
    finally:
        remove_containers(names)


if __name__ == "__main__":
    main()
