"""``observe dashboards export DIR``: the Grafana dashboards, provisioning examples and Prometheus rules, for a user.

The files are package data of the ``dashboards`` package, imported inside the handler so
other commands never load it.
"""

from __future__ import annotations

import argparse

from observe.cli.common import command
from observe.config import Config


def _dashboards_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("export",), help="export: write the files under DIR")
    p.add_argument("directory", metavar="DIR", help="where to write grafana/ and prometheus/ (created if needed)")
    p.add_argument("--force", action="store_true", help="overwrite files that exist with other content")


@command("dashboards", "write the Grafana dashboards, provisioning examples and Prometheus rules to a directory")(
    _dashboards_args)
def cmd_dashboards(args: argparse.Namespace, config: Config) -> int:
    from dashboards import export

    for path in export(args.directory, force=args.force):
        print(path)
    return 0
