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

from .. import profiles as _profiles
from .. import validate
from .config import CELLS, CORPORA, LMConfig, paper_config, scale_grid

__all__ = ["execution", "profile_configs"]


def execution(profile: str) -> dict[str, Any]:
    """Default :func:`~nnrnn.lm.runs.sweep` execution for a profile: ``executor`` and ``threads``.

    ``smoke`` trains in this process on one thread (tiny models gain nothing from more, and a
    busy machine makes extra threads slow); ``demo`` trains one run per CPU core in a process
    pool; ``paper`` trains here with every thread (or pass a Dask cluster of GPU workers).

    Examples:
        >>> execution("demo")
        {'executor': 'local', 'threads': 1}
    """
    return dict(_profiles.LM_EXECUTION[_profiles.check_profile(profile, tuple(_profiles.LM_EXECUTION))])


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
    _profiles.check_profile(profile, tuple(_profiles.LM_EXECUTION))
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {list(CELLS)}, got {cell!r}")
    s = _profiles.LM_RUNS[(cell, profile)]
    corpora = tuple((s["corpora"] or CORPORA) if corpora is None else corpora)
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
