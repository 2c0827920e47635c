"""Benchmark: ``observe exporter`` as its own process over N real containers, scraped over HTTP.

For each size it starts busybox ``sleep`` containers, then runs ``python3 -m observe exporter`` (the
command users run, selecting those containers by label, sampling every 1 s) and measures:
- ``scrape``: wall time of ``GET /metrics`` to the last byte, median and range of ``--scrapes``
  requests, once as plain text and once as Prometheus asks (gzip, OpenMetrics accepted);
- ``sweep``: the exporter's own ``observe_sampler_sweep_duration_seconds``, median over the run;
- ``build``: ``observe_exporter_scrape_duration_seconds``, the once-per-sweep exposition build;
- ``cpu``: the exporter process's CPU (utime + stime from ``/proc/<pid>/stat``) per second of wall
  time over ``--cpu-seconds``, while it is scraped once a second; ``rss`` from ``/proc/<pid>/status``;
- the exposition's size and series count (the output counted).

Run: ``python3 bench/bench_stats.py [--sizes 50,300] [--cpu-seconds 30] [--runs 3] [--workload ticking]``.
``--workload idle`` (the default) runs ``sleep``, whose counters stand still between sweeps; ``ticking``
runs a shell that starts ``sleep 1`` in a loop, so every container's CPU, memory and fault counters move
at every sweep and the exporter cannot reuse any container's lines.
Every container it creates carries the label ``observe.bench`` and is removed at the end, even on failure.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "observe-test/busybox:1"
LABEL = "observe.bench"
TICKS = os.sysconf("SC_CLK_TCK")
WORKLOADS = {"idle": ["sleep", "3600"], "ticking": ["sh", "-c", "while :; do sleep 1; done"]}
PROM_ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, headers: dict[str, str]) -> tuple[float, bytes, dict[str, str]]:
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics", headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    elapsed = time.perf_counter() - t0
    got = {k.lower(): v for k, v in resp.getheaders()}
    conn.close()
    return elapsed, body, got


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def gauge(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def ms(values: list[float]) -> str:
    med = statistics.median(values) * 1000
    return f"{med:.1f} ms ({min(values) * 1000:.1f}-{max(values) * 1000:.1f})"


def measure(run_id: str, n: int, scrapes: int, cpu_window: float) -> dict[str, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "observe", "exporter", "--listen", f"127.0.0.1:{port}",
           "--label-selector", f"{LABEL}={run_id}", "--interval", "1s", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        text = ""
        while time.monotonic() < deadline:
            try:
                _, body, _ = get(port, {})
                text = body.decode()
                if text.count("container_last_seen{") >= n + 1 and "container_fs_usage_bytes{" in text:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError(f"the exporter never showed {n} containers")
        time.sleep(2)
        plain, prom, sweeps, builds = [], [], [], []
        size = series = gz_size = 0
        for _ in range(scrapes):
            t, body, _ = get(port, {})
            plain.append(t)
            text = body.decode()
            size, series = len(body), sum(1 for line in text.splitlines() if line and not line.startswith("#"))
            t, body, headers = get(port, {"Accept": PROM_ACCEPT, "Accept-Encoding": "gzip"})
            prom.append(t)
            assert headers.get("content-encoding") == "gzip" and gzip.decompress(body).endswith(b"# EOF\n")
            gz_size = len(body)
            sweeps.append(gauge(text, "observe_sampler_sweep_duration_seconds") or 0.0)
            builds.append(gauge(text, "observe_exporter_scrape_duration_seconds") or 0.0)
            time.sleep(0.05)
        cpu0, wall0 = cpu_seconds(proc.pid), time.monotonic()
        end = wall0 + cpu_window
        while time.monotonic() < end:
            _, body, _ = get(port, {"Accept": PROM_ACCEPT, "Accept-Encoding": "gzip"})
            sweeps.append(gauge(gzip.decompress(body).decode(), "observe_sampler_sweep_duration_seconds") or 0.0)
            time.sleep(max(0.0, min(1.0, end - time.monotonic())))
        cpu = (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - wall0)
        rss = rss_mib(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {
        "containers": str(n),
        "scrape (text)": ms(plain),
        "scrape (gzip, OpenMetrics)": ms(prom),
        "sweep": ms(sweeps),
        "build": ms(builds),
        "exporter CPU (1 s interval, 1 scrape/s)": f"{cpu * 100:.2f} %",
        "RSS": f"{rss:.0f} MiB",
        "exposition": f"{size / 1024:.0f} KiB, {series} series ({gz_size / 1024:.0f} KiB gzip)",
        "load average (1 min)": f"{os.getloadavg()[0]:.1f}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,300")
    parser.add_argument("--scrapes", type=int, default=30)
    parser.add_argument("--cpu-seconds", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=3, help="exporter runs per size (one process each)")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="idle")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    run_id = uuid.uuid4().hex[:8]
    client = docker.from_env(timeout=300)
    made: list[object] = []
    rows = []
    try:
        for size in sizes:
            t0 = time.perf_counter()
            while len(made) < size:
                made.append(client.containers.run(IMAGE, WORKLOADS[args.workload], detach=True, network_mode="none",
                                                  labels={LABEL: run_id}, name=f"obs-bench-{run_id}-{len(made)}"))
            print(f"{size} containers running ({time.perf_counter() - t0:.0f} s to start)", file=sys.stderr)
            for _ in range(args.runs):
                rows.append(measure(run_id, size, args.scrapes, args.cpu_seconds))
                print(rows[-1], file=sys.stderr, flush=True)
    finally:
        for c in client.containers.list(all=True, filters={"label": f"{LABEL}={run_id}"}):
            c.remove(force=True)
        client.close()
    headers = list(rows[0])
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(row[h] for h in headers) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
