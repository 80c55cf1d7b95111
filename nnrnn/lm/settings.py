"""Which language-model runs each profile trains, how they are executed, and what they differ in.

* :func:`profile_configs`: the runs behind chapter 07 (``cell="rnn"``) or 09 (``"lstm"``) on a
  profile (``smoke``, ``demo``, ``paper``);
* :func:`execution`: the default executor and thread count of a profile;
* :func:`settings_table`: what a profile trains, beside the paper's settings.

**The** ``paper`` **profile is not quite the paper's experiment.** It trains the paper's
models, data, epochs and dropouts (:func:`~nnrnn.lm.config.paper_config`) with 3 seeds, but
**one scale per initializer** (:data:`~nnrnn.lm.config.DEFAULT_SCALE`, our choice), where the
paper's Table 1 reports each vanilla initializer at the best of its 21-value scale sweep (§5;
63 runs per model and corpus). The sweep is ``profile_configs("rnn", "paper", grid=True)``
(756 runs), reduced to one scale per initializer by :func:`~nnrnn.lm.analysis.best_scale`.
Its feedback chains use the forward gain :data:`~nnrnn.lm.config.DEFAULT_FB_ALPHA` (1.0);
the paper fixes it at the best chain scale, a second stage that the caller runs with
``inits=["fb_chain"], fb_alpha=<best chain scale>``. The paper gives no scales for its LSTMs;
ours are the authors' code defaults. :func:`settings_table` lists these differences.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import pandas as pd

from .. import paper as _paper
from ..profiles import check_profile
from .config import CELLS, CORPORA, INITS, LMConfig, _check_int, paper_config, scale_grid

__all__ = ["execution", "profile_configs", "settings_table"]

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
    # the paper's runs, but at one scale per initializer (DEFAULT_SCALE); the paper's Table 1
    # is the best of a 21-value scale sweep per initializer (grid=True); see the docstring of this module
    ("rnn", "paper"): dict(corpora=CORPORA, inits=INITS["rnn"][:4], n_seeds=len(_paper.LM_SEEDS), changes={}),
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
    # the paper states no LSTM scales: the authors' code defaults (DEFAULT_SCALE)
    ("lstm", "paper"): dict(corpora=CORPORA, inits=("orthogonal", "chain", "plain", "mixed"),
                            n_seeds=len(_paper.LM_SEEDS), changes={}),
}


#: how each profile's runs are executed by default (see :func:`execution`).
_EXECUTION = {
    "smoke": {"executor": "serial", "threads": 1},
    "demo": {"executor": "local", "threads": 1},
    "paper": {"executor": "serial", "threads": None},
}


def execution(profile: str) -> dict[str, Any]:
    """Default :func:`~nnrnn.lm.runs.sweep` execution for a profile: ``executor`` and ``threads``.

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
    * ``paper``: :func:`paper_config` on word PTB, character PTB and enwik8 with 3 seeds, at
      **one scale per initializer** (:data:`nnrnn.lm.DEFAULT_SCALE`). This differs from the paper's
      Table 1, which reports each vanilla initializer at the best of 21 scales: pass
      ``grid=True`` for that sweep (see the module docstring).

    Seeds are ``seed + 1, ..., seed + n_seeds`` (the paper's 1, 2, 3 for ``seed = 0``). With
    ``grid=True`` (vanilla only) every init runs on its paper scale grid (:func:`scale_grid`);
    otherwise at :data:`nnrnn.lm.DEFAULT_SCALE`. Extra keyword arguments override config fields (e.g.
    ``fb_alpha``, which only feedback chains use).

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


#: the paper's scales, for the settings table (§5; it gives none for LSTMs).
_PAPER_SCALES = {
    "rnn": "best of 21 values each (§5); feedback chain α = the best chain scale",
    "lstm": "not stated",
}


def _scales(cfgs: Sequence[LMConfig]) -> str:
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
        "scales": _scales(cfgs),
        "seeds": ", ".join(str(v) for v in dict.fromkeys(x.seed for x in cfgs)),
        "runs": f"{len(cfgs)}",
    }


def settings_table(configs: Sequence[LMConfig], label: str = "this run") -> pd.DataFrame:
    """What ``configs`` train, beside the paper's settings, one column pair per corpus.

    The columns are ``"<corpus>: <label>"`` and ``"<corpus>: paper"`` (for ``label="paper"``
    the first is ``"<corpus>: paper profile"``, so that the ``paper`` profile's differences
    from the paper, its scales above all, show too).

    Examples:
        >>> t = settings_table(profile_configs("rnn", "smoke"), "smoke")
        >>> t.loc["epochs"].tolist()
        ['2', '500']
        >>> t = settings_table(profile_configs("rnn", "paper", corpora=["ptb"]), "paper")
        >>> t.loc["scales"].tolist()[1]
        'best of 21 values each (§5); feedback chain α = the best chain scale'
    """
    cols = {}
    for corpus in dict.fromkeys(c.corpus for c in configs):
        mine = [c for c in configs if c.corpus == corpus]
        paper = [paper_config(corpus, mine[0].cell, i, s) for i in dict.fromkeys(c.init for c in mine)
                 for s in _paper.LM_SEEDS]
        ours, theirs = _settings(mine), _settings(paper)
        theirs["scales"] = _PAPER_SCALES[mine[0].cell]
        n_scales = len(_paper.LM_SCALE_GRID["chain"]) if mine[0].cell == "rnn" else 1
        theirs["runs"] = f"{len(paper) * n_scales}"
        cols[f"{corpus}: {'paper profile' if label == 'paper' else label}"] = ours
        cols[f"{corpus}: paper"] = theirs
    t = pd.DataFrame(cols).drop(index="corpus")
    t.index.name = "setting"
    return t

