"""Run profiles as data: what every profile trains for every task, how, and the shared helpers.

Four profiles exist:

* ``smoke``: CI, seconds per notebook; exercises every code path on tiny sizes.
* ``demo``: the default; a laptop CPU, minutes per notebook; a reduced version of the paper's
  experiment that each chapter states plainly.
* ``paper``: the paper's settings (:mod:`nnrnn.paper`); meant for a GPU or a Dask cluster.
* ``replicate``: the paper's sequence lengths and models with a reduced, two-stage search
  (:mod:`nnrnn.replicate`); the chapters render it from the committed run archive.

:data:`SWEEPS` holds every profile's sweep of every synthetic task as data (scales, learning
rates, seeds and the fixed :class:`nnrnn.train.TrainConfig` fields), :func:`get` returns one of
them with its executor; :func:`nnrnn.sweep.grid` builds the grid from it. :data:`LM_RUNS` and
:data:`LM_EXECUTION` do the same for the language-model chapters (:func:`nnrnn.lm.profile_configs`,
:func:`nnrnn.lm.execution`). A new profile is a table entry here. The ``replicate`` profile has
no single grid (its second stage depends on the first stage's results), so :func:`get` points to
:mod:`nnrnn.replicate` for it.

Examples:
    >>> s = get("copy", "demo")
    >>> s["lrs"], s["base"]["T"], s["executor"]
    ((0.0005, 0.0003), 100, 'local')
"""

from __future__ import annotations

import copy
from typing import Any, Literal, Sequence

import torch

from . import paper as _paper
from . import validate
from .tasks import stream_generator

__all__ = [
    "Profile",
    "PROFILES",
    "SWEEPS",
    "EXECUTOR",
    "PSMNIST_N_TEST",
    "LM_RUNS",
    "LM_EXECUTION",
    "get",
    "check_profile",
    "resolve_device",
    "cell_timeout",
    "generator",
]

Profile = Literal["smoke", "demo", "paper", "replicate"]
PROFILES: tuple[str, ...] = ("smoke", "demo", "paper", "replicate")
_DEVICES = ("auto", "cpu", "cuda")

#: per-cell execution timeout (seconds) that papermill enforces for each profile; ``replicate``
#: renders stored runs, as fast as ``demo``.
_CELL_TIMEOUT = {"smoke": 300, "demo": 1800, "paper": 48 * 3600, "replicate": 1800}

#: the executor of a profile's sweeps (:func:`nnrnn.sweep.run_sweep`): tiny runs in this process,
#: the others one run per CPU core.
EXECUTOR: dict[str, str] = {"smoke": "serial", "demo": "local", "paper": "local", "replicate": "local"}

#: MNIST test digits behind the psMNIST test accuracy (:func:`nnrnn.pages.live_sweep.evaluate_psmnist_test_set`);
#: smoke uses a subset, and says so.
PSMNIST_N_TEST: dict[str, int] = {"smoke": 500, "demo": _paper.N_MNIST_TEST, "paper": _paper.N_MNIST_TEST,
                                  "replicate": _paper.N_MNIST_TEST}

_SCALES_ONE = {"identity": (1.0,), "orthogonal": (1.0,), "chain": (1.0,), "fb_chain": (0.04,)}
_SCALES_TWO = {"identity": (1.0, 1.02), "orthogonal": (1.0, 1.02), "chain": (1.0, 1.02), "fb_chain": (0.02, 0.04)}
_SMOKE_BASE = dict(T=30, hidden_size=16, n_train=64, n_val=32, epochs=2, evals_per_epoch=2)
_DEMO_BASE = dict(T=100, hidden_size=100, n_train=32_000, n_val=1_000, epochs=1, evals_per_epoch=10)
_PAPER = {"scales": _paper.PAPER_SCALES, "lrs": _paper.PAPER_LRS, "seeds": _paper.PAPER_SEEDS}
_PSMNIST_N = _paper.PSMNIST_HIDDEN_TEXT

#: every profile's sweep per task: ``scales`` (initializer -> scales), ``lrs``, ``seeds`` and
#: ``base`` (the fixed TrainConfig fields). ``paper`` is the paper's grid and settings; psMNIST's
#: ``paper`` base holds 10,000 training digits out for validation (the authors validated on the
#: test digits), our choice.
SWEEPS: dict[str, dict[str, dict[str, Any]]] = {
    "copy": {
        "smoke": {"scales": _SCALES_ONE, "lrs": (1e-3,), "seeds": (1, 2), "base": _SMOKE_BASE},
        "demo": {"scales": _SCALES_TWO, "lrs": (5e-4, 3e-4), "seeds": (1, 2, 3), "base": _DEMO_BASE},
        "paper": {**_PAPER, "base": _paper.SYNTHETIC_BASE},
    },
    "addition": {
        "smoke": {"scales": _SCALES_ONE, "lrs": (1e-3,), "seeds": (1, 2), "base": _SMOKE_BASE},
        "demo": {"scales": _SCALES_TWO, "lrs": (3e-4, 1e-4), "seeds": (1, 2, 3), "base": _DEMO_BASE},
        "paper": {**_PAPER, "base": _paper.SYNTHETIC_BASE},
    },
    "psmnist": {
        "smoke": {"scales": _SCALES_ONE, "lrs": (1e-3,), "seeds": (1,),
                  "base": dict(hidden_size=_PSMNIST_N, n_train=64, n_val=64, epochs=1, evals_per_epoch=2)},
        "demo": {"scales": _SCALES_ONE, "lrs": (8e-4, 3e-4), "seeds": (1, 2, 3),
                 "base": dict(hidden_size=_PSMNIST_N, n_train=58_000, n_val=2_000, epochs=1, evals_per_epoch=6)},
        "paper": {**_PAPER, "base": dict(_paper.SYNTHETIC_BASE, hidden_size=_PSMNIST_N,
                                         n_train=_paper.N_MNIST_TRAIN - 10_000, n_val=10_000)},
    },
}

_LM_RNN_INITS = ("identity", "orthogonal", "chain", "fb_chain")
_LM_LSTM_INITS = ("orthogonal", "chain", "plain", "mixed")
_LM_TINY = dict(bptt=20, batch_size=8, eval_batch_size=8, test_batch_size=8, epochs=2, evals_per_epoch=1,
                train_tokens=8_000, valid_tokens=2_000, test_tokens=2_000, lr=3e-3, when=())

#: every profile's language-model runs per chapter, keyed ``(cell, profile)`` (chapter 07 ``"rnn"``,
#: 09 ``"lstm"``): ``corpora`` (``None``: all of :data:`nnrnn.lm.CORPORA`), ``inits``, ``n_seeds``
#: and ``changes``, the config fields that differ from :func:`nnrnn.lm.paper_config`'s;
#: :func:`nnrnn.lm.profile_configs` builds the configs. ``demo`` must fit about 15 minutes per
#: chapter on two CPU cores, ``smoke`` a few seconds. ``paper`` is the paper's runs at one scale
#: per initializer (:data:`nnrnn.lm.DEFAULT_SCALE`), where its Table 1 is the best of a 21-value
#: scale sweep (``grid=True``); the paper states no LSTM scales (the authors' code defaults).
LM_RUNS: dict[tuple[str, str], dict[str, Any]] = {
    ("rnn", "smoke"): dict(corpora=("ptb-char",), inits=_LM_RNN_INITS, n_seeds=1,
                           changes=dict(_LM_TINY, nlayers=1, emsize=16, nhid=16)),
    ("rnn", "demo"): dict(
        corpora=("ptb-char",), inits=_LM_RNN_INITS, n_seeds=2,
        changes=dict(nlayers=1, emsize=128, nhid=128, bptt=100, batch_size=32, eval_batch_size=32,
                     test_batch_size=10, epochs=1, evals_per_epoch=8, train_tokens=None,
                     valid_tokens=100_000, test_tokens=None, lr=2e-3, when=()),
    ),
    ("rnn", "paper"): dict(corpora=None, inits=_LM_RNN_INITS, n_seeds=len(_paper.LM_SEEDS), changes={}),
    ("lstm", "smoke"): dict(corpora=("ptb-char",), inits=_LM_LSTM_INITS, n_seeds=1,
                            changes=dict(_LM_TINY, nlayers=2, emsize=16, nhid=16)),
    ("lstm", "demo"): dict(
        corpora=("ptb-char",), inits=_LM_LSTM_INITS, n_seeds=2,
        changes=dict(nlayers=2, emsize=64, nhid=64, bptt=100, batch_size=32, eval_batch_size=32,
                     test_batch_size=10, epochs=1, evals_per_epoch=5, train_tokens=3_000_000,
                     valid_tokens=100_000, test_tokens=None, lr=2e-3, when=(),
                     # a small model trained briefly: light dropout, as for the vanilla demo
                     dropout=0.1, dropouth=0.1, dropouti=0.1, dropoute=0.0, wdrop=0.1),
    ),
    ("lstm", "paper"): dict(corpora=None, inits=_LM_LSTM_INITS, n_seeds=len(_paper.LM_SEEDS), changes={}),
}
#: how each profile's language-model runs execute by default (:func:`nnrnn.lm.execution`): ``smoke``
#: in this process on one thread, ``demo`` one run per CPU core, ``paper`` here with every thread
#: (or a Dask cluster of GPU workers).
LM_EXECUTION: dict[str, dict[str, Any]] = {
    "smoke": {"executor": "serial", "threads": 1},
    "demo": {"executor": "local", "threads": 1},
    "paper": {"executor": "serial", "threads": None},
}


def check_profile(profile: str, allowed: Sequence[str] = PROFILES) -> str:
    """Return ``profile`` if it is one of ``allowed`` (default: every profile), else raise a ValueError.

    Examples:
        >>> check_profile("demo")
        'demo'
        >>> check_profile("replicate", ("smoke", "demo", "paper"))
        Traceback (most recent call last):
        ...
        ValueError: profile must be one of ['smoke', 'demo', 'paper'], got 'replicate'
    """
    return validate.choice(profile, "profile", tuple(allowed))


def get(task: str, profile: str) -> dict[str, Any]:
    """The sweep of ``task`` on ``profile`` as data: ``scales``, ``lrs``, ``seeds``, ``base`` and ``executor``.

    psMNIST's also holds ``n_test``, the test digits of its test accuracy. The result is a copy:
    changing it changes nothing here. ``"replicate"`` has no single grid: its runs come from
    :func:`nnrnn.replicate.pilot_grid` and :func:`nnrnn.replicate.stage2_grid`.

    Examples:
        >>> get("psmnist", "smoke")["n_test"], get("copy", "paper")["base"]["n_train"]
        (500, 60000)
        >>> get("copy", "replicate")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: the 'replicate' profile has no single grid: its runs come in two stages from nnrnn.replicate ...
    """
    check_profile(profile)
    task = validate.choice(task, "task", tuple(SWEEPS))
    if profile == "replicate":
        raise ValueError(
            "the 'replicate' profile has no single grid: its runs come in two stages from nnrnn.replicate "
            f"(pilot_grid({task!r}), then stage2_grid({task!r}, selection)); run `python -m nnrnn.replicate "
            f"--task {task}`"
        )
    out = copy.deepcopy(SWEEPS[task][profile])
    out["executor"] = EXECUTOR[profile]
    if task == "psmnist":
        out["n_test"] = PSMNIST_N_TEST[profile]
    return out


def resolve_device(device: str = "auto") -> torch.device:
    """Resolve ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Examples:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if not isinstance(device, str) or not (device in _DEVICES or device.startswith("cuda:")):
        raise validate.error("device", f"one of {list(_DEVICES)} or 'cuda:N'", device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but CUDA is not available; use 'cpu' or 'auto'")
    return torch.device(device)


def cell_timeout(profile: str) -> int:
    """Per-cell timeout in seconds used when papermill executes a notebook on ``profile``.

    Examples:
        >>> cell_timeout("replicate") == cell_timeout("demo")
        True
    """
    return _CELL_TIMEOUT[check_profile(profile)]


def generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` seeded with ``seed``: :func:`nnrnn.tasks.stream_generator` ``(seed)``.

    The theory chapters' single random stream; the global RNG is never touched.

    Examples:
        >>> a, b = generator(3), generator(3)
        >>> bool(torch.equal(torch.rand(2, generator=a), torch.rand(2, generator=b)))
        True
    """
    return stream_generator(seed, device=device)
