"""The ``observe`` command line, the top floor: parse flags, build the core, start the faces.

Only this package turns ``ObserveError`` into exit codes and one-line messages, and only this
package under ``observe/`` imports a face (``exporters``, ``tui``, ``dashboards``), each inside
the handler that needs it so that other commands never load it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from observe import __version__, termination
from observe.cli import dashboards, exporter, info, logs, tui
from observe.cli.common import COMMANDS, STOPPABLE
from observe.config import OPTIONS, load_config
from observe.errors import ConfigError, ObserveError
from observe.logs.workers import SHARD_ENV
from observe.ownlog import setup_logging

# The command modules, in the order ``observe --help`` lists their commands.
COMMAND_MODULES = (info, logs, exporter, tui, dashboards)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"observe: {message} (see '{self.prog} --help')\n")


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
    args.argv = list(sys.argv[1:] if argv is None else argv)  # `observe run --workers` starts itself again
    if not args.command:
        parser.print_help()
        return 2
    if args.command not in STOPPABLE:
        termination.release()  # only the commands that wait for SIGTERM keep one sent during start-up
    flags: dict[str, Any] = {o.name: getattr(args, o.name) for o in OPTIONS if hasattr(args, o.name)}
    try:
        config = load_config(flags, config_file=getattr(args, "config", None))
    except ConfigError as err:
        print(f"observe: {err}", file=sys.stderr)
        return err.exit_code
    shard = os.environ.get(SHARD_ENV)
    setup_logging(config.log_level, config.log_format, fluentd=config.own_logs_fluentd,
                  static={"worker": shard} if shard else None)
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
