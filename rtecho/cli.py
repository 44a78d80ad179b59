"""The ``rtecho`` command line: ``rtecho SUBCOMMAND ...``.

Subcommands are the modules of :mod:`rtecho.commands`, discovered at start-up.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from rtecho._version import __version__
from rtecho.errors import RtechoError

log = logging.getLogger("rtecho")


def build_parser() -> argparse.ArgumentParser:
    import rtecho.commands as pkg

    parser = argparse.ArgumentParser(prog="rtecho", description="Real-time echo view recognition.")
    parser.add_argument("--version", action="version", version=f"rtecho {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rtecho`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args._run(args) or 0)
    except RtechoError as exc:
        print(f"rtecho {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rtecho {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
