"""CLI subcommands. Each module here defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``; :mod:`rtecho.cli` discovers them. Heavy imports go inside ``run``."""
