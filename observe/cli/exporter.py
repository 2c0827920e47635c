"""``observe exporter`` (the Prometheus endpoint) and ``observe autoscale`` (the current autoscaling decisions).

The exporter face (and prometheus_client) is imported inside the handlers, so that the core's
CLI never loads it for other commands.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from typing import TYPE_CHECKING, Any

from observe.cli.common import command, dumps, render_table, stop_signal, wait_for_stop
from observe.config import Config
from observe.core import build_core
from observe.errors import ConfigError
from observe.units import parse_duration

if TYPE_CHECKING:
    from exporters.autoscale.actuator import ScalePlan
    from exporters.autoscale.decision import Decision


def _exporter_args(p: argparse.ArgumentParser) -> None:
    """No options of its own: --listen, --interval, --label-allowlist, --web-* and --autoscale-* are common options."""


@command("exporter", "serve Prometheus metrics of the selected containers on --listen until SIGTERM/Ctrl-C",
         stoppable=True)(
    _exporter_args)
def cmd_exporter(args: argparse.Namespace, config: Config) -> int:
    from exporters import start_exporting

    core = build_core(config)
    exporting = None
    with stop_signal() as done:
        try:
            exporting = start_exporting(core)
            wait_for_stop(done)
        finally:
            if exporting is not None:
                exporting.stop()
            core.stop()
    return 0


def _autoscale_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("table", "json"), default="table", help="table for people, json for scripts "
                   "(with --watch: one JSON line per changed decision)")
    p.add_argument("--watch", action="store_true", help="keep evaluating and print again whenever a decision changes")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--apply", action="store_true", default=None,
                      help="really create and remove replicas of compose services (same as --autoscale-apply)")
    mode.add_argument("--dry-run", action="store_true", help="only say what would be done (the default)")
    p.add_argument("--wait", default=None, metavar="DURATION",
                   help="how long to measure before the first print (default: 3 sampling intervals, at least 3s)")


def _print_decisions(decisions: list[Decision], errors: list[str], fmt: str, watch: bool) -> None:
    from exporters.autoscale.report import render_decisions

    print(render_decisions(decisions, errors, fmt, watch, time.time(), render_table, dumps))
    sys.stdout.flush()


@command("autoscale", "print the autoscaling decisions of every service group with a policy "
                      "(--watch to follow, --apply to scale compose services)")(_autoscale_args)
def cmd_autoscale(args: argparse.Namespace, config: Config) -> int:
    from exporters.autoscale.engine import AutoscaleEngine, AutoscaleOptions

    try:
        wait = parse_duration(args.wait) if args.wait is not None else max(3 * config.interval, 3.0)
    except ValueError as err:
        raise ConfigError(f"invalid value for --wait: {err}") from None
    apply = False if args.dry_run else (True if args.apply else None)
    options = AutoscaleOptions.from_config(config, apply)
    plans: list[tuple[ScalePlan, bool]] = []

    def on_plan(plan: ScalePlan, applying: bool) -> None:
        plans.append((plan, applying))

    core = build_core(config)
    engine = AutoscaleEngine(core, options, on_plan=on_plan)
    try:
        core.start_sampler()
        rounds = max(1, math.ceil(wait / options.interval))
        for _ in range(rounds):
            time.sleep(options.interval)
            engine.evaluate()
        shown: dict[str, Any] = {}
        _flush_plans(plans, args.format)
        current = engine.decisions()
        _print_decisions(current, engine.errors(), args.format, watch=False)
        shown = {d.service: (d.current, d.desired, d.limited) for d in current}
        with contextlib.suppress(KeyboardInterrupt):
            while args.watch:
                time.sleep(options.interval)
                engine.evaluate()
                _flush_plans(plans, args.format)
                current = engine.decisions()
                state = {d.service: (d.current, d.desired, d.limited) for d in current}
                changed = [d for d in current if shown.get(d.service) != state[d.service]]
                if changed or set(shown) != set(state):
                    _print_decisions(changed if args.format == "json" else current, [], args.format, watch=True)
                    shown = state
    finally:
        engine.stop()
        core.stop()
    return 0


def _flush_plans(plans: list[tuple[ScalePlan, bool]], fmt: str) -> None:
    from exporters.autoscale.report import render_plan

    while plans:
        plan, applying = plans.pop(0)
        print(render_plan(plan, applying, fmt, dumps))
