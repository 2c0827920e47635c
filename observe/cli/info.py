"""The subcommands of the foundation: ps, inspect, events, config.

Each handler gets the parsed arguments and the resolved configuration, builds the core,
and prints. Later faces (logs, run, exporter, tui ...) register in their own modules.
"""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import datetime
from typing import Any

from observe.cli.common import command, dumps, now_utc, render_table
from observe.config import Config
from observe.core import build_core
from observe.model import ContainerInfo
from observe.timefmt import format_datetime
from observe.units import format_duration


def ps_row(c: ContainerInfo, now: datetime) -> dict[str, Any]:
    """The fields ``observe ps --format json`` prints for one container."""
    return {
        "id": c.id,
        "name": c.name,
        "service": c.service.name,
        "service_kind": c.service.kind,
        "image": c.image,
        "image_id": c.image_id,
        "state": c.state,
        "health": c.health or None,
        "exit_code": c.exit_code,
        "restarts": c.restart_count,
        "started_at": format_datetime(c.started_at) if c.started_at else None,
        "uptime_seconds": None if (u := c.uptime(now)) is None else round(u, 3),
        "labels": dict(c.labels),
    }


def _ps_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="include stopped containers")
    p.add_argument("--format", choices=("table", "json"), default="table", help="table for people, json for scripts")


@command("ps", "list containers with their service group, state, health, uptime and restarts")(_ps_args)
def cmd_ps(args: argparse.Namespace, config: Config) -> int:
    core = build_core(config)
    try:
        core.inventory.resync()
        containers = core.inventory.containers(include_stopped=args.all)
    finally:
        core.stop()
    now = now_utc()
    if args.format == "json":
        print(dumps([ps_row(c, now) for c in containers], pretty=True))
        return 0
    rows = []
    for c in containers:
        state = c.state if c.state != "exited" else f"exited ({c.exit_code})"
        rows.append([c.name, c.service.name, c.image, state, c.health or "-", format_duration(c.uptime(now)) or "-",
                     str(c.restart_count)])
    print(render_table(["NAME", "SERVICE", "IMAGE", "STATE", "HEALTH", "UPTIME", "RESTARTS"], rows))
    return 0


def _inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("container", metavar="NAME|ID", help="container name, id or id prefix")
    p.add_argument("--format", choices=("pretty", "json"), default="pretty", help="pretty (indented) or one-line json")


@command("inspect", "print a container's inspect document")(_inspect_args)
def cmd_inspect(args: argparse.Namespace, config: Config) -> int:
    core = build_core(config)
    try:
        doc = core.inspect(args.container)
    finally:
        core.stop()
    print(dumps(doc, pretty=args.format == "pretty"))
    return 0


def _events_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("json", "text"), default="json", help="JSON lines (default) or text")


@command("events", "stream normalised container events as JSON lines until Ctrl-C")(_events_args)
def cmd_events(args: argparse.Namespace, config: Config) -> int:
    core = build_core(config)
    out_lock = threading.Lock()

    def show(event: Any) -> None:
        record = event.to_dict()
        if args.format == "json":
            line = dumps(record)
        else:
            extra = f" health={event.health}" if event.health else ""
            extra += f" exit={event.exit_code}" if event.exit_code is not None else ""
            line = f"{record['@timestamp']} {event.action:14} {event.name}{extra}"
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    core.inventory.subscribe_events(show)
    done = threading.Event()
    try:
        core.start()
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        core.stop()
    return 0


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("table", "json"), default="table", help="table or json")


@command("config", "print the effective configuration and where each value came from")(_config_args)
def cmd_config(args: argparse.Namespace, config: Config) -> int:
    rows = config.effective()
    if args.format == "json":
        print(dumps({name: {"value": value, "source": source} for name, value, source in rows}, pretty=True))
        return 0
    print(render_table(["OPTION", "VALUE", "SOURCE"], [[n, dumps(v) if not isinstance(v, str) else v, s]
                                                      for n, v, s in rows]))
    return 0
