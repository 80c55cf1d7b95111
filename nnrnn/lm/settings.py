"""Which language-model runs each profile trains and how they are executed.

* :func:`profile_configs`: the runs behind chapter 07 (``cell="rnn"``) or 09 (``"lstm"``) on a
  profile (``smoke``, ``demo``, ``paper``);
* :func:`execution`: the default executor and thread count of a profile.

What a profile trains beside the paper's settings is :func:`nnrnn.pages.settings.settings_table`.

**The** ``paper`` **profile is not quite the paper's experiment.** It trains the paper's
models, data, epochs and dropouts (:func:`~nnrnn.lm.config.paper_config`) with 3 seeds, but
**one scale per initializer** (:data:`~nnrnn.lm.config.DEFAULT_SCALE`, our choice), where the
paper's Table 1 reports each vanilla initializer at the best of its 21-value scale sweep (§5;
63 runs per model and corpus). The sweep is ``profile_configs("rnn", "paper", grid=True)``
(756 runs), reduced to one scale per initializer by :func:`~nnrnn.lm.analysis.best_scale`.
Its feedback chains use the forward gain :data:`~nnrnn.lm.config.DEFAULT_FB_ALPHA` (1.0);
the paper fixes it at the best chain scale, a second stage that the caller runs with
``inits=["fb_chain"], fb_alpha=<best chain scale>``. The paper gives no scales for its LSTMs;
ours are the authors' code defaults. :func:`nnrnn.pages.settings.settings_table` lists these differences.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from .. import paper as _paper
from .. import validate
from ..profiles import check_profile
from .config import CELLS, CORPORA, INITS, LMConfig, paper_config, scale_grid

__all__ = ["execution", "profile_configs"]

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
    validate.integer(n, "n_seeds", low=1)
    validate.integer(seed, "seed", low=0)
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
