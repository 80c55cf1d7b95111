"""``python -m nnrnn.lm``: see :mod:`nnrnn.lm.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
