"""The ``observe`` command line: one program, several subcommands.

Only this module turns ``ObserveError`` into exit codes and one-line messages; everything it
runs is built by ``build_core`` from the resolved configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

from observe import __version__
from observe.config import OPTIONS, Config, load_config
from observe.errors import ConfigError, ObserveError
from observe.ownlog import setup_logging

Handler = Callable[[argparse.Namespace, Config], int]
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]] = {}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"observe: {message} (see '{self.prog} --help')\n")


ArgsAdder = Callable[[argparse.ArgumentParser], None]


def command(name: str, help: str) -> Callable[[ArgsAdder], Callable[[Handler], Handler]]:  # noqa: A002 - argparse's word
    """Register a subcommand: a function adding its arguments, then its handler."""

    def with_args(add_args: Callable[[argparse.ArgumentParser], None]) -> Callable[[Handler], Handler]:
        def with_handler(handler: Handler) -> Handler:
            COMMANDS[name] = (help, add_args, handler)
            return handler

        return with_handler

    return with_args


def _common_options() -> _Parser:
    common = _Parser(add_help=False)
    group = common.add_argument_group("configuration (flag > OBSERVE_* env > --config file > default)")
    group.add_argument("--config", dest="config", default=argparse.SUPPRESS, metavar="FILE",
                       help="TOML configuration file (env OBSERVE_CONFIG)")
    for option in OPTIONS:
        # A boolean flag alone means true (`--read-only`); `--read-only false` also works.
        flag_alone: dict[str, Any] = {"nargs": "?", "const": "true"} if isinstance(option.default, bool) else {}
        group.add_argument(
            option.flag,
            dest=option.name,
            default=argparse.SUPPRESS,
            action="append" if option.repeatable else "store",
            metavar=option.metavar,
            help=f"{option.help} (env {option.env})",
            **flag_alone,
        )
    return common


def build_parser() -> argparse.ArgumentParser:
    # Commands register themselves on import; keep this import here so `observe --help`
    # works even when a face's dependencies are broken.
    from observe import cmd_dashboards, cmd_exporter, cmd_logs, cmd_tui, commands  # noqa: F401

    common = _common_options()
    parser = _Parser(prog="observe", description="Observability for Docker containers: logs, metrics, live debugging.",
                     parents=[common])
    parser.add_argument("--version", action="version", version=f"observe {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (help_text, add_args, _) in COMMANDS.items():
        sub = subs.add_parser(name, help=help_text, description=help_text, parents=[common])
        add_args(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    flags: dict[str, Any] = {o.name: getattr(args, o.name) for o in OPTIONS if hasattr(args, o.name)}
    try:
        config = load_config(flags, config_file=getattr(args, "config", None))
    except ConfigError as err:
        print(f"observe: {err}", file=sys.stderr)
        return err.exit_code
    setup_logging(config.log_level, config.log_format, fluentd=config.own_logs_fluentd)
    _, _, handler = COMMANDS[args.command]
    try:
        return handler(args, config)
    except ObserveError as err:
        print(f"observe: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`observe events | head`): not an error of ours.
        sys.stderr.close()
        return 0


@contextlib.contextmanager
def stop_signal() -> Iterator[threading.Event]:
    """An event set by SIGTERM (and Ctrl-C), for the long-running commands' main loops."""
    done = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: done.set())
    try:
        yield done
    finally:
        signal.signal(signal.SIGTERM, previous)


def wait_for_stop(done: threading.Event, give_up: Callable[[], bool] = lambda: False) -> None:
    """Block until SIGTERM, Ctrl-C or ``give_up()`` says so (checked twice a second)."""
    with contextlib.suppress(KeyboardInterrupt):
        while not done.wait(0.5) and not give_up():
            pass


def now_utc() -> datetime:
    return datetime.now(UTC)


def dumps(value: Any, pretty: bool = False) -> str:
    return json.dumps(value, indent=2 if pretty else None, default=str, ensure_ascii=False)
