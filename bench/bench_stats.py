"""Benchmark: one sampling sweep and one scrape for 10, 100 and 300 real containers, against the usual tools.

For each size it measures, in one run on the same containers (busybox ``sleep``):
- ``sweep``: one ``StatsSampler.sweep()`` over every container (the cgroup backend of a local engine);
- ``scrape``: one full ``/metrics`` exposition built from the sampler's snapshot;
- ``cpu/s``: the exporter process's CPU seconds per second of wall time with the sampler sweeping
  every 1 s and one scrape a second (inventory thread included);
- ``docker stats --no-stream`` over the same containers (wall time of the CLI);
- docker-py's ``container.stats(stream=False)`` called once per container, the way its users call it
  (sequential; timed on ``--api-sample`` containers and scaled to all of them, marked ``~``).

Run: ``python bench/bench_stats.py [--sizes 10,100,300] [--api-sample 20] [--cpu-seconds 10]``.
Every container it creates carries the label ``observe.bench`` and is removed at the end, even on failure.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker
from prometheus_client.exposition import generate_latest

from exporters.prometheus import ObserveCollector, core_source, make_registry
from observe.config import load_config
from observe.core import build_core

IMAGE = "observe-test/busybox:1"
LABEL = "observe.bench"


def median_time(fn: Callable[[], Any], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def measure(client: docker.DockerClient, run_id: str, containers: list[Any], api_sample: int,
            cpu_seconds: float) -> dict[str, str]:
    n = len(containers)
    config = load_config({"label_selector": f"{LABEL}={run_id}", "interval": "1s"}, env={})
    core = build_core(config)
    try:
        core.inventory.resync()
        sampler = core.sampler
        sampler.ensure_backend()
        sampler.sweep()
        assert len(sampler.snapshot().stats) == n, (len(sampler.snapshot().stats), n)
        sweep = median_time(sampler.sweep)
        registry = make_registry(ObserveCollector(core_source(core), ()))
        body = generate_latest(registry)
        scrape = median_time(lambda: generate_latest(registry))

        core.start_sampler()
        cpu0, wall0 = time.process_time(), time.monotonic()
        deadline = wall0 + cpu_seconds
        while time.monotonic() < deadline:
            generate_latest(registry)
            time.sleep(max(0.0, min(1.0, deadline - time.monotonic())))
        cpu_per_s = (time.process_time() - cpu0) / (time.monotonic() - wall0)
    finally:
        core.stop()

    names = [c.name for c in containers]
    t0 = time.perf_counter()
    subprocess.run(["docker", "stats", "--no-stream", *names], check=True, capture_output=True, timeout=1200)
    cli = time.perf_counter() - t0

    sample = containers[: min(api_sample, n)]
    t0 = time.perf_counter()
    for c in sample:
        c.stats(stream=False)
    per = (time.perf_counter() - t0) / len(sample)
    api = f"{'~' if len(sample) < n else ''}{fmt(per * n)}"
    return {
        "containers": str(n),
        "sweep": fmt(sweep),
        "scrape": fmt(scrape),
        "exposition": f"{len(body) / 1024:.0f} KiB",
        "cpu/s (1 s interval)": f"{cpu_per_s * 100:.1f} %",
        "docker stats --no-stream": fmt(cli),
        "docker-py stats(stream=False)": api,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,300")
    parser.add_argument("--api-sample", type=int, default=20, help="containers timed with docker-py's one-shot call")
    parser.add_argument("--cpu-seconds", type=float, default=10.0, help="wall time of the CPU measurement")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    run_id = uuid.uuid4().hex[:8]
    client = docker.from_env(timeout=120)
    made: list[Any] = []
    rows = []
    try:
        for size in sizes:
            t0 = time.perf_counter()
            while len(made) < size:
                made.append(client.containers.run(IMAGE, ["sleep", "3600"], detach=True, network_mode="none",
                                                  labels={LABEL: run_id}, name=f"obs-bench-{run_id}-{len(made)}"))
            print(f"{size} containers running ({time.perf_counter() - t0:.0f} s to start)", file=sys.stderr)
            rows.append(measure(client, run_id, list(made), args.api_sample, args.cpu_seconds))
            print(rows[-1], file=sys.stderr)
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
