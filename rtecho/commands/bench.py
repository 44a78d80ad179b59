"""``rtecho bench [env] [options]``: the same benchmark as ``python -m rtecho.bench``."""

from __future__ import annotations

import argparse

NAME = "bench"
HELP = "latency of every model on every backend and precision through the stream processor"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from rtecho.bench.cli import add_arguments as add_bench_arguments

    p.add_argument("what", nargs="?", choices=("env",), help="`env`: print the environment and exit")
    add_bench_arguments(p)


def run(args: argparse.Namespace) -> int:
    if args.what == "env":
        from rtecho.bench.env import environment, format_environment

        print(format_environment(environment()))
        return 0
    from rtecho.bench.cli import run as run_bench

    return run_bench(args)
