r"""What the paper and the authors' code state: grids, seeds, settings, tables and reported counts.

This module is the one place where a number taken from Orhan & Pitkow (ICLR 2020), from the
authors' code (``eminorhan/nonnormal-init``, commit 6086bec) or from ``salesforce/awd-lstm-lm``
is written down. Every other module imports it from here; none defines a paper constant of its
own. Each constant says where it comes from, citing the sections of ``PAPER.md`` (the
developers' notes on the paper, kept outside the repository) with the same provenance labels:

* *stated in the paper*: the ICLR 2020 text, tables and figure captions;
* *authors' code*: the Keras benchmark scripts and PyTorch helpers;
* *awd-lstm-lm*: the README commands of the code base the language models were built on.

Our own choices (reduced grids, held-out validation data, default scales the paper does not
report) are **not** here: they live with the profiles (:mod:`nnrnn.profiles`) and the modules
that make them, and the chapters state them.

Examples:
    >>> sum(len(v) for v in PAPER_SCALES.values()) * len(PAPER_LRS) * len(PAPER_SEEDS)  # runs per task
    2112
    >>> PAPER_SUCCESS["copy"]["chain"]
    (46, 462)
    >>> SYNTHETIC_BASE["n_train"], SYNTHETIC_BASE["epochs"], OPTIMIZER["rms_alpha"]
    (60000, 100, 0.9)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "PAPER_SCALES",
    "PAPER_LRS",
    "PAPER_SEEDS",
    "PAPER_SUCCESS",
    "FIG3_PANELS",
    "SUCCESS_FRACTION",
    "SEQUENCE_LENGTH",
    "HIDDEN_SIZE",
    "NONLINEARITY",
    "COPY_LENGTH",
    "COPY_SYMBOLS",
    "COPY_CUE",
    "N_MNIST_TRAIN",
    "N_MNIST_TEST",
    "PSMNIST_HIDDEN_TEXT",
    "PSMNIST_HIDDEN_CODE",
    "OPTIMIZER",
    "SYNTHETIC_BASE",
    "INPUT_GAIN",
    "FB_CHAIN_FORWARD_GAIN",
    "LSTM_CHAIN_GAIN",
    "LSTM_FB_FEEDBACK_GAIN",
    "RAMP_END_GAIN",
    "PAPER_TABLE1",
    "PAPER_TABLE1_LSTM",
    "PAPER_TABLE2",
    "PAPER_TABLE3",
    "LM_SCALE_GRID",
    "LM_SEEDS",
    "LM_EPOCHS",
    "LM_RNN_DROPOUTS",
    "AWD_LSTM_LM",
    "AWD_LSTM_LM_DROPOUTS",
]

# ----------------------------------------------------------------------------- synthetic tasks
#: the scale grid of each initializer on the synthetic tasks (PAPER.md §3.2, stated in the paper):
#: λ for identity and orthogonal (9 values), α for the chain and β for the feedback chain (7 each).
PAPER_SCALES: dict[str, tuple[float, ...]] = {
    "identity": (0.01, 0.96, 0.99, 1.00, 1.01, 1.02, 1.03, 1.04, 1.05),
    "orthogonal": (0.01, 0.96, 0.99, 1.00, 1.01, 1.02, 1.03, 1.04, 1.05),
    "chain": (0.99, 1.00, 1.01, 1.02, 1.03, 1.04, 1.05),
    "fb_chain": (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07),
}
#: the RMSprop learning rates tuned over for every model and task (§4.1, stated in the paper).
PAPER_LRS: tuple[float, ...] = (8e-4, 5e-4, 3e-4, 1e-4, 8e-5, 5e-5, 3e-5, 1e-5, 8e-6, 5e-6, 3e-6)
#: the seeds of every setting (§4.1, stated in the paper: "6 seeds (1-6)").
PAPER_SEEDS: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
#: successful runs / runs per initializer (§4.3, Fig. 3d, stated in the paper); addition and
#: psMNIST counts appear only as bars, without numbers (``None``).
PAPER_SUCCESS: dict[str, dict[str, tuple[int, int]] | None] = {
    "copy": {"identity": (0, 594), "orthogonal": (0, 594), "chain": (46, 462), "fb_chain": (11, 462)},
    "addition": None,
    "psmnist": None,
}
#: the panels of Fig. 3 per task: (validation loss against training, successful runs per initializer)
#: (stated in the paper, Fig. 3's caption).
FIG3_PANELS: dict[str, tuple[str, str]] = {
    "copy": ("Fig. 3a", "Fig. 3d"), "addition": ("Fig. 3b", "Fig. 3e"), "psmnist": ("Fig. 3c", "Fig. 3f"),
}
#: a run succeeds when its final validation loss is below this fraction of the random baseline
#: (§4.3, Fig. 3d-f, stated in the paper: "below 50% of the random baseline").
SUCCESS_FRACTION = 0.5

#: sequence length of each task (§4.1, stated in the paper; psMNIST: one pixel per step).
SEQUENCE_LENGTH: dict[str, int] = {"copy": 500, "addition": 750, "psmnist": 784}
#: hidden units of each task's network (§4.1, stated in the paper; for psMNIST the text says 25
#: while the authors' code defaults to 100, see :data:`PSMNIST_HIDDEN_CODE`).
HIDDEN_SIZE: dict[str, int] = {"copy": 100, "addition": 100, "psmnist": 25}
#: nonlinearity of each task's network (§4.1, stated in the paper).
NONLINEARITY: dict[str, str] = {"copy": "elu", "addition": "relu", "psmnist": "elu"}

#: the copy task (§4.2, stated in the paper; encoding from the authors' code): ten symbols to
#: remember, drawn from an alphabet of eight (1..8), and the cue symbol 9.
COPY_LENGTH = 10
COPY_SYMBOLS = 8
COPY_CUE = 9

#: MNIST's training and test digits (§4.2, stated in the paper: "MNIST 60k/10k").
N_MNIST_TRAIN = 60_000
N_MNIST_TEST = 10_000
#: psMNIST hidden size in the paper's text (§4.1, stated in the paper) ...
PSMNIST_HIDDEN_TEXT = 25
#: ... and the default of the authors' code (§4.1, authors' code).
PSMNIST_HIDDEN_CODE = 100

#: the optimizer (§4.1, authors' code): Keras 2 ``rmsprop(lr, clipnorm=10)``, whose defaults are
#: ρ = 0.9 and ε = ``K.epsilon()`` = 1e-7, clipping by the global gradient norm, batches of 16.
#: The paper states only "RMSprop".
OPTIMIZER: dict[str, Any] = dict(batch_size=16, clip_norm=10.0, rms_alpha=0.9, rms_eps=1e-7)

#: the fixed settings of the paper's synthetic-task runs (§4.1, authors' code): N = 100 (stated
#: in the paper), 60,000 training and 10,000 validation sequences per seed, at most 100 epochs,
#: validation once per epoch (Keras), early stop once the validation loss is below 0.0025.
SYNTHETIC_BASE: dict[str, Any] = dict(
    hidden_size=100, n_train=60_000, n_val=10_000, epochs=100, evals_per_epoch=1, early_stop=0.0025
)

# ----------------------------------------------------------------------------- initializers
#: the gain of the source input matrix 0.9·I of the chains, and of the input standard deviation
#: 0.9/√N of identity and orthogonal (§3.2, stated in the paper; std confirmed by the authors' code).
INPUT_GAIN = 0.9
#: the feedback chain's forward gain, fixed while β is tuned (§3.2, stated in the paper; the
#: authors' ``fbchain_init`` hard-codes it, §3.3).
FB_CHAIN_FORWARD_GAIN = 0.99
#: the authors' LSTM helpers' gains (§3.3, authors' code): ``chain_init(offdiag_gain=1.02)`` and
#: ``fbchain_init(offdiag_gain=0.04)`` (the feedback band).
LSTM_CHAIN_GAIN = 1.02
LSTM_FB_FEEDBACK_GAIN = 0.04
#: the end value of the mixed initializer's ramp (§3.3, authors' code: ``ramp_init(end_gain=0.01)``).
RAMP_END_GAIN = 0.01

# ----------------------------------------------------------------------------- tables
#: Table 1 (§5, stated in the paper): test loss in bits (mean, s.e.m. over 3 runs) of vanilla RNN
#: language models.
PAPER_TABLE1: dict[str, dict[str, tuple[float, float]]] = {
    "identity": {"ptb": (6.550, 0.002), "ptb-char": (1.312, 0.000), "enwik8": (1.783, 0.003)},
    "orthogonal": {"ptb": (6.557, 0.002), "ptb-char": (1.312, 0.001), "enwik8": (1.843, 0.046)},
    "chain": {"ptb": (6.514, 0.001), "ptb-char": (1.308, 0.000), "enwik8": (1.803, 0.017)},
    "fb_chain": {"ptb": (6.510, 0.001), "ptb-char": (1.307, 0.000), "enwik8": (1.774, 0.002)},
}
#: Table 1's 3-layer LSTM row (§5, stated in the paper, quoted there from Merity et al. 2018a,b).
PAPER_TABLE1_LSTM: dict[str, float] = {"ptb": 5.878, "ptb-char": 1.175, "enwik8": 1.232}
#: Table 2 (§6.1, stated in the paper): Henrici index d(W) after training, mean ± s.e.m. over the
#: successful runs; copy is absent (no normal-initialized run succeeded on it).
PAPER_TABLE2: dict[tuple[str, str], tuple[float, float]] = {
    ("addition", "identity"): (2.33, 1.02),
    ("addition", "orthogonal"): (2.74, 0.07),
    ("psmnist", "identity"): (1.01, 0.12),
    ("psmnist", "orthogonal"): (2.72, 0.08),
}
#: Table 3 (§6.3, stated in the paper): test loss in bits (mean, s.e.m. over 3 runs) of 3-layer
#: LSTM language models.
PAPER_TABLE3: dict[str, dict[str, tuple[float, float]]] = {
    "orthogonal": {"ptb": (5.937, 0.002), "ptb-char": (1.230, 0.001), "enwik8": (1.583, 0.001)},
    "chain": {"ptb": (5.935, 0.001), "ptb-char": (1.230, 0.001), "enwik8": (1.586, 0.000)},
    "plain": {"ptb": (5.949, 0.007), "ptb-char": (1.245, 0.001), "enwik8": (1.584, 0.002)},
    "mixed": {"ptb": (5.944, 0.004), "ptb-char": (1.227, 0.000), "enwik8": (1.577, 0.001)},
}

# ----------------------------------------------------------------------------- language models
#: the vanilla-RNN scale grids (§5, stated in the paper): 21 evenly spaced values from 0.05 to
#: 1.05 for λ and α, and β ∈ {0.01, ..., 0.21} for the feedback chain.
LM_SCALE_GRID: dict[str, tuple[float, ...]] = {
    "identity": tuple(round(0.05 + 0.05 * k, 2) for k in range(21)),
    "orthogonal": tuple(round(0.05 + 0.05 * k, 2) for k in range(21)),
    "chain": tuple(round(0.05 + 0.05 * k, 2) for k in range(21)),
    "fb_chain": tuple(round(0.01 * (k + 1), 2) for k in range(21)),
}
#: seeds of every language-model setting (§5, stated in the paper: 3 seeds each).
LM_SEEDS: tuple[int, ...] = (1, 2, 3)
#: epochs per corpus (§5, stated in the paper).
LM_EPOCHS: dict[str, int] = {"ptb": 60, "ptb-char": 500, "enwik8": 35}
#: the vanilla RNNs' dropouts (§5, stated in the paper): all 0.1 for word PTB; 0.1 except one
#: set to 0 for character PTB (the sentence is garbled; ``dropoute`` is our reading, the one the
#: awd-lstm-lm char command already sets to 0); all 0 for enwik8.
LM_RNN_DROPOUTS: dict[str, dict[str, float]] = {
    "ptb": dict(dropout=0.1, dropouth=0.1, dropouti=0.1, dropoute=0.1, wdrop=0.1),
    "ptb-char": dict(dropout=0.1, dropouth=0.1, dropouti=0.1, dropoute=0.0, wdrop=0.1),
    "enwik8": dict(dropout=0.0, dropouth=0.0, dropouti=0.0, dropoute=0.0, wdrop=0.0),
}
#: awd-lstm-lm's README commands per corpus (§5 table, awd-lstm-lm): layers, sizes, window,
#: batch, Adam learning rate and weight decay, the epochs after which the learning rate drops
#: (``--when``) and the AR/TAR weights (2 and 1 for words, 0 for its character commands). Word
#: PTB's command trains with SGD/ASGD at lr 30, which does not apply to the paper's Adam: its
#: Adam learning rate is our choice (:mod:`nnrnn.lm.config`), not listed here.
AWD_LSTM_LM: dict[str, dict[str, Any]] = {
    "ptb": dict(nlayers=3, emsize=400, nhid=1150, bptt=70, batch_size=20, wdecay=1.2e-6, when=(),
                ar_alpha=2.0, tar_beta=1.0),
    "ptb-char": dict(nlayers=3, emsize=200, nhid=1000, bptt=150, batch_size=128, lr=2e-3, wdecay=1.2e-6,
                     when=(300, 400), ar_alpha=0.0, tar_beta=0.0),
    "enwik8": dict(nlayers=3, emsize=400, nhid=1840, bptt=200, batch_size=128, lr=1e-3, wdecay=1.2e-6,
                   when=(25, 35), ar_alpha=0.0, tar_beta=0.0),
}
#: awd-lstm-lm's LSTM dropouts per corpus (its README commands; the paper's LSTMs of Table 3 are
#: "adapted from Merity et al.", §6.3).
AWD_LSTM_LM_DROPOUTS: dict[str, dict[str, float]] = {
    "ptb": dict(dropout=0.4, dropouth=0.25, dropouti=0.4, dropoute=0.1, wdrop=0.5),
    "ptb-char": dict(dropout=0.1, dropouth=0.25, dropouti=0.1, dropoute=0.0, wdrop=0.5),
    "enwik8": dict(dropout=0.4, dropouth=0.1, dropouti=0.1, dropoute=0.0, wdrop=0.2),
}
