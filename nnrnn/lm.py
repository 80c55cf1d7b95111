r"""Language modelling with vanilla RNNs and LSTMs (Orhan & Pitkow, 2020, §3.2, §3.3).

The paper ran its language models inside ``salesforce/awd-lstm-lm`` (Merity et al., 2018a,b),
with the LSTM replaced by a vanilla RNN (Table 1, Fig. 4) or kept and initialized per gate
(Table 3, Fig. 6). This module re-implements the parts of that code base the results depend
on, in one place:

* **Model** (:class:`LanguageModel`): embedding → ``nlayers`` recurrent layers → linear
  decoder, with awd-lstm-lm's sizes: layer ``l`` maps ``emsize`` (l = 0) or ``nhid`` to
  ``nhid``, and the last layer to ``emsize`` when the decoder is **tied** to the embedding (we
  chose tied, awd-lstm-lm's default), so ``decoder.weight is encoder.weight``. Vanilla layers
  are :class:`nnrnn.models.ElmanRNN` (our engine, ``tanh`` by default); LSTM layers are
  ``torch.nn.LSTM``, one per layer as in awd-lstm-lm.
* **Regularization** as in awd-lstm-lm: variational ("locked") dropout on the embedding output
  (``dropouti``), between layers (``dropouth``) and on the last output (``dropout``); embedding
  dropout of whole words (``dropoute``); DropConnect on the recurrent matrices (``wdrop``);
  activation (``ar_alpha``) and temporal activation (``tar_beta``) regularization. Every mask is
  drawn from the model's ``dropout_generator``, so a run is deterministic per seed without
  touching torch's global random state.
* **Training** (:func:`train_lm`): truncated BPTT over :func:`nnrnn.data.batchify` columns,
  awd-lstm-lm's random window lengths (``bptt`` with probability 0.95, else ``bptt/2``, then
  Gaussian jitter of s.d. 5, at least 5, with the learning rate scaled by ``seq_len/bptt``),
  hidden state carried across windows, Adam with weight decay, gradient-norm clipping, the
  learning rate divided by 10 after each epoch in ``when`` (as awd-lstm-lm, after that epoch's
  validation, so epoch ``e + 1`` is the first at the lower rate), and the weights of the best
  validation point kept for the test.
* **Metric** (:func:`evaluate`): the mean negative log-likelihood of every next token of a
  split, with the hidden state carried across windows exactly as awd-lstm-lm evaluates, in
  **bits**: :math:`\mathrm{bits} = \mathrm{nats}/\ln 2`. For words this is
  :math:`\log_2` perplexity (the paper's Table 1 unit), for characters bits per character. We
  divide by the number of predicted tokens; awd-lstm-lm's ``evaluate`` divides by
  ``batch × rows`` of the batchified split, one row more, so its value is ours times
  ``1 - 1/rows`` (a relative difference near 10⁻⁵ on the test splits at batch 1).

Initializers, by name (``LMConfig.init``):

========== ===================================================== ==============================
name       vanilla RNN (each layer)                              LSTM (each gate block, i f g o)
========== ===================================================== ==============================
identity   λI, input N(0, (0.9/√N)²)                             —
orthogonal λQ (Haar), input N(0, (0.9/√N)²)                      λQ per gate, input Gaussian
chain      α chain (sub-diagonal), input 0.9·I                   α chain per gate, input 0.9·I
fb_chain   ``fb_alpha`` chain + β feedback, input 0.9·I          ``fb_alpha`` (0.99) chain + β
plain      torch's U(−1/√N, 1/√N) for both matrices              torch's default everywhere
mixed      —                                                     ramp in i, f, o; α chain in g
========== ===================================================== ==============================

``scale`` is the initializer's one tuned number (λ, α or β; ``None`` picks
:data:`DEFAULT_SCALE`). Vanilla biases start at zero (the Keras default of the authors'
synthetic-task code); LSTM biases keep torch's default U(−1/√N, 1/√N) under every scheme.
The embedding and decoder start as in awd-lstm-lm: U(−0.1, 0.1) weights and a zero decoder
bias. All draws come from one generator per run.

Runs are stored by config hash under ``<results root>/runs/lm-<corpus>/<hash>/`` in the
layout of :mod:`nnrnn.sweep`: ``history.csv``, ``weights.pt`` (the best-validation ``state_dict``, read back with
``weights_only=True``) and, written last, ``config.json`` (config, hash, result summary,
provenance). :func:`sweep` trains what is missing, in this process or through
:mod:`nnrnn.sweep`'s executors (a process pool or a Dask cluster, e.g. of GPU workers), and
loads the rest; long runs keep a resumable checkpoint of the last finished epoch.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import init as _init
from . import store as _store
from .profiles import check_profile, resolve_device

__all__ = [
    "CORPORA",
    "CELLS",
    "INITS",
    "DEFAULT_SCALE",
    "PAPER_SCALE_GRID",
    "PAPER_TABLE1",
    "PAPER_TABLE1_LSTM",
    "PAPER_TABLE3",
    "TOKEN_UNITS",
    "nats_to_bits",
    "bits_to_perplexity",
    "LMConfig",
    "paper_config",
    "profile_configs",
    "execution",
    "scale_grid",
    "settings_table",
    "LanguageModel",
    "build_model",
    "evaluate",
    "train_lm",
    "LMResult",
    "run_dir",
    "is_done",
    "run",
    "run_one",
    "load_run",
    "load_model",
    "sweep",
    "LMRuns",
    "summarize",
    "results_table",
    "lstm_pulse_response",
    "gate_profiles",
    "profile_shape",
    "GATE_NAMES",
]

Corpus = Literal["ptb", "ptb-char", "enwik8"]
Cell = Literal["rnn", "lstm"]
Cache = Literal["auto", "require", "off"]

CORPORA: tuple[str, ...] = ("ptb", "ptb-char", "enwik8")
CELLS: tuple[str, ...] = ("rnn", "lstm")
INITS: dict[str, tuple[str, ...]] = {
    "rnn": ("identity", "orthogonal", "chain", "fb_chain", "plain"),
    "lstm": ("orthogonal", "chain", "fb_chain", "plain", "mixed"),
}
#: what the metric is per token, for axis labels and tables.
TOKEN_UNITS = {"ptb": "bits per word", "ptb-char": "bits per character", "enwik8": "bits per character"}

#: the scale used when ``LMConfig.scale`` is ``None``. The paper tuned the vanilla scales over
#: :data:`PAPER_SCALE_GRID` and does not report the winners; these are our choices (the LSTM
#: values are the authors' code defaults: 1.02 chains, 0.04 feedback).
DEFAULT_SCALE: dict[str, dict[str, float | None]] = {
    "rnn": {"identity": 1.0, "orthogonal": 1.0, "chain": 1.0, "fb_chain": 0.04, "plain": None},
    "lstm": {"orthogonal": 1.0, "chain": 1.02, "fb_chain": 0.04, "plain": None, "mixed": 1.02},
}
#: forward gain of the feedback chain when ``LMConfig.fb_alpha`` is ``None``: the vanilla
#: default chain α (the paper fixes it at the best chain value), and the authors' 0.99 in LSTMs.
DEFAULT_FB_ALPHA = {"rnn": 1.0, "lstm": 0.99}
#: end value of the mixed initializer's ramp (the authors' ``ramp_init(end_gain=0.01)``).
DEFAULT_RAMP_GAIN = 0.01

#: the paper's vanilla-RNN scale grids (§5): 21 values each, 3 seeds per value.
PAPER_SCALE_GRID: dict[str, tuple[float, ...]] = {
    "identity": tuple(round(0.05 + 0.05 * k, 2) for k in range(21)),
    "orthogonal": tuple(round(0.05 + 0.05 * k, 2) for k in range(21)),
    "chain": tuple(round(0.05 + 0.05 * k, 2) for k in range(21)),
    "fb_chain": tuple(round(0.01 * (k + 1), 2) for k in range(21)),
}

#: Table 1 of the paper: test loss in bits (mean, s.e.m. over 3 runs) of vanilla RNN LMs.
PAPER_TABLE1: dict[str, dict[str, tuple[float, float]]] = {
    "identity": {"ptb": (6.550, 0.002), "ptb-char": (1.312, 0.000), "enwik8": (1.783, 0.003)},
    "orthogonal": {"ptb": (6.557, 0.002), "ptb-char": (1.312, 0.001), "enwik8": (1.843, 0.046)},
    "chain": {"ptb": (6.514, 0.001), "ptb-char": (1.308, 0.000), "enwik8": (1.803, 0.017)},
    "fb_chain": {"ptb": (6.510, 0.001), "ptb-char": (1.307, 0.000), "enwik8": (1.774, 0.002)},
}
#: Table 1's 3-layer LSTM row, quoted there from Merity et al. (2018a,b).
PAPER_TABLE1_LSTM: dict[str, float] = {"ptb": 5.878, "ptb-char": 1.175, "enwik8": 1.232}
#: Table 3 of the paper: test loss in bits (mean, s.e.m. over 3 runs) of 3-layer LSTM LMs.
PAPER_TABLE3: dict[str, dict[str, tuple[float, float]]] = {
    "orthogonal": {"ptb": (5.937, 0.002), "ptb-char": (1.230, 0.001), "enwik8": (1.583, 0.001)},
    "chain": {"ptb": (5.935, 0.001), "ptb-char": (1.230, 0.001), "enwik8": (1.586, 0.000)},
    "plain": {"ptb": (5.949, 0.007), "ptb-char": (1.245, 0.001), "enwik8": (1.584, 0.002)},
    "mixed": {"ptb": (5.944, 0.004), "ptb-char": (1.227, 0.000), "enwik8": (1.577, 0.001)},
}

#: LSTM gate blocks in torch's stacking order, with the paper's names (Fig. 6).
GATE_NAMES = {"i": "input gate", "f": "forget gate", "g": "update (cell) gate", "o": "output gate"}

_LN2 = math.log(2.0)


# ----------------------------------------------------------------------------- units
def nats_to_bits(nats: float) -> float:
    r"""Convert a mean log-loss from nats to bits: :math:`\mathrm{bits} = \mathrm{nats} / \ln 2`.

    Examples:
        >>> nats_to_bits(math.log(8))          # a uniform guess among 8 symbols
        3.0
        >>> round(nats_to_bits(math.log(58.8)), 3)   # AWD-LSTM's test perplexity, in bits
        5.878
    """
    return float(nats) / _LN2


def bits_to_perplexity(bits: float) -> float:
    r"""Perplexity from bits per token: :math:`2^{\mathrm{bits}}`.

    Examples:
        >>> round(bits_to_perplexity(6.510), 1)    # the paper's best vanilla RNN on word PTB
        91.1
    """
    return float(2.0 ** float(bits))


# ----------------------------------------------------------------------------- config
def _check_int(value: Any, name: str, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_float(value: Any, name: str, *, lo: float = 0.0, hi: float | None = None, open_lo: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < lo or (open_lo and value == lo) or (hi is not None and value >= hi):
        rng = f"({lo}, " if open_lo else f"[{lo}, "
        rng += f"{hi})" if hi is not None else "inf)"
        raise ValueError(f"{name} must be in {rng}, got {value!r}")


#: config fields that do not change what a run computes; left out of the hash.
NON_HASHED = ("device",)


@dataclass(frozen=True)
class LMConfig:
    """Everything one language-model run depends on (the run store hashes it).

    The defaults are the paper's word-PTB vanilla-RNN set-up on awd-lstm-lm's sizes; use
    :func:`paper_config` for the per-corpus settings and :func:`profile_configs` for the
    book's profiles.

    Args:
        corpus: ``"ptb"`` (words), ``"ptb-char"`` or ``"enwik8"``.
        cell: ``"rnn"`` (vanilla, our engine) or ``"lstm"``.
        init: an initializer in ``INITS[cell]``.
        scale: the initializer's scale (λ, α or β); ``None`` means :data:`DEFAULT_SCALE`.
            Must be ``None`` for ``plain``.
        fb_alpha: forward gain of ``fb_chain``; ``None`` means :data:`DEFAULT_FB_ALPHA`.
            Ignored (stored as ``None``) for other initializers.
        ramp_gain: end value of the ``mixed`` ramp (LSTM); ``None`` means 0.01.
        nonlinearity: vanilla RNN's ``"tanh"`` (default), ``"relu"`` or ``"elu"``; ``None`` for LSTMs.
        emsize, nhid, nlayers: embedding size, hidden size, number of layers.
        tied: tie the decoder to the embedding (the last layer then has ``emsize`` units).
        dropout, dropouth, dropouti, dropoute, wdrop: awd-lstm-lm's five dropouts.
        bptt: mean window length of truncated BPTT (also the evaluation window).
        variable_bptt: awd-lstm-lm's random window lengths (see the module docstring).
        batch_size, eval_batch_size, test_batch_size: columns of the batchified splits
            (awd-lstm-lm: 10 for validation, 1 for test).
        lr, wdecay, clip: Adam learning rate and weight decay; gradient-norm clip.
        when: epochs (1-based) after whose end (and validation) the learning rate is divided
            by 10, as in awd-lstm-lm: ``when=(25,)`` trains epochs 1-25 at ``lr`` and 26 on at
            ``lr / 10``.
        ar_alpha, tar_beta: activation and temporal activation regularization weights.
        epochs: passes over the training tokens.
        evals_per_epoch: validation points per epoch (1 in the paper).
        train_tokens, valid_tokens, test_tokens: use only the first so many tokens of a split
            (``None``: all of it).
        seed: selects the initial weights, the window lengths and the dropout masks, each from
            its own random stream.
        device: where to train; not hashed (a GPU run is reused on a CPU).

    Examples:
        >>> cfg = LMConfig(corpus="ptb-char", init="chain")
        >>> cfg.scale, cfg.fb_alpha, len(cfg.hash())
        (1.0, None, 12)
        >>> LMConfig(cell="lstm", init="identity")
        Traceback (most recent call last):
        ...
        ValueError: unknown initializer 'identity' for cell 'lstm'; expected one of ['orthogonal', 'chain', 'fb_chain', 'plain', 'mixed']
    """

    corpus: str = "ptb"
    cell: str = "rnn"
    init: str = "fb_chain"
    scale: float | None = None
    fb_alpha: float | None = None
    ramp_gain: float | None = None
    nonlinearity: str | None = "tanh"
    emsize: int = 400
    nhid: int = 1150
    nlayers: int = 3
    tied: bool = True
    dropout: float = 0.1
    dropouth: float = 0.1
    dropouti: float = 0.1
    dropoute: float = 0.1
    wdrop: float = 0.1
    bptt: int = 70
    variable_bptt: bool = True
    batch_size: int = 20
    eval_batch_size: int = 10
    test_batch_size: int = 1
    lr: float = 1e-3
    wdecay: float = 1.2e-6
    clip: float = 0.25
    when: tuple[int, ...] = ()
    ar_alpha: float = 2.0
    tar_beta: float = 1.0
    epochs: int = 60
    evals_per_epoch: int = 1
    train_tokens: int | None = None
    valid_tokens: int | None = None
    test_tokens: int | None = None
    seed: int = 1
    device: str = "auto"

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 - frozen dataclass
        if self.corpus not in CORPORA:
            raise ValueError(f"corpus must be one of {list(CORPORA)}, got {self.corpus!r}")
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {list(CELLS)}, got {self.cell!r}")
        if self.init not in INITS[self.cell]:
            raise ValueError(
                f"unknown initializer {self.init!r} for cell {self.cell!r}; expected one of {list(INITS[self.cell])}"
            )
        # resolve defaults, so that the hash names the values actually used
        if self.init == "plain":
            if self.scale is not None:
                raise ValueError(f"initializer 'plain' takes no scale, got scale={self.scale!r}")
        else:
            set_("scale", float(DEFAULT_SCALE[self.cell][self.init] if self.scale is None else self.scale))
            _check_float(self.scale, "scale")
        if self.init == "fb_chain":
            set_("fb_alpha", float(DEFAULT_FB_ALPHA[self.cell] if self.fb_alpha is None else self.fb_alpha))
            _check_float(self.fb_alpha, "fb_alpha")
        else:
            set_("fb_alpha", None)
        if self.cell == "lstm" and self.init == "mixed":
            set_("ramp_gain", float(DEFAULT_RAMP_GAIN if self.ramp_gain is None else self.ramp_gain))
            _check_float(self.ramp_gain, "ramp_gain", lo=-math.inf)
        else:
            set_("ramp_gain", None)
        if self.cell == "lstm":
            set_("nonlinearity", None)
        elif self.nonlinearity not in ("tanh", "relu", "elu"):
            raise ValueError(f"nonlinearity must be one of ['tanh', 'relu', 'elu'], got {self.nonlinearity!r}")
        for name in ("emsize", "nhid", "nlayers", "bptt", "batch_size", "eval_batch_size", "test_batch_size",
                     "epochs", "evals_per_epoch", "seed"):
            _check_int(getattr(self, name), name, 0 if name == "seed" else 1)
        for name in ("dropout", "dropouth", "dropouti", "dropoute", "wdrop"):
            _check_float(getattr(self, name), name, hi=1.0)
        for name in ("train_tokens", "valid_tokens", "test_tokens"):
            if getattr(self, name) is not None:
                _check_int(getattr(self, name), name, 2)
        _check_float(self.lr, "lr", open_lo=True)
        _check_float(self.wdecay, "wdecay")
        _check_float(self.clip, "clip")
        _check_float(self.ar_alpha, "ar_alpha")
        _check_float(self.tar_beta, "tar_beta")
        when = tuple(int(w) for w in self.when)
        for w in when:
            _check_int(w, "when", 1)
        set_("when", when)
        for name in ("tied", "variable_bptt"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if not isinstance(self.device, str):
            raise ValueError(f"device must be a string such as 'auto', 'cpu' or 'cuda', got {self.device!r}")

    # --------------------------------------------------------------------- derived
    def key(self) -> dict[str, Any]:
        """The fields that define the run (everything but :data:`NON_HASHED`)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in NON_HASHED}

    def hash(self) -> str:
        """The run's content hash: its folder name in the run store."""
        return _store.config_hash(self.key())

    def replace(self, **changes: Any) -> "LMConfig":
        """A copy with ``changes``; resolved defaults are re-derived when the init changes."""
        if "init" in changes or "cell" in changes:
            for k in ("scale", "fb_alpha", "ramp_gain"):
                changes.setdefault(k, None)
            if changes.get("cell", self.cell) == "rnn":
                changes.setdefault("nonlinearity", self.nonlinearity or "tanh")
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LMConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown LMConfig fields {unknown}; expected some of {sorted(names)}")
        d = dict(d)
        if "when" in d:
            d["when"] = tuple(d["when"])
        return cls(**d)

    @property
    def layer_sizes(self) -> list[tuple[int, int]]:
        """``(input, hidden)`` size of each recurrent layer, as in awd-lstm-lm.

        Examples:
            >>> LMConfig(emsize=400, nhid=1150, nlayers=3).layer_sizes
            [(400, 1150), (1150, 1150), (1150, 400)]
        """
        sizes = []
        for layer in range(self.nlayers):
            n_in = self.emsize if layer == 0 else self.nhid
            n_out = self.nhid if layer != self.nlayers - 1 else (self.emsize if self.tied else self.nhid)
            sizes.append((n_in, n_out))
        return sizes


#: awd-lstm-lm's README commands per corpus (sizes, batch, optimizer), for the LSTMs.
_AWD = {
    "ptb": dict(nlayers=3, emsize=400, nhid=1150, bptt=70, batch_size=20, lr=1e-3, wdecay=1.2e-6, when=(),
                ar_alpha=2.0, tar_beta=1.0, epochs=60),
    "ptb-char": dict(nlayers=3, emsize=200, nhid=1000, bptt=150, batch_size=128, lr=2e-3, wdecay=1.2e-6,
                     when=(300, 400), ar_alpha=0.0, tar_beta=0.0, epochs=500),
    "enwik8": dict(nlayers=3, emsize=400, nhid=1840, bptt=200, batch_size=128, lr=1e-3, wdecay=1.2e-6,
                   when=(25, 35), ar_alpha=0.0, tar_beta=0.0, epochs=35),
}
#: dropouts: vanilla RNNs as the paper states (§5); LSTMs as awd-lstm-lm's commands.
_DROPOUTS = {
    ("rnn", "ptb"): dict(dropout=0.1, dropouth=0.1, dropouti=0.1, dropoute=0.1, wdrop=0.1),
    ("rnn", "ptb-char"): dict(dropout=0.1, dropouth=0.1, dropouti=0.1, dropoute=0.0, wdrop=0.1),
    ("rnn", "enwik8"): dict(dropout=0.0, dropouth=0.0, dropouti=0.0, dropoute=0.0, wdrop=0.0),
    ("lstm", "ptb"): dict(dropout=0.4, dropouth=0.25, dropouti=0.4, dropoute=0.1, wdrop=0.5),
    ("lstm", "ptb-char"): dict(dropout=0.1, dropouth=0.25, dropouti=0.1, dropoute=0.0, wdrop=0.5),
    ("lstm", "enwik8"): dict(dropout=0.4, dropouth=0.1, dropouti=0.1, dropoute=0.0, wdrop=0.2),
}


def paper_config(corpus: str, cell: str = "rnn", init: str = "fb_chain", seed: int = 1, **changes: Any) -> LMConfig:
    """The paper-scale config of one run: awd-lstm-lm's sizes and the paper's epochs and dropouts.

    * sizes, batch, window, learning rate and schedule: awd-lstm-lm's README command for the
      corpus (word PTB: 3×1150, emsize 400, bptt 70, batch 20; char PTB: 3×1000, emsize 200,
      bptt 150, batch 128, lr 2e-3, ``when`` 300 400; enwik8: 3×1840, emsize 400, bptt 200,
      batch 128, lr 1e-3, ``when`` 25 35). awd-lstm-lm trains word PTB with SGD/ASGD at lr 30;
      the paper used Adam, and we chose lr 1e-3 for it;
    * epochs: the paper's 60 (word), 500 (char) and 35 (enwik8);
    * dropouts: vanilla RNNs as the paper states (all 0.1 for words; 0.1 except ``dropoute = 0``
      for characters, our reading of a garbled sentence; all 0 for enwik8); LSTMs as
      awd-lstm-lm's commands;
    * AR/TAR: awd-lstm-lm's 2 and 1 for words, 0 for characters (its char commands).

    Examples:
        >>> c = paper_config("ptb-char", "rnn", "chain")
        >>> c.nhid, c.bptt, c.batch_size, c.epochs, c.dropoute, c.when
        (1000, 150, 128, 500, 0.0, (300, 400))
    """
    if corpus not in CORPORA:
        raise ValueError(f"corpus must be one of {list(CORPORA)}, got {corpus!r}")
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {list(CELLS)}, got {cell!r}")
    kw: dict[str, Any] = dict(_AWD[corpus])
    kw.update(_DROPOUTS[(cell, corpus)])
    kw.update(corpus=corpus, cell=cell, init=init, seed=seed, eval_batch_size=10, test_batch_size=1)
    kw.update(changes)
    return LMConfig(**kw)


def scale_grid(init: str) -> tuple[float, ...]:
    """The paper's 21-value scale grid of a vanilla initializer (§5).

    Examples:
        >>> g = scale_grid("chain"); len(g), g[0], g[-1]
        (21, 0.05, 1.05)
        >>> scale_grid("fb_chain")[-1]
        0.21
    """
    if init not in PAPER_SCALE_GRID:
        raise ValueError(f"the paper gives a scale grid only for {sorted(PAPER_SCALE_GRID)}, got {init!r}")
    return PAPER_SCALE_GRID[init]


# Per-profile settings of the two chapters. ``demo`` must fit about 15 minutes per chapter on
# two CPU cores; ``smoke`` a few seconds.
_PROFILE_SETTINGS: dict[tuple[str, str], dict[str, Any]] = {
    ("rnn", "smoke"): dict(
        corpora=("ptb-char",), inits=INITS["rnn"][:4], n_seeds=1,
        changes=dict(nlayers=1, emsize=16, nhid=16, bptt=20, batch_size=8, eval_batch_size=8,
                     test_batch_size=8, epochs=2, evals_per_epoch=1, train_tokens=8_000,
                     valid_tokens=2_000, test_tokens=2_000, lr=3e-3, when=()),
    ),
    ("rnn", "demo"): dict(
        corpora=("ptb-char",), inits=INITS["rnn"][:4], n_seeds=2,
        changes=dict(nlayers=1, emsize=128, nhid=128, bptt=100, batch_size=32, eval_batch_size=32,
                     test_batch_size=10, epochs=1, evals_per_epoch=8, train_tokens=None,
                     valid_tokens=100_000, test_tokens=None, lr=2e-3, when=()),
    ),
    ("rnn", "paper"): dict(corpora=CORPORA, inits=INITS["rnn"][:4], n_seeds=3, changes={}),
    ("lstm", "smoke"): dict(
        corpora=("ptb-char",), inits=("orthogonal", "chain", "plain", "mixed"), n_seeds=1,
        changes=dict(nlayers=2, emsize=16, nhid=16, bptt=20, batch_size=8, eval_batch_size=8,
                     test_batch_size=8, epochs=2, evals_per_epoch=1, train_tokens=8_000,
                     valid_tokens=2_000, test_tokens=2_000, lr=3e-3, when=()),
    ),
    ("lstm", "demo"): dict(
        corpora=("ptb-char",), inits=("orthogonal", "chain", "plain", "mixed"), n_seeds=2,
        changes=dict(nlayers=2, emsize=64, nhid=64, bptt=100, batch_size=32, eval_batch_size=32,
                     test_batch_size=10, epochs=1, evals_per_epoch=5, train_tokens=3_000_000,
                     valid_tokens=100_000, test_tokens=None, lr=2e-3, when=(),
                     # a small model trained briefly: light dropout, as for the vanilla demo
                     dropout=0.1, dropouth=0.1, dropouti=0.1, dropoute=0.0, wdrop=0.1),
    ),
    ("lstm", "paper"): dict(corpora=CORPORA, inits=("orthogonal", "chain", "plain", "mixed"), n_seeds=3, changes={}),
}


#: how each profile's runs are executed by default (see :func:`execution`).
_EXECUTION = {
    "smoke": {"executor": "serial", "threads": 1},
    "demo": {"executor": "local", "threads": 1},
    "paper": {"executor": "serial", "threads": None},
}


def execution(profile: str) -> dict[str, Any]:
    """Default :func:`sweep` execution for a profile: ``executor`` and ``threads``.

    ``smoke`` trains in this process on one thread (tiny models gain nothing from more, and a
    busy machine makes extra threads slow); ``demo`` trains one run per CPU core in a process
    pool; ``paper`` trains here with every thread (or pass a Dask cluster of GPU workers).

    Examples:
        >>> execution("demo")
        {'executor': 'local', 'threads': 1}
    """
    return dict(_EXECUTION[check_profile(profile)])


def profile_configs(
    cell: str,
    profile: str,
    *,
    seed: int = 0,
    corpora: Sequence[str] | None = None,
    inits: Sequence[str] | None = None,
    n_seeds: int | None = None,
    grid: bool = False,
    **changes: Any,
) -> list[LMConfig]:
    """The runs behind a chapter: every (corpus, init, seed) of ``profile``.

    * ``smoke``: character PTB, 8,000 training tokens, one tiny layer (seconds);
    * ``demo``: character PTB on a subset of the training split, small models, one pass (see
      the chapters for sizes; about 15 minutes per chapter on two CPU cores);
    * ``paper``: :func:`paper_config` on word PTB, character PTB and enwik8 with 3 seeds.

    Seeds are ``seed + 1, ..., seed + n_seeds`` (the paper's 1, 2, 3 for ``seed = 0``). With
    ``grid=True`` (vanilla only) every init runs on its paper scale grid (:func:`scale_grid`);
    otherwise at :data:`DEFAULT_SCALE`. Extra keyword arguments override config fields.

    Examples:
        >>> cfgs = profile_configs("rnn", "smoke")
        >>> len(cfgs), cfgs[0].corpus, sorted({c.init for c in cfgs})
        (4, 'ptb-char', ['chain', 'fb_chain', 'identity', 'orthogonal'])
        >>> len(profile_configs("rnn", "paper", grid=True))      # 3 corpora x 4 inits x 21 x 3
        756
    """
    check_profile(profile)
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {list(CELLS)}, got {cell!r}")
    s = _PROFILE_SETTINGS[(cell, profile)]
    corpora = tuple(s["corpora"] if corpora is None else corpora)
    inits = tuple(s["inits"] if inits is None else inits)
    n = s["n_seeds"] if n_seeds is None else n_seeds
    _check_int(n, "n_seeds")
    _check_int(seed, "seed", 0)
    if grid and cell != "rnn":
        raise ValueError("the paper gives scale grids only for vanilla RNNs (cell='rnn')")
    out = []
    for corpus in corpora:
        for init in inits:
            scales: Iterable[float | None] = scale_grid(init) if grid else (None,)
            for scale in scales:
                for k in range(n):
                    kw = dict(s["changes"])
                    kw.update(changes)
                    out.append(paper_config(corpus, cell, init, seed + 1 + k, scale=scale, **kw))
    return out


def _settings(cfgs: Sequence[LMConfig]) -> dict[str, str]:
    c = cfgs[0]
    sizes = " → ".join([str(c.emsize)] + [str(n) for _, n in c.layer_sizes])
    cell = f"vanilla ({c.nonlinearity})" if c.cell == "rnn" else "LSTM"
    toks = lambda n: "all" if n is None else f"first {n:,}"  # noqa: E731
    return {
        "corpus": c.corpus,
        "recurrent layers": f"{c.nlayers} {cell}",
        "sizes (embedding → layers)": sizes,
        "decoder": "tied to the embedding" if c.tied else "untied",
        "BPTT window / batch": f"{c.bptt} / {c.batch_size}",
        "optimizer": f"Adam, lr {c.lr:g}, weight decay {c.wdecay:g}, clip {c.clip:g}"
        + (f", lr ÷10 after epochs {', '.join(map(str, c.when))}" if c.when else ""),
        "dropout (out/between/in/embedding/weights)": "/".join(
            f"{getattr(c, k):g}" for k in ("dropout", "dropouth", "dropouti", "dropoute", "wdrop")
        ),
        "AR / TAR": f"{c.ar_alpha:g} / {c.tar_beta:g}",
        "epochs": f"{c.epochs}",
        "training tokens": toks(c.train_tokens),
        "validation tokens": toks(c.valid_tokens) + f" ({c.evals_per_epoch}× per epoch)",
        "test tokens (batch)": toks(c.test_tokens) + f" ({c.test_batch_size})",
        "initializers": ", ".join(dict.fromkeys(x.init for x in cfgs)),
        "scales": ", ".join(
            f"{i}: {', '.join(f'{v:g}' for v in dict.fromkeys(x.scale for x in cfgs if x.init == i))}"
            for i in dict.fromkeys(x.init for x in cfgs) if i != "plain"
        ),
        "seeds": ", ".join(str(v) for v in dict.fromkeys(x.seed for x in cfgs)),
        "runs": f"{len(cfgs)}",
    }


def settings_table(configs: Sequence[LMConfig], label: str = "this run") -> pd.DataFrame:
    """What ``configs`` train, beside the paper-scale settings, one column pair per corpus.

    Examples:
        >>> t = settings_table(profile_configs("rnn", "smoke"), "smoke")
        >>> t.loc["epochs"].tolist()
        ['2', '500']
    """
    cols = {}
    for corpus in dict.fromkeys(c.corpus for c in configs):
        mine = [c for c in configs if c.corpus == corpus]
        paper = [paper_config(corpus, mine[0].cell, i, s) for i in dict.fromkeys(c.init for c in mine)
                 for s in (1, 2, 3)]
        ours, theirs = _settings(mine), _settings(paper)
        theirs["scales"] = "tuned over 21 values each (§5)" if mine[0].cell == "rnn" else "not stated"
        theirs["runs"] = f"{len(paper) * (21 if mine[0].cell == 'rnn' else 1)}"
        cols[f"{corpus}: {label}"] = ours
        if label != "paper":
            cols[f"{corpus}: paper"] = theirs
    t = pd.DataFrame(cols).drop(index="corpus")
    t.index.name = "setting"
    return t


# ----------------------------------------------------------------------------- model
def _locked_dropout(x: Tensor, p: float, generator: torch.Generator | None) -> Tensor:
    """Variational dropout: one mask per sequence, shared by every step of ``x (T, B, H)``."""
    mask = x.new_empty(1, x.shape[1], x.shape[2]).bernoulli_(1 - p, generator=generator).div_(1 - p)
    return x * mask


def _uniform_(t: Tensor, bound: float, generator: torch.Generator | None) -> None:
    with torch.no_grad():
        t.copy_((2 * torch.rand(t.shape, generator=generator, dtype=torch.float64) - 1) * bound)


class LanguageModel(nn.Module):
    """Embedding → recurrent layers → (tied) decoder, as in awd-lstm-lm's ``RNNModel``.

    Build it with :func:`build_model` (which also initializes it); the constructor leaves the
    weights as the layer classes make them. Inputs are time-major token ids ``(T, B)``.

    Args:
        ntoken: vocabulary size.
        cfg: the :class:`LMConfig` (cell, sizes, dropouts, tying).

    ``forward(tokens, hidden)`` returns ``(logits (T, B, ntoken), hidden)``; with
    ``return_h=True`` also the last layer's raw and dropped outputs (for AR/TAR).
    ``dropout_generator`` (default ``None``: torch's global RNG) supplies every dropout mask.
    """

    def __init__(self, ntoken: int, cfg: LMConfig) -> None:
        super().__init__()
        _check_int(ntoken, "ntoken")
        self.cfg = cfg
        self.ntoken = int(ntoken)
        # construction draws torch's default init from the global RNG; fork it so the
        # caller's global random state is left untouched (the weights are re-drawn anyway)
        with torch.random.fork_rng(devices=[]):
            self.encoder = nn.Embedding(ntoken, cfg.emsize)
            layers: list[nn.Module] = []
            for n_in, n_out in cfg.layer_sizes:
                if cfg.cell == "rnn":
                    from .models import ElmanRNN

                    layers.append(ElmanRNN(n_in, n_out, cfg.nonlinearity, bias=True, batch_first=False))
                else:
                    layers.append(nn.LSTM(n_in, n_out))
            self.rnns = nn.ModuleList(layers)
            self.decoder = nn.Linear(cfg.layer_sizes[-1][1], ntoken)
        if cfg.tied:
            self.decoder.weight = self.encoder.weight
        self.dropout_generator: torch.Generator | None = None

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Initialize every weight by the config's initializer, drawing from ``generator``."""
        cfg = self.cfg
        with torch.no_grad():
            _uniform_(self.encoder.weight, 0.1, generator)
            if not cfg.tied:
                _uniform_(self.decoder.weight, 0.1, generator)
            self.decoder.bias.zero_()
            for layer in self.rnns:
                if cfg.cell == "rnn":
                    _init_rnn_layer(layer, cfg, generator)
                else:
                    _init_lstm_layer(layer, cfg, generator)

    def init_hidden(self, bsz: int) -> list:
        """Zero initial state: per layer a ``(B, N)`` tensor (vanilla) or an ``(h, c)`` pair (LSTM)."""
        w = self.encoder.weight
        hidden = []
        for _, n in self.cfg.layer_sizes:
            if self.cfg.cell == "rnn":
                hidden.append(w.new_zeros(bsz, n))
            else:
                hidden.append((w.new_zeros(1, bsz, n), w.new_zeros(1, bsz, n)))
        return hidden

    def _embed(self, tokens: Tensor) -> Tensor:
        w = self.encoder.weight
        p = self.cfg.dropoute
        if self.training and p > 0:
            mask = w.new_empty(w.shape[0], 1).bernoulli_(1 - p, generator=self.dropout_generator).div_(1 - p)
            w = w * mask
        return F.embedding(tokens, w)

    def _layer(self, layer: nn.Module, x: Tensor, h):
        """Run one recurrent layer; in training, with DropConnect on its recurrent matrix."""
        p = self.cfg.wdrop
        if self.training and p > 0:
            name = "weight_hh" if self.cfg.cell == "rnn" else "weight_hh_l0"
            w = getattr(layer, name)
            wd = w * w.new_empty(w.shape).bernoulli_(1 - p, generator=self.dropout_generator).div_(1 - p)
            return torch.func.functional_call(layer, {name: wd}, (x, h))
        return layer(x, h)

    def forward(self, tokens: Tensor, hidden: list, return_h: bool = False):
        g = self.dropout_generator
        x = self._embed(tokens)
        if self.training and self.cfg.dropouti > 0:
            x = _locked_dropout(x, self.cfg.dropouti, g)
        new_hidden = []
        raw = dropped = x
        last = len(self.rnns) - 1
        for k, (layer, h) in enumerate(zip(self.rnns, hidden)):
            raw, h_new = self._layer(layer, x, h)
            new_hidden.append(h_new)
            p = self.cfg.dropout if k == last else self.cfg.dropouth
            dropped = _locked_dropout(raw, p, g) if (self.training and p > 0) else raw
            x = dropped
        logits = self.decoder(dropped)
        if return_h:
            return logits, new_hidden, raw, dropped
        return logits, new_hidden


def _init_rnn_layer(layer: nn.Module, cfg: LMConfig, g: torch.Generator | None) -> None:
    if cfg.init == "plain":
        layer.reset_parameters(generator=g)  # torch's U(-1/sqrt(N), 1/sqrt(N)), zero bias
        return
    if cfg.init == "fb_chain":
        _init.fb_chain_(layer.weight_hh, cfg.scale, cfg.fb_alpha)
        _init.source_(layer.weight_ih)
    else:
        _init.init_rnn_(layer.weight_hh, layer.weight_ih, cfg.init, cfg.scale, generator=g)
    if layer.bias is not None:
        layer.bias.zero_()


def _init_lstm_layer(layer: nn.LSTM, cfg: LMConfig, g: torch.Generator | None) -> None:
    n = layer.hidden_size
    w_hh, w_ih = layer.weight_hh_l0, layer.weight_ih_l0
    if cfg.init == "plain":
        _init.lstm_(w_hh, "plain", weight_ih=w_ih, generator=g)
    elif cfg.init == "orthogonal":
        _init.lstm_(w_hh, "orthogonal", weight_ih=w_ih, gain=cfg.scale, generator=g)
    elif cfg.init == "chain":
        _init.lstm_(w_hh, "chain", weight_ih=w_ih, alpha=cfg.scale, generator=g)
    elif cfg.init == "mixed":
        _init.lstm_(w_hh, "mixed", weight_ih=w_ih, alpha=cfg.scale, end_gain=cfg.ramp_gain, generator=g)
    else:
        _init.lstm_(w_hh, "fb_chain", weight_ih=w_ih, beta=cfg.scale, fb_alpha=cfg.fb_alpha, generator=g)
    bound = 1.0 / math.sqrt(n)
    _uniform_(layer.bias_ih_l0, bound, g)
    _uniform_(layer.bias_hh_l0, bound, g)


def _stream(seed: int, name: str, device: str | torch.device = "cpu") -> torch.Generator:
    from .tasks import stream_generator

    return stream_generator(seed, f"lm:{name}", device)


def build_model(cfg: LMConfig, ntoken: int, *, device: str | torch.device = "cpu") -> LanguageModel:
    """Build and initialize the model of ``cfg`` (weights drawn from the run's ``init`` stream).

    Examples:
        >>> cfg = LMConfig(corpus="ptb-char", cell="lstm", init="mixed", nlayers=2, emsize=4, nhid=6)
        >>> m = build_model(cfg, ntoken=50)
        >>> g = m.rnns[0].weight_hh_l0[12:18].detach()      # update gate g of layer 0: a 1.02 chain
        >>> round(float(g[1, 0]), 2), float(g[0, 1]), m.decoder.weight is m.encoder.weight
        (1.02, 0.0, True)
        >>> logits, h = m(torch.zeros(5, 3, dtype=torch.long), m.init_hidden(3))
        >>> tuple(logits.shape)
        (5, 3, 50)
    """
    model = LanguageModel(ntoken, cfg)
    model.reset_parameters(_stream(cfg.seed, "init"))
    return model.to(device)


def _repackage(h):
    """Detach a hidden state (tensor, tuple or list of them) from its history."""
    if isinstance(h, Tensor):
        return h.detach()
    return type(h)(_repackage(v) for v in h)


# ----------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate(model: LanguageModel, tokens: Tensor, *, batch_size: int, bptt: int) -> float:
    """Mean negative log-likelihood (nats) of every next token of ``tokens``, awd-lstm-lm style.

    ``tokens`` (1-D) is cut into ``batch_size`` columns with :func:`nnrnn.data.batchify`; the
    model reads them in windows of ``bptt`` rows, carrying its hidden state from window to
    window, from a zero state at the start. Every token but the first of each column is
    predicted once. Dropout is off.

    Examples:
        >>> cfg = LMConfig(corpus="ptb-char", nlayers=1, emsize=4, nhid=4, init="chain")
        >>> m = build_model(cfg, ntoken=7)
        >>> _ = torch.nn.init.zeros_(m.decoder.weight), torch.nn.init.zeros_(m.decoder.bias)  # uniform predictions
        >>> round(evaluate(m, torch.arange(100) % 7, batch_size=4, bptt=10) / math.log(7), 6)
        1.0
    """
    from .data import batchify, get_batch

    was_training = model.training
    model.eval()
    device = model.encoder.weight.device
    source = batchify(tokens, batch_size).to(device)
    hidden = model.init_hidden(batch_size)
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    for i in range(0, source.shape[0] - 1, bptt):
        data, targets = get_batch(source, i, bptt)
        logits, hidden = model(data, hidden)
        total += F.cross_entropy(logits.reshape(-1, model.ntoken), targets, reduction="sum").double()
        count += targets.numel()
    model.train(was_training)
    return float(total) / count


# ----------------------------------------------------------------------------- training
@lru_cache(maxsize=3)
def _corpus(name: str, data_dir: str | None, download: bool):
    from .data import load_corpus

    return load_corpus(name, data_dir=data_dir, download=download)


def _splits(cfg: LMConfig, corpus) -> tuple[Tensor, Tensor, Tensor]:
    def cut(t: Tensor, n: int | None) -> Tensor:
        return t if n is None else t[:n]

    return cut(corpus.train, cfg.train_tokens), cut(corpus.valid, cfg.valid_tokens), cut(corpus.test, cfg.test_tokens)


@dataclass
class LMResult:
    """What one language-model run produced.

    Attributes:
        config: the :class:`LMConfig`.
        history: one row per validation point: ``point`` (its index), ``epoch`` (fractional),
            ``update``,
            ``train_bits`` (mean training loss since the previous point, without AR/TAR),
            ``val_bits``, ``lr`` and ``wall_s``. Row 0 is the untrained model.
        test_bits: test loss in bits of the best-validation weights (NaN if diverged).
        best_val_bits, best_epoch: the best validation point.
        state_dict: the best-validation weights, on the CPU.
        status: ``"finished"`` or ``"diverged"``.
    """

    config: LMConfig
    history: pd.DataFrame
    test_bits: float
    best_val_bits: float
    best_epoch: float
    state_dict: dict[str, Tensor]
    status: str
    wall_s: float
    n_params: int
    ntoken: int
    device: str
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        s = {
            "status": self.status,
            "test_bits": self.test_bits,
            "best_val_bits": self.best_val_bits,
            "best_epoch": self.best_epoch,
            "final_val_bits": float(self.history["val_bits"].iloc[-1]),
            "wall_s": self.wall_s,
            "n_params": self.n_params,
            "ntoken": self.ntoken,
            "device": self.device,
        }
        if self.config.corpus == "ptb":
            s["test_perplexity"] = bits_to_perplexity(self.test_bits) if math.isfinite(self.test_bits) else float("nan")
        s.update(self.extra)
        return s


def _eval_rows(nrows: int, k: int) -> list[int]:
    """Row offsets after which to validate inside an epoch: ``k - 1`` evenly spaced points
    (the ``k``-th is the end of the epoch)."""
    last = nrows - 1
    return sorted({max(1, round(j * last / k)) for j in range(1, k)})


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def train_lm(
    cfg: LMConfig,
    *,
    corpus=None,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    checkpoint: str | os.PathLike | None = None,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
) -> LMResult:
    """Train the language model of ``cfg`` and test its best-validation weights.

    Args:
        cfg: the run's :class:`LMConfig`.
        corpus: a loaded :class:`nnrnn.data.Corpus`; default: load ``cfg.corpus`` (cached per
            process) from ``data_dir`` (see :func:`nnrnn.data.load_corpus`).
        download: allow a download of missing data files.
        device: overrides ``cfg.device``.
        progress: a tqdm bar over windows; ``None`` (default) shows it only on a terminal.
        checkpoint: a file to save a resumable state to at the end of every epoch; if it
            exists, training resumes from it (same config required).
        on_eval: called with each history row.

    Determinism: the initial weights, the window lengths and the dropout masks come from
    three generators seeded from ``cfg.seed``; torch's global RNG is not used. On a GPU some
    kernels are not bitwise deterministic.
    """
    from tqdm import tqdm

    from .data import batchify, get_batch

    t0 = time.perf_counter()
    dev = resolve_device(str(device) if device is not None else cfg.device)
    if corpus is None:
        corpus = _corpus(cfg.corpus, None if data_dir is None else str(data_dir), download)
    ntoken = len(corpus.dictionary)
    train_tok, valid_tok, test_tok = _splits(cfg, corpus)
    train_data = batchify(train_tok, cfg.batch_size).to(dev)
    nrows = train_data.shape[0]
    if nrows < 3:
        raise ValueError(f"{len(train_tok)} training tokens are too few for batch_size={cfg.batch_size}")

    model = build_model(cfg, ntoken, device=dev)
    model.dropout_generator = _stream(cfg.seed, "dropout", dev)
    batch_gen = _stream(cfg.seed, "bptt")
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.wdecay)
    n_params = sum(p.numel() for p in params)

    def val_bits() -> float:
        return nats_to_bits(evaluate(model, valid_tok, batch_size=cfg.eval_batch_size, bptt=cfg.bptt))

    rows: list[dict[str, Any]] = []
    best: dict[str, Any] = {"val": math.inf, "epoch": 0.0, "state": None}
    start_epoch, update, status = 1, 0, "finished"
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.is_file():
        st = torch.load(ckpt, map_location="cpu", weights_only=True)
        if st.get("hash") != cfg.hash():
            raise ValueError(f"checkpoint {ckpt} belongs to config {st.get('hash')}, not {cfg.hash()}")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        rows = list(st["history"])
        best = {"val": st["best_val"], "epoch": st["best_epoch"], "state": st["best_state"]}
        start_epoch, update = int(st["epoch"]) + 1, int(st["update"])
        batch_gen.set_state(st["batch_gen"])
        model.dropout_generator.set_state(st["dropout_gen"])
        t0 -= float(st["wall_s"])

    def record(epoch: float, train_bits: float) -> dict[str, Any]:
        v = val_bits()
        row = {"point": len(rows), "epoch": epoch, "update": update, "train_bits": train_bits, "val_bits": v,
               "lr": opt.param_groups[0]["lr"], "wall_s": time.perf_counter() - t0}
        rows.append(row)
        if v < best["val"]:
            best.update(val=v, epoch=epoch, state={k: t.detach().to("cpu").clone() for k, t in model.state_dict().items()})
        if on_eval is not None:
            on_eval(row)
        return row

    if not rows:
        record(0.0, float("nan"))
    points = _eval_rows(nrows, cfg.evals_per_epoch)
    bar = tqdm(total=(cfg.epochs - start_epoch + 1) * (nrows - 1), disable=(not progress) if progress is not None else None,
               leave=False, desc=f"{cfg.corpus} {cfg.cell} {cfg.init} seed={cfg.seed}", unit="row")
    model.train()
    try:
        for epoch in range(start_epoch, cfg.epochs + 1):
            hidden = model.init_hidden(cfg.batch_size)
            i, run_nats, run_tokens, next_point = 0, 0.0, 0, 0
            while i < nrows - 2:
                seq_len = cfg.bptt
                if cfg.variable_bptt:
                    b = cfg.bptt if float(torch.rand((), generator=batch_gen)) < 0.95 else cfg.bptt / 2.0
                    seq_len = max(5, int(b + 5.0 * float(torch.randn((), generator=batch_gen))))
                lr = opt.param_groups[0]["lr"]
                opt.param_groups[0]["lr"] = lr * seq_len / cfg.bptt
                data, targets = get_batch(train_data, i, seq_len)
                hidden = _repackage(hidden)
                opt.zero_grad(set_to_none=True)
                logits, hidden, raw, dropped = model(data, hidden, return_h=True)
                raw_loss = F.cross_entropy(logits.reshape(-1, ntoken), targets)
                loss = raw_loss
                if cfg.ar_alpha:
                    loss = loss + cfg.ar_alpha * dropped.pow(2).mean()
                if cfg.tar_beta:
                    loss = loss + cfg.tar_beta * (raw[1:] - raw[:-1]).pow(2).mean()
                lv = raw_loss.item()
                if not math.isfinite(loss.item()):
                    status = "diverged"
                    break
                loss.backward()
                if cfg.clip:
                    torch.nn.utils.clip_grad_norm_(params, cfg.clip)
                opt.step()
                opt.param_groups[0]["lr"] = lr
                update += 1
                run_nats += lv * targets.numel()
                run_tokens += targets.numel()
                i += data.shape[0]
                bar.update(data.shape[0])
                while next_point < len(points) and i >= points[next_point]:
                    next_point += 1
                    frac = (epoch - 1) + min(i, nrows - 1) / (nrows - 1)
                    row = record(frac, nats_to_bits(run_nats / max(run_tokens, 1)))
                    run_nats, run_tokens = 0.0, 0
                    bar.set_postfix(val_bits=f"{row['val_bits']:.4f}")
                    if not math.isfinite(row["val_bits"]):
                        status = "diverged"
                if status != "finished":
                    break
            if status != "finished":
                break
            record(float(epoch), nats_to_bits(run_nats / run_tokens) if run_tokens else float("nan"))
            if epoch in cfg.when:  # as awd-lstm-lm: after validating epoch `epoch`, so epoch + 1 is the first at lr/10
                for group in opt.param_groups:
                    group["lr"] /= 10.0
            if ckpt is not None and epoch < cfg.epochs:
                _save_checkpoint(ckpt, {
                    "hash": cfg.hash(), "epoch": epoch, "update": update, "model": model.state_dict(),
                    "optimizer": opt.state_dict(), "history": rows, "best_val": best["val"],
                    "best_epoch": best["epoch"], "best_state": best["state"], "batch_gen": batch_gen.get_state(),
                    "dropout_gen": model.dropout_generator.get_state(), "wall_s": time.perf_counter() - t0,
                })
    finally:
        bar.close()

    if status == "diverged" or best["state"] is None:
        test = float("nan")
        state = {k: t.detach().to("cpu").clone() for k, t in model.state_dict().items()}
    else:
        state = best["state"]
        model.load_state_dict(state)
        test = nats_to_bits(evaluate(model, test_tok, batch_size=cfg.test_batch_size, bptt=cfg.bptt))
    history = pd.DataFrame(rows)
    extra = {"train_tokens_used": int(train_data.numel()), "valid_tokens_used": int(len(valid_tok)),
             "test_tokens_used": int(len(test_tok))}
    return LMResult(cfg, history, test, float(best["val"]), float(best["epoch"]), state, status,
                    time.perf_counter() - t0, n_params, ntoken, str(dev), extra)


# ----------------------------------------------------------------------------- run store
def run_dir(cfg: LMConfig, root: str | os.PathLike | None = None) -> Path:
    """Where the run of ``cfg`` is stored: ``<results root>/runs/lm-<corpus>/<hash>``.

    Examples:
        >>> p = run_dir(LMConfig(corpus="ptb-char"), root="/tmp/x")
        >>> p.parent.as_posix()
        '/tmp/x/runs/lm-ptb-char'
    """
    return _store.results_root(root) / "runs" / f"lm-{cfg.corpus}" / cfg.hash()


def is_done(cfg: LMConfig, root: str | os.PathLike | None = None) -> bool:
    """Whether the run of ``cfg`` is stored (its ``config.json``, written last, exists)."""
    return (run_dir(cfg, root) / "config.json").is_file()


def _checkpoint_path(cfg: LMConfig, root: str | os.PathLike | None) -> Path:
    return _store.results_root(root) / "runs" / f"lm-{cfg.corpus}" / ".checkpoints" / f"{cfg.hash()}.pt"


def run_one(
    cfg: LMConfig | dict[str, Any],
    threads: int | None = None,
    *,
    data_dir: str | None = None,
    download: bool = True,
    device: str | None = None,
    checkpoint_root: str | None = None,
    progress: bool | None = False,
) -> dict[str, Any]:
    """Train one config and return its files as plain data (what executor workers run).

    The layout follows :func:`nnrnn.sweep.run_one`, so a Dask cluster needs no shared file
    system: the caller writes the files (:func:`run`, :func:`sweep`). While training, a
    resumable checkpoint is kept under ``<checkpoint_root>/runs/lm-<corpus>/.checkpoints/`` on
    the worker (default: its results root) and removed at the end.

    Returns:
        ``{"hash", "config", "result", "provenance", "history_csv", "weights"}``.
    """
    import io

    if threads is not None:
        torch.set_num_threads(threads)
    if not isinstance(cfg, LMConfig):
        cfg = LMConfig.from_dict(dict(cfg))
    ckpt = _checkpoint_path(cfg, checkpoint_root) if cfg.epochs > 1 else None
    res = train_lm(cfg, data_dir=data_dir, download=download, device=device, progress=progress, checkpoint=ckpt)
    buf = io.BytesIO()
    torch.save(res.state_dict, buf)
    payload = {
        "hash": cfg.hash(),
        "config": cfg.key(),
        "result": res.summary(),
        "provenance": _store.provenance(res.device),
        "history_csv": res.history.to_csv(index=False),
        "weights": buf.getvalue(),
    }
    if ckpt is not None:
        ckpt.unlink(missing_ok=True)
    return payload


def _write_payload(payload: dict[str, Any], root: str | os.PathLike | None) -> Path:
    """Store a run's files atomically in ``data/runs/lm-<corpus>/<hash>/`` (see :func:`nnrnn.store.write_run_payload`)."""
    return _store.write_run_payload(payload, f"lm-{payload['config']['corpus']}", root, kind="lm")


def run(
    cfg: LMConfig,
    *,
    root: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    device: str | None = None,
    progress: bool | None = None,
) -> Path:
    """Train ``cfg`` here unless its run is stored; return the run directory (resumable)."""
    if is_done(cfg, root):
        return run_dir(cfg, root)
    payload = run_one(cfg, data_dir=None if data_dir is None else str(data_dir), download=download, device=device,
                      checkpoint_root=None if root is None else str(root), progress=progress)
    return _write_payload(payload, root)


def load_run(path: str | os.PathLike) -> dict[str, Any]:
    """Read a stored run: ``{"config": LMConfig, "hash", "history": DataFrame, "result": dict, "path"}``."""
    path = Path(path)
    meta = json.loads((path / "config.json").read_text())
    result = {k: (float("nan") if v is None else v) for k, v in meta["result"].items()}
    return {"config": LMConfig.from_dict(meta["config"]), "hash": meta["hash"], "meta": meta,
            "history": pd.read_csv(path / "history.csv"), "result": result, "path": path}


def load_model(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> LanguageModel:
    """Rebuild a stored run's model with its best-validation weights (``weights_only=True``)."""
    path = Path(path)
    info = load_run(path)
    state = torch.load(path / "weights.pt", map_location="cpu", weights_only=True)
    model = LanguageModel(int(info["result"]["ntoken"]), info["config"])
    model.load_state_dict(state)
    return model.to(device).eval()


@dataclass
class LMRuns:
    """The runs of a sweep, loaded.

    Attributes:
        configs: the configs, in the order given.
        history: every history row, with the run's ``hash``, ``corpus``, ``cell``, ``init``,
            ``scale``, ``fb_alpha`` and ``seed`` columns.
        results: one row per run: those columns plus the :meth:`LMResult.summary` fields.
        paths: run directory per hash.
        ran: hashes trained by this call (the others were loaded).
    """

    configs: list[LMConfig]
    history: pd.DataFrame
    results: pd.DataFrame
    paths: dict[str, Path]
    ran: list[str] = field(default_factory=list)

    def model(self, cfg: LMConfig, *, device: str | torch.device = "cpu") -> LanguageModel:
        """The trained model of ``cfg`` (best-validation weights), in eval mode."""
        h = cfg.hash()
        if h not in self.paths:
            raise KeyError(f"no run with config hash {h} in this sweep")
        return load_model(self.paths[h], device=device)


def _ids(cfg: LMConfig) -> dict[str, Any]:
    return {"hash": cfg.hash(), "corpus": cfg.corpus, "cell": cfg.cell, "init": cfg.init,
            "scale": cfg.scale, "fb_alpha": cfg.fb_alpha, "seed": cfg.seed}


def sweep(
    configs: Sequence[LMConfig],
    *,
    cache: Cache = "auto",
    root: str | os.PathLike | None = None,
    executor: Any = "serial",
    max_workers: int | None = None,
    scheduler: str | None = None,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    device: str | None = None,
    threads: int | None = None,
    progress: bool | None = None,
) -> LMRuns:
    """Train the runs of ``configs`` that are not stored, store each, and load them all.

    Args:
        configs: the runs (e.g. :func:`profile_configs`).
        cache: ``"auto"`` trains what is missing and loads the rest; ``"require"`` trains
            nothing and raises :class:`nnrnn.store.ResultMissing` naming the missing runs (a
            book built from stored paper-scale runs); ``"off"`` trains everything into a fresh
            temporary root and leaves the store alone.
        root: results root (:func:`nnrnn.store.results_root`).
        executor: as in :func:`nnrnn.sweep.run_sweep`: ``"serial"`` (default: this process, all
            torch threads), ``"local"`` (a process pool, one torch thread per run), ``"dask"``
            (a Dask cluster at ``scheduler``, or a ``LocalCluster``) or any
            ``concurrent.futures.Executor``. Workers load the corpus themselves and return the
            run's files, which this process stores.
        max_workers, scheduler: pool size; Dask scheduler address (``"tcp://host:8786"``).
        data_dir, download: where the corpus is (see :func:`nnrnn.data.load_corpus`).
        device: overrides every config's device (e.g. ``"cuda"`` on GPU workers); not hashed.
        threads: torch intra-op threads per run (``"local"`` and ``"dask"`` use 1 anyway; for
            ``"serial"`` the caller's setting is restored afterwards). ``None`` leaves it.
        progress: a tqdm bar over runs (and over windows for serial runs); ``None``: only on a
            terminal.
    """
    import tempfile
    from concurrent.futures import as_completed

    from tqdm import tqdm

    from .sweep import open_executor

    if cache not in ("auto", "require", "off"):
        raise ValueError(f"cache must be one of ['auto', 'require', 'off'], got {cache!r}")
    configs = list(configs)
    if not configs:
        raise ValueError("the sweep is empty: no configs to run")
    for c in configs:
        if not isinstance(c, LMConfig):
            raise ValueError(f"configs must be LMConfig objects, got {type(c).__name__}")
    hashes = [c.hash() for c in configs]
    if len(set(hashes)) != len(hashes):
        raise ValueError("configs contain duplicates (equal config hashes)")
    if cache == "off":
        root = tempfile.mkdtemp(prefix="nnrnn-lm-")
    missing = [c for c in configs if not is_done(c, root)]
    if missing and cache == "require":
        names = ", ".join(f"{c.corpus}/{c.cell}/{c.init}/seed{c.seed} ({c.hash()})" for c in missing[:4])
        raise _store.ResultMissing(
            f"{len(missing)} of {len(configs)} language-model runs are not stored under "
            f"{_store.results_root(root) / 'runs'}: {names}{' ...' if len(missing) > 4 else ''}; train them "
            "first, e.g. `python -m nnrnn.lm --cell rnn --profile paper --executor dask --scheduler tcp://host:8786`"
        )
    ran: list[str] = []
    if threads is not None:
        _check_int(threads, "threads")
    saved_threads = torch.get_num_threads()
    if missing:
        kw = dict(data_dir=None if data_dir is None else str(data_dir), download=download, device=device,
                  checkpoint_root=None if root is None else str(root))
        disable = (not progress) if progress is not None else None
        bar = tqdm(total=len(missing), disable=disable, desc="language-model runs", unit="run")
        try:
            with open_executor(executor, max_workers, scheduler) as (ex, ex_threads):
                inner = progress if ex_threads is None else False
                n_threads = threads if threads is not None else ex_threads
                futures = {ex.submit(run_one, c.key(), n_threads, progress=inner, **kw): c for c in missing}
                try:
                    for fut in as_completed(futures):
                        payload = fut.result()
                        _write_payload(payload, root)
                        ran.append(payload["hash"])
                        bar.update(1)
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
        finally:
            bar.close()
            torch.set_num_threads(saved_threads)
    hist, res, paths = [], [], {}
    for cfg in configs:
        info = load_run(run_dir(cfg, root))
        hist.append(info["history"].assign(**_ids(cfg)))
        res.append({**_ids(cfg), **info["result"]})
        paths[cfg.hash()] = info["path"]
    return LMRuns(configs, pd.concat(hist, ignore_index=True), pd.DataFrame(res), paths, ran)


# ----------------------------------------------------------------------------- tables
def summarize(results: pd.DataFrame, by: Sequence[str] = ("corpus", "init")) -> pd.DataFrame:
    """Mean, s.e.m. and count of ``test_bits`` over seeds for each ``by`` group.

    Examples:
        >>> df = pd.DataFrame({"corpus": ["ptb"] * 2, "init": ["chain"] * 2, "test_bits": [6.5, 6.6]})
        >>> s = summarize(df)
        >>> s[["mean", "n"]].round(3).values.tolist(), round(float(s["sem"].iloc[0]), 3)
        ([[6.55, 2.0]], 0.05)
    """
    g = results.groupby(list(by), sort=False)["test_bits"]
    out = g.agg(mean="mean", sd=lambda x: x.std(ddof=1) if len(x) > 1 else 0.0, n="count").reset_index()
    out["sem"] = out["sd"] / np.sqrt(out["n"].clip(lower=1))
    return out.drop(columns="sd")


def results_table(
    results: pd.DataFrame,
    paper: dict[str, dict[str, tuple[float, float]]],
    *,
    corpora: Sequence[str] | None = None,
    inits: Sequence[str] | None = None,
    labels: dict[str, str] | None = None,
    extra_rows: dict[str, dict[str, float]] | None = None,
) -> pd.DataFrame:
    """Our test bits (mean ± s.e.m., n seeds) beside the paper's, one row per initializer.

    Columns: per corpus, ``"<corpus>: ours"`` and ``"<corpus>: paper"`` (and perplexities for
    word PTB). ``extra_rows`` adds rows with only a paper value (e.g. Table 1's LSTM row).

    Examples:
        >>> df = pd.DataFrame({"corpus": ["ptb"] * 2, "init": ["chain"] * 2, "test_bits": [6.5, 6.6]})
        >>> t = results_table(df, PAPER_TABLE1)
        >>> t.loc["chain"].tolist()
        ['6.550 ± 0.050 (n=2)', '6.514 ± 0.001', '93.7', '91.4']
    """
    s = summarize(results)
    corpora = list(corpora or [c for c in CORPORA if c in set(s["corpus"])])
    inits = list(inits or list(dict.fromkeys(s["init"])))
    labels = labels or {}
    rows = {}
    for init in inits:
        row = {}
        for corpus in corpora:
            hit = s[(s["corpus"] == corpus) & (s["init"] == init)]
            if len(hit):
                m, e, n = float(hit["mean"].iloc[0]), float(hit["sem"].iloc[0]), int(hit["n"].iloc[0])
                row[f"{corpus}: ours"] = f"{m:.3f} ± {e:.3f} (n={n})" if math.isfinite(m) else "diverged"
            else:
                m = float("nan")
                row[f"{corpus}: ours"] = "—"
            pv = paper.get(init, {}).get(corpus)
            row[f"{corpus}: paper"] = f"{pv[0]:.3f} ± {pv[1]:.3f}" if pv else "—"
            if corpus == "ptb":
                row["ptb perplexity: ours"] = f"{bits_to_perplexity(m):.1f}" if math.isfinite(m) else "—"
                row["ptb perplexity: paper"] = f"{bits_to_perplexity(pv[0]):.1f}" if pv else "—"
        rows[labels.get(init, init)] = row
    for name, values in (extra_rows or {}).items():
        row = {}
        for corpus in corpora:
            row[f"{corpus}: ours"] = "—"
            row[f"{corpus}: paper"] = f"{values[corpus]:.3f}" if corpus in values else "—"
            if corpus == "ptb":
                row["ptb perplexity: ours"] = "—"
                row["ptb perplexity: paper"] = f"{bits_to_perplexity(values[corpus]):.1f}" if corpus in values else "—"
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "initializer"
    return table


# ----------------------------------------------------------------------------- Fig. 6
@torch.no_grad()
def lstm_pulse_response(
    lstm: nn.LSTM, *, steps: int = 100, channel: int = 0, amplitude: float = 1.0
) -> Tensor:
    r"""How far one input pulse moves each unit's hidden state, step by step.

    The layer runs twice from :math:`h_{-1} = c_{-1} = 0` for ``steps + 1`` steps: once with
    ``amplitude`` on input ``channel`` at step 0 and zero input afterwards, once with zero
    input throughout. The response is :math:`|h_t^{\text{pulse}} - h_t^{\text{free}}|`, so the
    drift that the biases cause without any input is removed. (For a vanilla RNN the same
    analysis uses the hidden state itself, :func:`nnrnn.analysis.pulse_response`.)

    Returns:
        float64 tensor ``(steps + 1, N)``.

    Examples:
        >>> lstm = torch.nn.LSTM(3, 5)
        >>> tuple(lstm_pulse_response(lstm, steps=10).shape)
        (11, 5)
    """
    if not isinstance(lstm, nn.LSTM) or lstm.num_layers != 1 or lstm.bidirectional or lstm.proj_size:
        raise ValueError("lstm_pulse_response expects a one-layer, one-directional torch.nn.LSTM without projection")
    _check_int(steps, "steps", 0)
    if not 0 <= channel < lstm.input_size:
        raise ValueError(f"channel must be in [0, {lstm.input_size}), got {channel!r}")
    layer = nn.LSTM(lstm.input_size, lstm.hidden_size, dtype=torch.float64)
    layer.load_state_dict({k: v.detach().to("cpu", torch.float64) for k, v in lstm.state_dict().items()})
    x = torch.zeros(steps + 1, 1, lstm.input_size, dtype=torch.float64)
    x[0, 0, channel] = amplitude
    pulsed, _ = layer(x)
    free, _ = layer(torch.zeros_like(x))
    return (pulsed - free)[:, 0].abs()


def gate_profiles(
    model: LanguageModel,
    layer: int = 1,
    *,
    steps: int = 100,
    channel: int = 0,
    amplitude: float = 1.0,
    jitter: float = 1e-3,
    generator: torch.Generator | None = None,
) -> pd.DataFrame:
    r"""Fig. 6: mean recurrent weight of each LSTM gate at each order difference ``i - j``.

    The units of layer ``layer`` (0-based; the paper shows the second of three layers, ``1``)
    are ordered once, by the step at which their hidden state responds most to one input pulse
    (:func:`lstm_pulse_response`; ties broken by ``U(0, jitter)`` noise,
    :func:`nnrnn.analysis.peak_order`). The same order is then applied to the rows and columns
    of each gate block of ``weight_hh`` (torch order i, f, g, o; row ``i`` of a block is the
    gate of unit ``i``, column ``j`` the hidden unit ``j`` it reads), and
    :func:`nnrnn.analysis.order_profile` averages :math:`W_{ij}` at each order difference.

    Returns:
        a long table with columns ``gate`` (``"i"``, ``"f"``, ``"g"``, ``"o"``), ``lag`` and
        ``weight``.

    Examples:
        >>> cfg = LMConfig(corpus="ptb-char", cell="lstm", init="chain", nlayers=1, emsize=6, nhid=6)
        >>> df = gate_profiles(build_model(cfg, 10), layer=0, steps=10, generator=torch.Generator().manual_seed(0))
        >>> sorted(df["gate"].unique()), int(df["lag"].max())
        (['f', 'g', 'i', 'o'], 5)
    """
    from . import analysis as _an

    if model.cfg.cell != "lstm":
        raise ValueError(f"gate_profiles needs an LSTM language model, got cell {model.cfg.cell!r}")
    if not 0 <= layer < len(model.rnns):
        raise ValueError(f"layer must be in [0, {len(model.rnns)}), got {layer!r}")
    lstm = model.rnns[layer]
    resp = lstm_pulse_response(lstm, steps=steps, channel=channel, amplitude=amplitude)
    order = _an.peak_order(resp, jitter, generator=generator)
    w = lstm.weight_hh_l0.detach().to("cpu", torch.float64)
    n = lstm.hidden_size
    frames = []
    for k, gate in enumerate(_init.LSTM_GATES):
        lags, mean = _an.order_profile(w[k * n : (k + 1) * n], order)
        frames.append(pd.DataFrame({"gate": gate, "lag": lags, "weight": mean}))
    return pd.concat(frames, ignore_index=True)


def profile_shape(profiles: pd.DataFrame, *, near: int = 5, max_lag: int | None = None) -> pd.DataFrame:
    r"""Two numbers per gate that describe a Fig. 6 profile.

    * ``monotonicity``: Spearman's rank correlation between the order difference ``i - j`` and
      the mean weight, over lags ``1 <= |i - j| <= max_lag`` (all by default): near ±1 for a
      monotone profile, near 0 for a flat or bump-shaped one;
    * ``forward_bump``: the mean weight at lags ``1..near`` minus that at ``-near..-1``: positive
      when connections from earlier- to later-peaking units are stronger (a chain-like motif).

    ``profiles`` is :func:`gate_profiles`' table, or several stacked (they are averaged per gate
    and lag first).

    Examples:
        >>> lags = np.arange(-4, 5)
        >>> df = pd.DataFrame({"gate": "i", "lag": lags, "weight": 0.01 * lags})
        >>> profile_shape(df, near=2).round(3).to_dict("index")
        {'i': {'monotonicity': 1.0, 'forward_bump': 0.03}}
    """
    _check_int(near, "near")
    rows = {}
    mean = profiles.groupby(["gate", "lag"], sort=False)["weight"].mean().reset_index()
    for gate, d in mean.groupby("gate", sort=False):
        d = d[d["lag"] != 0]
        if max_lag is not None:
            d = d[d["lag"].abs() <= max_lag]
        rho = float(d["lag"].rank().corr(d["weight"].rank())) if len(d) > 2 else float("nan")
        fwd = d[(d["lag"] >= 1) & (d["lag"] <= near)]["weight"].mean()
        bwd = d[(d["lag"] <= -1) & (d["lag"] >= -near)]["weight"].mean()
        rows[gate] = {"monotonicity": rho, "forward_bump": float(fwd - bwd)}
    return pd.DataFrame.from_dict(rows, orient="index")


# ----------------------------------------------------------------------------- CLI
def _main(argv: Sequence[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m nnrnn.lm",
        description="Train (or resume) the language-model runs of chapter 07 (--cell rnn) or 09 (--cell lstm).",
    )
    p.add_argument("--cell", required=True, choices=list(CELLS))
    p.add_argument("--profile", default="demo", choices=["smoke", "demo", "paper"])
    p.add_argument("--corpora", default=None, help="comma-separated subset of ptb, ptb-char, enwik8")
    p.add_argument("--inits", default=None, help="comma-separated subset of initializers")
    p.add_argument("--seed", type=int, default=0, help="base seed: runs use seed+1 .. seed+n")
    p.add_argument("--grid", action="store_true", help="vanilla only: the paper's 21-value scale grids")
    p.add_argument("--executor", default="serial", choices=["serial", "local", "dask"])
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--root", default=None, help="results root (default: the repository's data/ folder)")
    p.add_argument("--data-dir", default=None, help="corpus directory (default: NNRNN_DATA_DIR or the cache)")
    p.add_argument("--device", default=None, help="cpu | cuda | auto (not part of the run hash)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    a = p.parse_args(argv)
    split = lambda s: None if s is None else [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    cfgs = profile_configs(a.cell, a.profile, seed=a.seed, corpora=split(a.corpora), inits=split(a.inits), grid=a.grid)
    done = sum(is_done(c, a.root) for c in cfgs)
    print(f"{a.cell} / {a.profile}: {len(cfgs)} runs, {done} already stored under {_store.results_root(a.root) / 'runs'}")
    if a.dry_run:
        return 0
    runs = sweep(cfgs, root=a.root, executor=a.executor, max_workers=a.workers, scheduler=a.scheduler,
                 data_dir=a.data_dir, device=a.device, progress=True)
    print(summarize(runs.results).to_string(index=False))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
