r"""The language-model run configuration and what the paper states about it.

:class:`LMConfig` holds everything one run depends on; its :meth:`~LMConfig.hash` names the
run's folder in the store. :func:`paper_config` fills in the paper's per-corpus settings
(awd-lstm-lm's sizes, the paper's epochs and dropouts), :func:`scale_grid` the paper's
21-value scale grids. The paper's tables (:data:`PAPER_TABLE1`, :data:`PAPER_TABLE1_LSTM`,
:data:`PAPER_TABLE3`) are re-exported from :mod:`nnrnn.paper`, where every number the paper
and awd-lstm-lm state is written down; the metric's units (:func:`nats_to_bits`) live here.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .. import paper as _paper
from .. import store as _store
from .. import validate

__all__ = [
    "CORPORA",
    "CELLS",
    "INITS",
    "TOKEN_UNITS",
    "DEFAULT_SCALE",
    "DEFAULT_FB_ALPHA",
    "DEFAULT_RAMP_GAIN",
    "PAPER_SCALE_GRID",
    "PAPER_TABLE1",
    "PAPER_TABLE1_LSTM",
    "PAPER_TABLE3",
    "NON_HASHED",
    "nats_to_bits",
    "bits_to_perplexity",
    "LMConfig",
    "paper_config",
    "scale_grid",
]

Corpus = Literal["ptb", "ptb-char", "enwik8"]
Cell = Literal["rnn", "lstm"]

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
#: values are the authors' code defaults, :mod:`nnrnn.paper`: 1.02 chains, 0.04 feedback).
DEFAULT_SCALE: dict[str, dict[str, float | None]] = {
    "rnn": {"identity": 1.0, "orthogonal": 1.0, "chain": 1.0, "fb_chain": 0.04, "plain": None},
    "lstm": {"orthogonal": 1.0, "chain": _paper.LSTM_CHAIN_GAIN, "fb_chain": _paper.LSTM_FB_FEEDBACK_GAIN,
             "plain": None, "mixed": _paper.LSTM_CHAIN_GAIN},
}
#: forward gain of the feedback chain when ``LMConfig.fb_alpha`` is ``None``: the vanilla
#: default chain α (the paper fixes it at the best chain value), and the authors' 0.99 in LSTMs.
DEFAULT_FB_ALPHA = {"rnn": 1.0, "lstm": _paper.FB_CHAIN_FORWARD_GAIN}
#: end value of the mixed initializer's ramp (the authors' ``ramp_init(end_gain=0.01)``).
DEFAULT_RAMP_GAIN = _paper.RAMP_END_GAIN

#: the paper's vanilla-RNN scale grids (§5): 21 values each, 3 seeds per value
#: (:data:`nnrnn.paper.LM_SCALE_GRID`).
PAPER_SCALE_GRID: dict[str, tuple[float, ...]] = _paper.LM_SCALE_GRID
#: Table 1 of the paper: test loss in bits (mean, s.e.m. over 3 runs) of vanilla RNN LMs.
PAPER_TABLE1: dict[str, dict[str, tuple[float, float]]] = _paper.PAPER_TABLE1
#: Table 1's 3-layer LSTM row, quoted there from Merity et al. (2018a,b).
PAPER_TABLE1_LSTM: dict[str, float] = _paper.PAPER_TABLE1_LSTM
#: Table 3 of the paper: test loss in bits (mean, s.e.m. over 3 runs) of 3-layer LSTM LMs.
PAPER_TABLE3: dict[str, dict[str, tuple[float, float]]] = _paper.PAPER_TABLE3

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
    :func:`paper_config` for the per-corpus settings and :func:`nnrnn.lm.profile_configs` for
    the book's profiles.

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
        variable_bptt: awd-lstm-lm's random window lengths (see :mod:`nnrnn.lm.train`).
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
            validate.integer(getattr(self, name), name, low=0 if name == "seed" else 1)
        for name in ("dropout", "dropouth", "dropouti", "dropoute", "wdrop"):
            _check_float(getattr(self, name), name, hi=1.0)
        for name in ("train_tokens", "valid_tokens", "test_tokens"):
            if getattr(self, name) is not None:
                validate.integer(getattr(self, name), name, low=2)
        _check_float(self.lr, "lr", open_lo=True)
        _check_float(self.wdecay, "wdecay")
        _check_float(self.clip, "clip")
        _check_float(self.ar_alpha, "ar_alpha")
        _check_float(self.tar_beta, "tar_beta")
        when = tuple(int(w) for w in self.when)
        for w in when:
            validate.integer(w, "when", low=1)
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


#: word PTB's Adam learning rate: our choice (awd-lstm-lm's word command trains with SGD/ASGD
#: at lr 30, the paper used Adam).
_PTB_ADAM_LR = 1e-3
#: awd-lstm-lm's README commands per corpus (sizes, batch, optimizer) with the paper's epochs.
_AWD = {
    corpus: dict(_paper.AWD_LSTM_LM[corpus], epochs=_paper.LM_EPOCHS[corpus],
                 **({"lr": _PTB_ADAM_LR} if corpus == "ptb" else {}))
    for corpus in CORPORA
}
#: dropouts: vanilla RNNs as the paper states (§5); LSTMs as awd-lstm-lm's commands.
_DROPOUTS = {
    **{("rnn", corpus): dict(_paper.LM_RNN_DROPOUTS[corpus]) for corpus in CORPORA},
    **{("lstm", corpus): dict(_paper.AWD_LSTM_LM_DROPOUTS[corpus]) for corpus in CORPORA},
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

