"""``python -m ai_core <command>``: command-line tools of appinsights-otel.

Commands:
    doctor   check the configuration the app would use and send one test item (ai_core.doctor)
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from ai_core.version import __version__

DESCRIPTION = (
    "Command-line tools for appinsights-otel (Azure Monitor Application Insights on "
    "OpenTelemetry). Run 'python -m ai_core <command> --help' for a command's options."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ai_core", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version="appinsights-otel %s" % __version__)
    commands = parser.add_subparsers(dest="command", metavar="<command>", title="commands")
    # Each command module adds its own sub-parser and sets `handler`; new commands go here.
    from ai_core import doctor

    doctor.add_parser(commands)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
