"""The settings tables of the chapters: what a sweep trains, beside the paper's settings.

:func:`settings_table` takes a :class:`nnrnn.sweep.Grid` of copy, addition or psMNIST, or a list of
:class:`nnrnn.lm.LMConfig`, and gives one row per setting with a column for the runs and one for
the paper (its grid; for psMNIST the authors' code's data split; for language models its runs of
the same initializers and its scales). A cell of the paper's column that the paper's text does not
state names its source in parentheses: the authors' code, awd-lstm-lm, or "not stated" (PAPER.md §8).
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from .. import paper as _paper
from .. import sweep as _sweep
from .. import validate
from ..lm.config import LMConfig, paper_config
from ..results import INITS

__all__ = ["settings_table"]

#: the language models' scales in the paper (§5; it gives none for LSTMs).
_LM_PAPER_SCALES = {"rnn": "best of 21 values each (§5); feedback chain α = the best chain scale", "lstm": "not stated"}
#: the sources of the paper's column where the paper's text states nothing: the authors' code
#: (eminorhan/nonnormal-init) and awd-lstm-lm's README commands and defaults, which §5 says it used.
_CODE, _AWD = "authors' code", "awd-lstm-lm"
#: the synthetic tasks' settings that only the authors' code gives (PAPER.md §4.1, §8); the paper
#: states the length, hidden units, nonlinearity, RMSprop, the scale and learning-rate grids, the
#: seeds and the run counts.
_GRID_FROM_CODE = ("training sequences", "validation sequences", "epochs (at most)", "batch size",
                   "updates per run (at most)", "validation points per epoch", "early stop below", "optimizer")
_DROPOUTS = "dropout (out/between/in/embedding/weights)"


def _cite(rows: dict[str, str], sources: dict[str, str]) -> dict[str, str]:
    """``rows`` with the source of each row in ``sources`` appended in parentheses."""
    return {k: f"{v} ({sources[k]})" if k in sources else v for k, v in rows.items()}


def _lm_sources(cell: str, corpus: str) -> dict[str, str]:
    """Where each language-model setting of the paper's column comes from when the paper's text does not state it.

    The paper states (§5) the vanilla RNNs' dropouts, epochs, Adam, initializers, scale grids and 3 runs
    each, and (§6.3) 3-layer LSTMs with 3 runs of each initializer; the rest is awd-lstm-lm's.
    """
    src = dict.fromkeys(("sizes (embedding → layers)", "decoder", "BPTT window / batch", "optimizer", "AR / TAR",
                         "training tokens", "validation tokens", "test tokens (batch)"), _AWD)
    src["seeds"] = "which 3: not stated"
    if cell == "rnn":
        src["recurrent layers"] = f"{_AWD}; tanh not stated"
        if corpus == "ptb-char":  # §5's sentence is garbled: which dropout is 0 is our reading
            src[_DROPOUTS] = "§5; which is 0: our reading"
    else:
        src.update({_DROPOUTS: _AWD, "epochs": "not stated for LSTMs"})
    if corpus == "ptb":  # awd-lstm-lm's word command trains with SGD/ASGD at lr 30; Adam's lr is our choice
        src["optimizer"] = ("Adam: §5; lr" if cell == "rnn" else "Adam, lr") + f": not stated; rest: {_AWD}"
    return src


def _grid_settings(g: _sweep.Grid, n_test: int | None) -> dict[str, str]:
    c = g.configs()[0]
    rows = {
        "sequence length T": f"{c.seq_len}",
        "hidden units N": f"{c.hidden_size}",
        "nonlinearity": c.nonlinearity or c.make_task().default_nonlinearity,
        "training sequences": f"{c.n_train:,}",
        "validation sequences": f"{c.n_val:,}",
        "epochs (at most)": f"{c.epochs}",
        "batch size": f"{c.batch_size}",
        "updates per run (at most)": f"{c.epochs * c.updates_per_epoch:,}",
        "validation points per epoch": f"{c.evals_per_epoch}",
        "early stop below": f"{c.early_stop:g}",
        "optimizer": f"RMSprop(alpha={c.rms_alpha:g}, eps={c.rms_eps:g}), clip {c.clip_norm:g}",
        **{f"scales: {k}": ", ".join(f"{v:g}" for v in g.scales.get(k, ())) or "-" for k in INITS},
        "learning rates": ", ".join(f"{v:g}" for v in g.lrs),
        "seeds": ", ".join(str(v) for v in g.seeds),
        **{f"runs: {k}": f"{n}" for k, n in g.runs_per_init().items()},
        "runs in all": f"{len(g):,}",
    }
    if n_test is not None:
        rows["test digits (test accuracy)"] = f"{n_test:,}"
    return rows


def _paper_grid_settings(task: str, n_test: int | None) -> dict[str, str]:
    """The paper's column: its grid, and for psMNIST the authors' code's data split (the paper states none).

    The rows only the authors' code gives (:data:`_GRID_FROM_CODE`) say so.
    """
    g = _sweep.grid(task, "paper")
    rows = _grid_settings(g, None)
    if task == "psmnist":  # the authors trained on every training digit and validated on the test digits
        c = g.configs()[0]
        rows.update({"training sequences": f"{_paper.N_MNIST_TRAIN:,} digits",
                     "validation sequences": f"the {_paper.N_MNIST_TEST:,} test digits",
                     "updates per run (at most)": f"{c.epochs * (_paper.N_MNIST_TRAIN // c.batch_size):,}"})
    if n_test is not None:
        rows["test digits (test accuracy)"] = "not reported"
    return _cite(rows, dict.fromkeys(_GRID_FROM_CODE, _CODE))


def _lm_scales(cfgs: Sequence[LMConfig]) -> str:
    """The scales of ``cfgs`` per initializer: listed if few, else counted, and whether tuned."""
    parts = []
    for init in dict.fromkeys(c.init for c in cfgs):
        if init == "plain":
            continue
        values = list(dict.fromkeys(c.scale for c in cfgs if c.init == init))
        text = ", ".join(f"{v:g}" for v in values) if len(values) <= 3 else (
            f"{len(values)} values, {min(values):g} … {max(values):g}")
        alphas = list(dict.fromkeys(c.fb_alpha for c in cfgs if c.init == init and c.fb_alpha is not None))
        if alphas:
            text += f" (α {', '.join(f'{a:g}' for a in alphas)})"
        parts.append(f"{init}: {text}")
    single = all(len({c.scale for c in cfgs if c.init == i}) == 1 for i in {c.init for c in cfgs})
    return ("one per initializer, our choice, not tuned: " if single else "") + "; ".join(parts)


def _lm_settings(cfgs: Sequence[LMConfig]) -> dict[str, str]:
    c = cfgs[0]
    toks = lambda n: "all" if n is None else f"first {n:,}"  # noqa: E731
    return {
        "recurrent layers": f"{c.nlayers} {f'vanilla ({c.nonlinearity})' if c.cell == 'rnn' else 'LSTM'}",
        "sizes (embedding → layers)": " → ".join([str(c.emsize)] + [str(n) for _, n in c.layer_sizes]),
        "decoder": "tied to the embedding" if c.tied else "untied",
        "BPTT window / batch": f"{c.bptt} / {c.batch_size}",
        "optimizer": f"Adam, lr {c.lr:g}, weight decay {c.wdecay:g}, clip {c.clip:g}"
        + (f", lr ÷10 after epochs {', '.join(map(str, c.when))}" if c.when else ""),
        "dropout (out/between/in/embedding/weights)": "/".join(
            f"{getattr(c, k):g}" for k in ("dropout", "dropouth", "dropouti", "dropoute", "wdrop")),
        "AR / TAR": f"{c.ar_alpha:g} / {c.tar_beta:g}",
        "epochs": f"{c.epochs}",
        "training tokens": toks(c.train_tokens),
        "validation tokens": toks(c.valid_tokens) + f" ({c.evals_per_epoch}× per epoch)",
        "test tokens (batch)": toks(c.test_tokens) + f" ({c.test_batch_size})",
        "initializers": ", ".join(dict.fromkeys(x.init for x in cfgs)),
        "scales": _lm_scales(cfgs),
        "seeds": ", ".join(str(v) for v in dict.fromkeys(x.seed for x in cfgs)),
        "runs": f"{len(cfgs)}",
    }


def _paper_lm_settings(mine: Sequence[LMConfig]) -> dict[str, str]:
    """The paper's column for the runs of one corpus: its configs of the same initializers, its scales and run
    count, each setting the paper does not state with its source (:func:`_lm_sources`)."""
    c = mine[0]
    paper = [paper_config(c.corpus, c.cell, i, s) for i in dict.fromkeys(x.init for x in mine) for s in _paper.LM_SEEDS]
    n_scales = len(_paper.LM_SCALE_GRID["chain"]) if c.cell == "rnn" else 1
    rows = {**_lm_settings(paper), "scales": _LM_PAPER_SCALES[c.cell], "runs": f"{len(paper) * n_scales}"}
    return _cite(rows, _lm_sources(c.cell, c.corpus))


def settings_table(runs: _sweep.Grid | Sequence[LMConfig], label: str | None = None, *,
                   n_test: int | None = None) -> pd.DataFrame:
    """What a sweep trains, beside the paper's settings: one row per setting (index ``setting``).

    Args:
        runs: a :class:`nnrnn.sweep.Grid` of copy, addition or psMNIST, or a list of
            :class:`nnrnn.lm.LMConfig`.
        label: the name of its column; default the grid's profile (``"this run"`` for
            language models). ``"paper"`` shows as ``"paper profile"``, so that what the
            ``paper`` profile trains and what the paper did stay two columns.
        n_test: psMNIST only: the test digits behind the test accuracy (adds a row; the paper
            reports no test accuracy).

    A grid gets the columns ``<label>`` and ``paper`` (the paper's grid; for psMNIST with the
    authors' code's data split); language models one such pair per corpus, ``"<corpus>: <label>"``
    and ``"<corpus>: paper"`` (the paper's runs of the same initializers, and its scales).
    A ``paper`` cell without a parenthesised source is what the paper's text states; the others
    end with their source: ``(authors' code)``, ``(awd-lstm-lm)``, or what is ``not stated``.

    Examples:
        >>> from nnrnn.sweep import grid
        >>> t = settings_table(grid("copy", "demo"))
        >>> list(t.columns), t.loc["sequence length T", "paper"], t.loc["batch size", "paper"]
        (['demo', 'paper'], '500', "16 (authors' code)")
        >>> t = settings_table(grid("psmnist", "smoke"), n_test=500)
        >>> t.loc["test digits (test accuracy)"].tolist(), t.loc["validation sequences", "paper"]
        (['500', 'not reported'], "the 10,000 test digits (authors' code)")
        >>> from nnrnn.lm import profile_configs
        >>> t = settings_table(profile_configs("rnn", "paper", corpora=["ptb"]), "paper")
        >>> list(t.columns), t.loc["scales", "ptb: paper"], t.loc["BPTT window / batch", "ptb: paper"]
        (['ptb: paper profile', 'ptb: paper'], 'best of 21 values each (§5); feedback chain α = the best chain scale', '70 / 20 (awd-lstm-lm)')
    """
    if isinstance(runs, _sweep.Grid):
        if n_test is not None and runs.task != "psmnist":
            raise validate.error("n_test", f"None for a {runs.task} grid (only psMNIST has test digits)", n_test)
        n_test = None if n_test is None else validate.positive_int(n_test, "n_test")
        label = runs.profile if label is None else label
        pairs = [("", _grid_settings(runs, n_test), _paper_grid_settings(runs.task, n_test))]
    else:
        cfgs = list(runs)
        if not cfgs or not all(isinstance(c, LMConfig) for c in cfgs):
            raise validate.error("runs", "a Grid or a non-empty list of LMConfig", type(runs).__name__, raw=True)
        if n_test is not None:
            raise validate.error("n_test", "None for language models", n_test)
        label = "this run" if label is None else label
        by_corpus = {k: [c for c in cfgs if c.corpus == k] for k in dict.fromkeys(c.corpus for c in cfgs)}
        pairs = [(f"{k}: ", _lm_settings(mine), _paper_lm_settings(mine)) for k, mine in by_corpus.items()]
    name = "paper profile" if label == "paper" else label
    keys = list(dict.fromkeys(k for _, ours, theirs in pairs for k in (*ours, *theirs)))
    cols = {}
    for prefix, ours, theirs in pairs:
        cols[prefix + name] = [ours.get(k, "-") for k in keys]
        cols[prefix + "paper"] = [theirs.get(k, "-") for k in keys]
    return pd.DataFrame(cols, index=pd.Index(keys, name="setting"))
