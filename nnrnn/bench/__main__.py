"""``python -m nnrnn.bench rnn|sweep ...``: see :func:`nnrnn.bench.main`."""

import sys

from . import main

if __name__ == "__main__":  # not when a spawned benchmark process imports this module as __mp_main__
    sys.exit(main())
