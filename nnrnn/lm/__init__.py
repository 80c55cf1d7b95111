r"""Language modelling with vanilla RNNs and LSTMs (Orhan & Pitkow, 2020, §3.2, §3.3).

The paper ran its language models inside ``salesforce/awd-lstm-lm`` (Merity et al., 2018a,b),
with the LSTM replaced by a vanilla RNN (Table 1, Fig. 4) or kept and initialized per gate
(Table 3, Fig. 6). This package re-implements the parts of that code base the results depend
on, one concept per module:

* :mod:`nnrnn.lm.config`: :class:`LMConfig` (what one run depends on, and its hash),
  :func:`paper_config`, the paper's scale grids and Tables 1 and 3, the metric's units;
* :mod:`nnrnn.lm.settings`: the runs of each profile (:func:`profile_configs`) and how they
  are executed (:func:`execution`); how they differ from the paper is
  :func:`nnrnn.pages.settings.settings_table`;
* :mod:`nnrnn.lm.model`: :class:`LanguageModel` and its initializers (:func:`build_model`);
* :mod:`nnrnn.lm.train`: :func:`train_lm` and :func:`evaluate`;
* :mod:`nnrnn.lm.runs`: the run store (:func:`run_dir`, :func:`load_run`, ...) and
  :func:`sweep`;
* :mod:`nnrnn.lm.analysis`: results tables and the diagonal means of the LSTM gate weights (Fig. 6);
* :mod:`nnrnn.lm.cli`: ``python -m nnrnn.lm``.

Every public name is importable from ``nnrnn.lm`` itself.

**Metric.** The mean negative log-likelihood of every next token of a split, in **bits**:
:math:`\mathrm{bits} = \mathrm{nats}/\ln 2`. For words this is :math:`\log_2` perplexity
(the paper's Table 1 unit), for characters bits per character.

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
"""

from __future__ import annotations

from .analysis import (
    GATE_NAMES,
    best_scale,
    gate_diagonal_means,
    lstm_pulse_response,
    diagonal_means_shape,
    results_table,
    summarize,
)
from .config import (
    CELLS,
    CORPORA,
    DEFAULT_FB_ALPHA,
    DEFAULT_RAMP_GAIN,
    DEFAULT_SCALE,
    INITS,
    PAPER_SCALE_GRID,
    PAPER_TABLE1,
    PAPER_TABLE1_LSTM,
    PAPER_TABLE3,
    TOKEN_UNITS,
    LMConfig,
    bits_to_perplexity,
    nats_to_bits,
    paper_config,
    scale_grid,
)
from .model import LanguageModel, build_model
from .runs import LMRuns, load_model, load_run, run, run_dir, run_one, sweep
from .settings import execution, profile_configs
from .train import LMResult, evaluate, get_corpus, split_corpus, train_lm

__all__ = [
    "CORPORA",
    "CELLS",
    "INITS",
    "DEFAULT_SCALE",
    "DEFAULT_FB_ALPHA",
    "DEFAULT_RAMP_GAIN",
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
    "LanguageModel",
    "build_model",
    "evaluate",
    "train_lm",
    "LMResult",
    "get_corpus",
    "split_corpus",
    "run_dir",
    "run",
    "run_one",
    "load_run",
    "load_model",
    "sweep",
    "LMRuns",
    "summarize",
    "best_scale",
    "results_table",
    "lstm_pulse_response",
    "gate_diagonal_means",
    "diagonal_means_shape",
    "GATE_NAMES",
]
