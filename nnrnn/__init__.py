"""nnrnn: a reproducible companion to Orhan & Pitkow (ICLR 2020),
"Improved memory in recurrent neural networks with sequential non-normal dynamics".

Importing the package has no side effects: no seeding, no downloads, no style changes.
Submodules are imported on first attribute access, so ``import nnrnn`` stays cheap.
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

_SUBMODULES = (
    "analysis",
    "bench",
    "book",
    "cli",
    "data",
    "decoding",
    "executors",
    "init",
    "lm",
    "lockstep",
    "memory",
    "models",
    "pages",
    "paper",
    "plotting",
    "profiles",
    "psmnist",
    "replicate",
    "resources",
    "results",
    "stats",
    "store",
    "sweep",
    "sweep_cli",
    "tasks",
    "train",
    "validate",
    "verdicts",
    "verify",
    "weights",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
