"""``python -m rtecho.bench``: see :mod:`rtecho.bench` and ``--help``."""

import sys

from rtecho.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
