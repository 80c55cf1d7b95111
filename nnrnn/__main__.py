"""``python -m nnrnn``: the ``nnrnn`` command (see :mod:`nnrnn.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
