"""TUI responsiveness and memory: 100 containers, one of them logging ``--rate`` lines/s (2,000).

The app runs headless (Textual's ``run_test``) over the real core and engine, with the noisy
container's logs pane open and following. It measures:

- opening the noisy container's detail until its first log lines are in the view, and until the screen
  showing them has been painted (six times; polled with ``asyncio.sleep``, not ``Pilot.pause``, which
  forces a screen update at each call);
- the process's CPU with the logs pane open and following, before any key is pressed (``--idle-cpu``);
- key press to screen update: the time from sending a key until the app has handled it and
  the screen has been refreshed with the change visible in the widget (Pilot waits for the
  screen to be idle), for a cheap key (cursor move in the logs pane), a heavy one (level
  filter: refilters the 10,000 buffered records) and the containers table (sort change over
  100 rows);
- the process's RSS and CPU every ``--sample`` seconds over ``--duration`` seconds, while keys are pressed
  (cursor moves and the level filter, which refilters the history, twice a second);
- the log lines the pane received per second (and any it dropped);
- the same keys "to screen" (``to_screen``): from the key until the handler has run and the next
  frame is composited, without Pilot's wait for the whole process to be idle (which, with the
  core's log threads in the process, mostly measures them).

Every container carries the label ``observe.bench`` and is removed at the end, even on failure.
Usage: ``python bench/bench_tui.py --duration 300``. The sampler's history (300 samples per
container, bounded) fills during the first ``300 x --interval`` seconds, so RSS rises that long
and is flat afterwards; ``--interval 0.2`` fills it within the first minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import events

from observe.config import load_config
from observe.core import build_core
from tui.app import ObserveApp, make_app
from tui.logview import LogView
from tui.panes import LogsPane
from tui.runtime import tune_process
from tui.screens.detail import DetailScreen

IMAGE = "observe-test/busybox:1"
LABEL = "observe.bench"
def noisy(rate: int) -> str:
    """A shell loop logging about ``rate`` JSON lines a second (2% errors), in bursts ten times a second."""
    burst = max(10, rate // 10)
    return (
        f'while true; do yes \'{{"level":"info","msg":"GET /orders 200 14ms user=42 trace=4bf92f3577b34da6"}}\' '
        f"| head -n {burst - burst // 50}; yes '{{\"level\":\"error\",\"msg\":\"payment failed: timeout\"}}' "
        f"| head -n {burst // 50}; sleep 0.1; done"
    )


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def timed_press(pilot: Any, key: str) -> float:
    """Seconds from sending ``key`` until the app has handled it and refreshed the screen.

    ``Pilot.press`` posts the key, waits until the app is idle (the handler ran) and then for
    the screen's pending refreshes to be processed, which is when the change is on screen.
    """
    start = time.perf_counter()
    await pilot.press(key)
    return time.perf_counter() - start


async def to_screen(app: Any, key: str, changed: Any, timeout: float = 5.0) -> float | None:
    """Seconds from sending ``key`` until its effect is painted; None if it changed nothing in ``timeout``.

    The key goes in as a terminal's would (the driver's queue); the clock stops when ``changed()``
    (the handler ran) and then the screen's next refresh has been composited. Unlike ``timed_press``
    it does not wait for the whole process to be idle: the core's log threads, in the same process,
    keep it busy at 2,000 lines/s, so "idle" measures them, not the screen.
    """
    start = time.perf_counter()
    app._driver.send_message(events.Key(key, key if len(key) == 1 else None))
    while not changed():
        if time.perf_counter() - start > timeout:
            return None
        await asyncio.sleep(0.001)
    painted = asyncio.Event()
    app.screen.call_after_refresh(painted.set)
    await asyncio.wait_for(painted.wait(), timeout)
    return time.perf_counter() - start


def summary(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values)
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1), "max_ms": round(ms[-1], 1)}


async def run(run_id: str, noisy_id: str, duration: float, sample: float, count: int,
              interval: float, idle_cpu: float = 20.0) -> dict[str, Any]:
    config = load_config({"label_selector": f"{LABEL}={run_id}", "interval": f"{interval}s"}, env={})
    core = build_core(config)
    core.start_sampler()
    app: ObserveApp = make_app(core)
    tune_process()  # as ``observe tui`` does before it runs the app
    out: dict[str, Any] = {}
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            main = app.main
            deadline = time.monotonic() + 120
            while len(main.shown_ids()) < count and time.monotonic() < deadline:
                await pilot.pause(0.2)
            out["rows"] = len(main.shown_ids())
            log(f"{out['rows']} rows shown")

            sort_lat = []
            for _ in range(11):
                before = main.sort_key
                sort_lat.append(await timed_press(pilot, "o"))
                assert main.sort_key != before, "the sort key press had no effect"
                await pilot.pause(0.2)
            sort_screen = []
            for _ in range(11):
                sort_was = main.sort_key
                took = await to_screen(app, "o", lambda b=sort_was: main.sort_key != b)
                if took is not None:
                    sort_screen.append(took)
                await pilot.pause(0.2)
            main.sort_by("name")
            await pilot.pause(0.2)

            open_lat: list[float] = []
            open_painted: list[float] = []
            for _ in range(6):  # open the noisy container's detail: time to its first log lines on screen
                start = time.perf_counter()
                app.open_detail(noisy_id, "logs")
                # polled without Pilot.pause, which forces a screen update at each call (every 5 ms here)
                while not (isinstance(app.screen, DetailScreen) and app.screen.query(LogView)
                           and app.screen.query_one(LogView).entries):
                    await asyncio.sleep(0.002)
                open_lat.append(time.perf_counter() - start)
                painted = asyncio.Event()
                app.screen.call_after_refresh(painted.set)
                await asyncio.wait_for(painted.wait(), 5)
                open_painted.append(time.perf_counter() - start)
                await pilot.pause(0.5)
                await pilot.press("escape")
                while isinstance(app.screen, DetailScreen):
                    await pilot.pause(0.01)
                await pilot.pause(0.3)
            out["latency_open_to_first_lines"] = summary(open_lat)
            out["latency_open_to_first_lines_painted"] = summary(open_painted)
            log(f"open to first lines: {out['latency_open_to_first_lines']}, "
                f"painted: {out['latency_open_to_first_lines_painted']}")
            app.open_detail(noisy_id, "logs")
            while not isinstance(app.screen, DetailScreen) or not app.screen.query(LogView):
                await pilot.pause(0.05)
            pane = app.screen.query_one(LogsPane)
            view = pane.view
            view.focus()
            await pilot.pause(2)

            log(f"logs pane open; measuring (focus {app.focused!r}, {len(view.entries)} lines shown, "
                f"scroll {view.scroll_offset.y}/{view.max_scroll_y}, virtual {view.virtual_size})")
            cpu_idle0, idle_t0 = time.process_time(), time.monotonic()
            await asyncio.sleep(idle_cpu)  # following, nobody pressing keys
            idle_cpu_percent = round(100 * (time.process_time() - cpu_idle0) / (time.monotonic() - idle_t0), 1)
            log(f"CPU with the logs open and following, no keys: {idle_cpu_percent} %")
            cursor_lat: list[float] = []
            moved = 0
            level_lat: list[float] = []
            cursor_screen: list[float] = []
            level_screen: list[float] = []
            samples: list[dict[str, Any]] = []
            t0 = time.monotonic()
            cpu0 = time.process_time()
            received0 = pane.feed.received
            next_sample = t0
            rss_start = rss_bytes()
            while time.monotonic() - t0 < duration:
                now = time.monotonic()
                if now >= next_sample:
                    samples.append({"t": round(now - t0, 1), "rss_mib": round(rss_bytes() / 2**20, 1),
                                    "received": pane.feed.received - received0, "dropped": pane.feed.dropped,
                                    "buffer": len(pane.buffer), "view": len(view.entries),
                                    "cpu_s": round(time.process_time() - cpu0, 2)})
                    next_sample += sample
                for key in ("up", "up", "down"):
                    before = view.cursor
                    cursor_lat.append(await timed_press(pilot, key))
                    moved += view.cursor != before
                before_level = pane.query_.min_level
                level_lat.append(await timed_press(pilot, "l"))
                assert pane.query_.min_level != before_level, "the level key press had no effect"
                await pilot.pause(0.5)
                at = view.cursor
                took = await to_screen(app, "up", lambda b=at: view.cursor != b)
                if took is not None:
                    cursor_screen.append(took)
                level_was = pane.query_.min_level
                took = await to_screen(app, "l", lambda b=level_was: pane.query_.min_level != b)
                if took is not None:
                    level_screen.append(took)
                await pilot.pause(0.5)
            elapsed = time.monotonic() - t0
            out.update({
                "duration_s": round(elapsed, 1),
                "lines_per_s_received": round((pane.feed.received - received0) / elapsed),
                "dropped": pane.feed.dropped,
                "cpu_percent_of_one_core": round(100 * (time.process_time() - cpu0) / elapsed, 1),
                "cpu_percent_logs_open_no_keys": idle_cpu_percent,
                "rss_start_mib": round(rss_start / 2**20, 1),
                "rss_end_mib": round(rss_bytes() / 2**20, 1),
                "rss_max_mib": max(s["rss_mib"] for s in samples),
                "latency_sort_100_rows": summary(sort_lat),
                "latency_cursor_move": summary(cursor_lat),
                "cursor_presses_that_moved": f"{moved}/{len(cursor_lat)}",
                "latency_level_filter_10k": summary(level_lat),
                "to_screen_sort_100_rows": summary(sort_screen),
                "to_screen_cursor_move": summary(cursor_screen),
                "to_screen_level_filter": summary(level_screen),
                "samples": samples,
            })
    finally:
        core.stop()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of the measured run")
    parser.add_argument("--sample", type=float, default=15.0, help="seconds between memory samples")
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--rate", type=int, default=2000, help="lines/s the noisy container logs")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="stats sampling interval; the sampler keeps 300 samples per container, so its rings "
                             "fill (and the process grows) for 300 x interval seconds, then stay flat")
    parser.add_argument("--idle-cpu", type=float, default=20.0,
                        help="seconds of CPU measured with the logs open and following before any key is pressed")
    parser.add_argument("--out", default=str(Path(__file__).parent / "out" / "tui.json"))
    args = parser.parse_args()
    client = docker.from_env(timeout=120)
    run_id = uuid.uuid4().hex[:8]
    try:
        noisy_c = client.containers.run(IMAGE, ["sh", "-c", noisy(args.rate)], detach=True, network_mode="none",
                                      labels={LABEL: run_id}, name=f"obs-bench-{run_id}-noisy")
        for i in range(args.containers - 1):
            client.containers.run(IMAGE, ["sleep", "3600"], detach=True, network_mode="none",
                                  labels={LABEL: run_id, "com.docker.compose.service": f"svc{i % 10}"},
                                  name=f"obs-bench-{run_id}-{i:03d}")
        log(f"{args.containers} containers started")
        result = asyncio.run(run(run_id, noisy_c.id, args.duration, args.sample, args.containers, args.interval,
                                 args.idle_cpu))
    finally:
        for c in client.containers.list(all=True, filters={"label": f"{LABEL}={run_id}"}):
            c.remove(force=True)
        client.close()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    brief = {k: v for k, v in result.items() if k != "samples"}
    print(json.dumps(brief, indent=2))
    print("memory over time (MiB):", " ".join(f"{s['t']:.0f}s:{s['rss_mib']}" for s in result["samples"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
