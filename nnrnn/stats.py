r"""The statistics of the analysis plan (``book/analysis-plan.md``): exact tests, intervals, power.

Every test here is exact at the numbers of runs the book has (a few seeds, a few networks): it
enumerates every arrangement its null hypothesis makes equally likely, so its p-value is a count
of arrangements divided by their number, and the smallest p a design can give is known before any
run (:func:`min_attainable_p`). The plan page states which function answers which claim.

* :func:`stratified_permutation_test`: two groups of runs compared within strata (seeds); the
  primary test of each benchmark claim (non-normal against normal initializers, runs of one seed
  share the training data and the psMNIST permutation).
* :func:`sign_flip_test`: paired differences (one initializer against another, seed by seed) or
  per-network excesses (Table 2, Fig. 5).
* :func:`holm`: Holm's step-down adjustment of a family of p-values.
* :func:`hodges_lehmann_ci`: the Hodges-Lehmann estimate of paired differences and its exact
  signed-rank (Walsh-average) interval at the highest attainable level not above the one asked;
  :func:`interval_coverage` simulates how often that interval covers.
* :func:`loss_scores`: the loss endpoint, a rank in which a diverged run is worst.
* :func:`kaplan_meier`: the survival view of time to divergence.
* :func:`success_design_power`: the exact power of the primary test at given success rates.
* :func:`henrici_excess`: trained :math:`d(W)` against :math:`d(W_0 + E)` with a random change
  :math:`E` of the trained change's size (Table 2's null).

Tests are one-sided: ``alternative="greater"`` asks whether group a's scores (or the differences)
are larger; scores are oriented so that larger is the paper's direction.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Hashable, NamedTuple, Sequence

import numpy as np
import pandas as pd

from . import validate
from .analysis import henrici

__all__ = [
    "ExactTest",
    "Coverage",
    "HenriciNull",
    "MAX_ARRANGEMENTS",
    "stratified_permutation_test",
    "sign_flip_test",
    "min_attainable_p",
    "seed_differences",
    "pairwise_tests",
    "holm",
    "walsh_interval_rank",
    "hodges_lehmann_ci",
    "interval_coverage",
    "loss_scores",
    "kaplan_meier",
    "success_design_power",
    "henrici_excess",
    "asymmetry_excess",
]

#: the most arrangements an exact test enumerates (2**22 float64 values: 32 MiB); 6 seeds of 4
#: runs give 6**6 = 46,656, 20 networks 2**20.
MAX_ARRANGEMENTS = 2**22
_ALTERNATIVES = ("greater", "less")


@dataclass(frozen=True)
class ExactTest:
    """An exact test's outcome.

    Attributes:
        statistic: the observed statistic (a sum over strata, or of differences).
        p_value: the share of equally likely arrangements whose statistic is at least as extreme
            in the direction of ``alternative`` (the observed one included).
        n_arrangements: how many arrangements were enumerated.
        alternative: ``"greater"`` or ``"less"``.
    """

    statistic: float
    p_value: float
    n_arrangements: int
    alternative: str


# ----------------------------------------------------------------------------- input checks
def _vector(x: Any, name: str, *, allow_nan: bool = False) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise validate.error(name, "a sequence of real numbers", x) from None
    if a.ndim != 1 or a.size == 0:
        raise validate.error(name, "a non-empty 1-D sequence of real numbers", f"shape {a.shape}", raw=True)
    bad = np.isinf(a) if allow_nan else ~np.isfinite(a)
    if bad.any():
        raise validate.error(name, "finite numbers" + (" (or NaN)" if allow_nan else ""), a.tolist())
    return a


def _flags(x: Any, name: str, n: int) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1 or len(a) != n or not (a.dtype == bool or (np.issubdtype(a.dtype, np.integer) and np.isin(a, (0, 1)).all())):
        raise validate.error(name, f"{n} booleans (True/False or 1/0)", x)
    return a.astype(bool)


def _labels(x: Any, name: str, n: int) -> list[Hashable]:
    labels = list(x) if not isinstance(x, (str, bytes)) else None
    if labels is None or len(labels) != n:
        raise validate.error(name, f"a sequence of {n} labels (one per run)", x)
    return labels


def _alternative(alternative: Any) -> str:
    return validate.choice(alternative, "alternative", _ALTERNATIVES)


# ----------------------------------------------------------------------------- exact tests
def _exact(parts: list[np.ndarray], observed: float, alternative: str) -> ExactTest:
    """The exact test whose statistic is a sum of independent parts, each uniform over its values."""
    n = math.prod(len(p) for p in parts)
    if n > MAX_ARRANGEMENTS:
        raise ValueError(f"the exact test would enumerate {n} arrangements, more than MAX_ARRANGEMENTS = "
                         f"{MAX_ARRANGEMENTS}; use fewer strata or runs")
    null = np.zeros(1)
    for p in parts:
        null = (null[:, None] + p[None, :]).ravel()
    # equal arrangements may differ by rounding: a relative 1e-9 of the largest possible sum is far
    # above the rounding of a sum of a few terms and far below any real difference of scores
    tol = 1e-9 * max(1.0, sum(float(np.abs(p).max()) for p in parts))
    hits = null >= observed - tol if alternative == "greater" else null <= observed + tol
    return ExactTest(float(observed), int(hits.sum()) / n, n, alternative)


def _strata(scores, groups, strata) -> tuple[np.ndarray, np.ndarray, dict[Hashable, np.ndarray]]:
    x = _vector(scores, "scores")
    g = _flags(groups, "groups", len(x))
    index: dict[Hashable, list[int]] = {}
    for i, s in enumerate(_labels(strata, "strata", len(x))):
        index.setdefault(s, []).append(i)
    return x, g, {s: np.asarray(ix) for s, ix in index.items()}


def stratified_permutation_test(scores, groups, strata, *, alternative: str = "greater") -> ExactTest:
    """Exact permutation test of "group a scores higher than group b", within strata.

    The statistic is the sum over strata of (mean score of group a - mean score of group b).
    Under the null hypothesis the labels are exchangeable within each stratum: each stratum's
    ``C(n_s, k_s)`` ways to give its ``k_s`` group-a labels to its ``n_s`` runs are equally
    likely, and all ``prod C(n_s, k_s)`` arrangements are enumerated. A stratum with runs of only
    one group carries no comparison and is left out (a seed with missing runs uses the runs present).

    Args:
        scores: one score per run; larger is the direction ``alternative="greater"`` tests.
        groups: one boolean per run, ``True`` for group a.
        strata: one label per run (the seed).
        alternative: ``"greater"`` (group a higher) or ``"less"``.

    Examples:
        >>> t = stratified_permutation_test([1, 1, 0, 0] * 2, [True, True, False, False] * 2, [1] * 4 + [2] * 4)
        >>> t.statistic, t.p_value == 1 / 36, t.n_arrangements
        (2.0, True, 36)
    """
    alternative = _alternative(alternative)
    x, g, index = _strata(scores, groups, strata)
    parts, observed = [], 0.0
    for ix in index.values():
        k, n = int(g[ix].sum()), len(ix)
        if k == 0 or k == n:
            continue
        xs = x[ix]
        masks = np.zeros((math.comb(n, k), n), bool)
        for row, combo in enumerate(itertools.combinations(range(n), k)):
            masks[row, list(combo)] = True
        in_a = masks @ xs
        parts.append(in_a / k - (xs.sum() - in_a) / (n - k))
        observed += xs[g[ix]].mean() - xs[~g[ix]].mean()
    if not parts:
        raise ValueError(f"no stratum holds runs of both groups (strata {list(index)}); nothing to compare")
    return _exact(parts, observed, alternative)


def sign_flip_test(differences, *, alternative: str = "greater") -> ExactTest:
    """Exact sign-flip test of "the differences are centred above 0" (paired runs or per-network excesses).

    Under the null hypothesis each difference is as likely to have the opposite sign: all
    ``2**n`` sign patterns are enumerated; the statistic is the sum of the differences.

    Examples:
        >>> t = sign_flip_test([0.3, 0.1, 0.2, 0.5, 0.4, 0.6])
        >>> t.p_value == 1 / 64, sign_flip_test([0.3, -0.1], alternative="less").p_value
        (True, 0.75)
    """
    alternative = _alternative(alternative)
    d = _vector(differences, "differences")
    return _exact([np.array([v, -v]) for v in d], float(d.sum()), alternative)


def min_attainable_p(n_a: Sequence[int], n_b: Sequence[int]) -> float:
    """The smallest p-value an exact test can give for this design, known before any run.

    ``n_a[s]`` and ``n_b[s]`` are the runs of groups a and b in stratum ``s``: it is one
    arrangement out of ``prod C(n_a + n_b, n_a)``, reached when the scores separate the groups
    without ties. A paired sign-flip test over ``n`` pairs is the case ``n_a = n_b = [1] * n``.

    Examples:
        >>> min_attainable_p([2] * 6, [2] * 6) == 1 / 6**6, min_attainable_p([1] * 6, [1] * 6)
        (True, 0.015625)
    """
    if len(n_a) != len(n_b):
        raise ValueError(f"n_a and n_b must have one count per stratum each, got {list(n_a)} and {list(n_b)}")
    total = 1
    for s, (a, b) in enumerate(zip(n_a, n_b)):
        a, b = validate.non_negative_int(a, f"n_a[{s}]"), validate.non_negative_int(b, f"n_b[{s}]")
        total *= math.comb(a + b, a)
    return 1.0 / total


def seed_differences(scores, groups, strata) -> pd.Series:
    """Per stratum holding both groups: mean score of group a - mean score of group b (index: stratum).

    Examples:
        >>> seed_differences([1, 0, 1, 1, 0, 0], [True, False, False, True, True, False], [1, 1, 1, 2, 2, 2]).tolist()
        [0.5, 0.5]
    """
    x, g, index = _strata(scores, groups, strata)
    d = {s: x[ix][g[ix]].mean() - x[ix][~g[ix]].mean() for s, ix in index.items() if 0 < g[ix].sum() < len(ix)}
    return pd.Series(d, dtype=float, name="difference")


def pairwise_tests(scores, labels, strata, a_labels: Sequence[str], b_labels: Sequence[str], *,
                   alternative: str = "greater") -> pd.DataFrame:
    """Each label of ``a_labels`` against each of ``b_labels``: a sign-flip test over the strata
    holding both, with Holm's adjustment over the family of pairs.

    Returns one row per pair: ``a``, ``b``, ``n`` (paired strata), ``effect`` (mean difference),
    ``p`` and ``p_holm``.
    """
    x = _vector(scores, "scores")
    lab = _labels(labels, "labels", len(x))
    st = _labels(strata, "strata", len(x))
    rows = []
    for a, b in itertools.product(a_labels, b_labels):
        keep = [i for i, v in enumerate(lab) if v in (a, b)]
        d = seed_differences(x[keep], [lab[i] == a for i in keep], [st[i] for i in keep])
        if d.empty:
            raise ValueError(f"no stratum holds runs of both {a!r} and {b!r}; nothing to compare")
        rows.append({"a": a, "b": b, "n": len(d), "effect": float(d.mean()),
                     "p": sign_flip_test(d.to_numpy(), alternative=alternative).p_value})
    out = pd.DataFrame(rows)
    out["p_holm"] = holm(out["p"].to_numpy())
    return out


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input order: reject ``i`` at level α iff ``adjusted[i] < α``.

    Examples:
        >>> holm([0.01, 0.04, 0.03, 0.005]).round(4).tolist()
        [0.03, 0.06, 0.06, 0.02]
    """
    p = _vector(pvalues, "pvalues")
    if ((p < 0) | (p > 1)).any():
        raise validate.error("pvalues", "numbers in [0, 1]", p.tolist())
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = stepped
    return out


# ----------------------------------------------------------------------------- intervals
def _signed_rank_counts(n: int) -> np.ndarray:
    """How many of the ``2**n`` sign patterns give each signed-rank sum ``0 .. n(n+1)/2``."""
    counts = np.ones(1, dtype=np.int64)
    for r in range(1, n + 1):
        counts = np.concatenate([counts, np.zeros(r, np.int64)]) + np.concatenate([np.zeros(r, np.int64), counts])
    return counts


def walsh_interval_rank(n: int, level: float = 0.95) -> tuple[int, float]:
    """The interval ``[W_(k), W_(M+1-k)]`` of the ``M = n(n+1)/2`` sorted Walsh averages with the
    highest exact level not above ``level``: returns ``(k, attained level)``.

    Its level is ``1 - 2 P(T <= k - 1)`` for the signed-rank statistic ``T`` (exact for
    continuous differences symmetric about the effect).

    Examples:
        >>> walsh_interval_rank(6), walsh_interval_rank(3)
        ((2, 0.9375), (1, 0.75))
    """
    n = validate.integer(n, "n", low=2, high=60)
    level = validate.finite_float(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
    cdf = np.cumsum(_signed_rank_counts(n)) / 2.0**n
    m = n * (n + 1) // 2
    for k in range(1, (m + 1) // 2 + 1):
        attained = 1.0 - 2.0 * cdf[k - 1]
        if attained <= level:
            return k, float(attained)
    raise ValueError(f"level must be at least the narrowest interval's level at n = {n} "
                     f"({1.0 - 2.0 * cdf[(m + 1) // 2 - 1]:.4g}), got {level!r}")


def _walsh(d: np.ndarray) -> np.ndarray:
    """The sorted Walsh averages ``(d_i + d_j) / 2, i <= j`` along the last axis."""
    i, j = np.triu_indices(d.shape[-1])
    return np.sort((d[..., i] + d[..., j]) / 2.0, axis=-1)


def hodges_lehmann_ci(differences, level: float = 0.95) -> tuple[float, float, float, float]:
    """The Hodges-Lehmann estimate (median of the Walsh averages) of paired differences and their
    exact signed-rank interval (:func:`walsh_interval_rank`).

    Returns ``(estimate, low, high, attained level)``; with 6 seeds the level is 93.75 %.
    The interval assumes differences symmetric about the effect; the permutation tests do not.

    Examples:
        >>> hodges_lehmann_ci([1, 2, 3, 4, 5, 6])
        (3.5, 1.5, 5.5, 0.9375)
    """
    d = _vector(differences, "differences")
    k, attained = walsh_interval_rank(len(d), level)
    w = _walsh(d)
    return float(np.median(w)), float(w[k - 1]), float(w[len(w) - k]), attained


@dataclass(frozen=True)
class Coverage:
    """A simulated coverage of :func:`hodges_lehmann_ci`: ``simulated`` (share of ``draws`` samples
    whose interval holds the true centre), its binomial standard error ``se``, and the exact
    ``attained`` level it should match for continuous symmetric differences."""

    n: int
    level: float
    attained: float
    simulated: float
    se: float
    draws: int


def interval_coverage(n: int, *, draws: int = 20_000, seed: int = 0, level: float = 0.95,
                      sampler: Callable[[np.random.Generator, tuple[int, int]], np.ndarray] | None = None) -> Coverage:
    """Simulate how often the Hodges-Lehmann interval of ``n`` paired differences covers their centre.

    ``sampler(rng, shape)`` draws differences from a distribution symmetric about 0 (default:
    standard normal; a discrete one, e.g. of success differences, shows what ties do).

    Examples:
        >>> c = interval_coverage(6, draws=2000)
        >>> c.attained, abs(c.simulated - c.attained) < 4 * c.se
        (0.9375, True)
    """
    draws = validate.positive_int(draws, "draws")
    k, attained = walsh_interval_rank(n, level)
    rng = np.random.default_rng(validate.non_negative_int(seed, "seed"))
    x = np.asarray(sampler(rng, (draws, n)) if sampler is not None else rng.standard_normal((draws, n)), float)
    if x.shape != (draws, n):
        raise ValueError(f"sampler must return an array of shape {(draws, n)}, got shape {x.shape}")
    w = _walsh(x)
    hit = float(((w[:, k - 1] <= 0) & (w[:, -k] >= 0)).mean())
    return Coverage(int(n), float(level), attained, hit, math.sqrt(attained * (1 - attained) / draws), draws)


# ----------------------------------------------------------------------------- endpoints
def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x`` ascending, ties sharing their mean rank."""
    values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    before = np.cumsum(counts) - counts
    return (before + (counts + 1) / 2.0)[inverse]


def loss_scores(final_losses, diverged_at) -> np.ndarray:
    """The loss endpoint as a score: minus the run's rank among the runs given (rank 1: lowest loss).

    Runs that never diverged (``diverged_at`` NaN) rank by final validation loss; every diverged
    run ranks below them, and among diverged runs the earlier divergence (smaller update) ranks
    worse. Ties share their mean rank. A diverged run's final loss is ignored (it may be NaN).

    Examples:
        >>> loss_scores([0.02, 0.01, float("nan"), 0.5, float("nan")], [None, None, 900, None, 40]).tolist()
        [-2.0, -1.0, -4.0, -3.0, -5.0]
    """
    div = _vector([np.nan if v is None else v for v in np.asarray(diverged_at, dtype=object).ravel()],
                  "diverged_at", allow_nan=True)
    loss = np.asarray(final_losses, dtype=float)
    if loss.shape != div.shape:
        raise ValueError(f"final_losses and diverged_at must have one entry per run, got shapes {loss.shape} and {div.shape}")
    diverged = ~np.isnan(div)
    if (div[diverged] < 0).any():
        raise validate.error("diverged_at", "an update >= 0 or NaN (never diverged)", div.tolist())
    if not np.isfinite(loss[~diverged]).all():
        raise validate.error("final_losses", "finite for every run that did not diverge", loss.tolist())
    rank = np.empty(len(div))
    ok = int((~diverged).sum())
    if ok:
        rank[~diverged] = _average_ranks(loss[~diverged])
    if diverged.any():
        rank[diverged] = ok + _average_ranks(-div[diverged])
    return -rank


def kaplan_meier(times, events) -> pd.DataFrame:
    """The Kaplan-Meier estimate of the survival function (here: of not having diverged).

    ``times``: the update at which each run diverged (``events`` true) or its last update (false:
    censored). One row per distinct time: ``time``, ``at_risk`` (runs with time >= it),
    ``events``, ``censored`` and ``survival`` (the estimate just after ``time``; 1 before the
    first). A run censored at an event's time is counted at risk at that time.

    Examples:
        >>> kaplan_meier([2, 3, 3, 5], [1, 1, 0, 0])["survival"].round(4).tolist()
        [0.75, 0.5, 0.5]
    """
    t = _vector(times, "times")
    if (t < 0).any():
        raise validate.error("times", "non-negative numbers", t.tolist())
    e = _flags(events, "events", len(t))
    rows, s = [], 1.0
    for u in np.unique(t):
        at_risk, d = int((t >= u).sum()), int(((t == u) & e).sum())
        s *= 1.0 - d / at_risk
        rows.append({"time": float(u), "at_risk": at_risk, "events": d, "censored": int(((t == u) & ~e).sum()),
                     "survival": s})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- power
def _rates(rates: Sequence[float], name: str) -> list[float]:
    out = [validate.finite_float(p, f"{name}[{i}]", low=0.0, high=1.0) for i, p in enumerate(rates)]
    if not out:
        raise validate.error(name, "at least one success rate", list(rates))
    return out


def success_design_power(rates_a: Sequence[float], rates_b: Sequence[float], n_seeds: int, *,
                         alpha: float = 0.05) -> float:
    """The exact power of the primary success test: the probability that
    :func:`stratified_permutation_test` (``"greater"``) gives ``p < alpha`` when each of ``n_seeds``
    seeds runs one initializer per rate, group a's with ``rates_a`` and group b's with ``rates_b``,
    each run succeeding independently (score 1) or not (0).

    Given each seed's number of successes ``t``, the test's statistic orders the designs like the
    group-a successes ``A``; under the null a seed's group-a count follows the hypergeometric law,
    so the test is decided by ``A`` and the seeds' totals. The function sums, over every
    multiset of totals, the probability of each ``A`` whose exact p-value (the same count of
    arrangements as the test's) is below ``alpha``.

    Examples:
        >>> success_design_power([0.0, 0.0], [0.0, 0.0], 6), success_design_power([1.0, 1.0], [0.0, 0.0], 2)
        (0.0, 1.0)
    """
    ra, rb = _rates(rates_a, "rates_a"), _rates(rates_b, "rates_b")
    n = validate.integer(n_seeds, "n_seeds", low=1, high=40)
    alpha = validate.finite_float(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
    ka, kb = len(ra), len(rb)
    pa, pb = np.ones(1), np.ones(1)
    for p in ra:
        pa = np.convolve(pa, [1 - p, p])
    for p in rb:
        pb = np.convolve(pb, [1 - p, p])
    null_t, alt_t = {}, {}  # per seed total t: arrangements with a group-a successes, and P(a, t)
    for t in range(ka + kb + 1):
        a = range(ka + 1)
        null_t[t] = np.array([math.comb(t, i) * math.comb(ka + kb - t, ka - i) if i <= t else 0 for i in a], dtype=object)
        alt_t[t] = np.array([pa[i] * pb[t - i] if 0 <= t - i <= kb else 0.0 for i in a])
    power = 0.0
    for combo in itertools.combinations_with_replacement(range(ka + kb + 1), n):
        null, alt = np.ones(1, dtype=object), np.ones(1)
        for t in combo:
            null, alt = np.convolve(null, null_t[t]), np.convolve(alt, alt_t[t])
        tail = np.cumsum(null[::-1])[::-1]
        p = np.array([int(c) / int(tail[0]) for c in tail])
        ways = math.factorial(n) // math.prod(math.factorial(c) for c in Counter(combo).values())
        power += ways * float(alt[p < alpha].sum())
    return float(min(power, 1.0))


# ----------------------------------------------------------------------------- trained weights
class HenriciNull(NamedTuple):
    """Trained :math:`d(W)`, the median of its null :math:`d(W_0 + E)`, their difference, and the null draws."""

    trained: float
    null_median: float
    excess: float
    null: np.ndarray


def henrici_excess(w0, w, *, draws: int = 200, seed: int = 0) -> HenriciNull:
    """Table 2's null: how much more non-normal the trained ``W`` is than ``W0`` changed at random.

    Each null draw is :math:`d(W_0 + E)` with :math:`E` Gaussian, scaled to the Frobenius norm of
    the trained change :math:`W - W_0`; ``excess = d(W) - median(null)``. Any change of a normal
    matrix makes :math:`d > 0`: this asks whether training made it more non-normal than a change
    of the same size in a random direction does.

    Examples:
        >>> eye = np.eye(4); up = eye + 0.5 * np.eye(4, k=1)        # a chain-like change
        >>> henrici_excess(eye, up, draws=50).excess > 0
        True
    """
    w0 = validate.real_array(w0, "w0", ndim=2, square=True).numpy()
    w = validate.real_array(w, "w", ndim=2, square=True).numpy()
    if w.shape != w0.shape:
        raise ValueError(f"w0 and w must have the same shape, got {w0.shape} and {w.shape}")
    draws = validate.positive_int(draws, "draws")
    rng = np.random.default_rng(validate.non_negative_int(seed, "seed"))
    size = float(np.linalg.norm(w - w0))
    null = np.empty(draws)
    for i in range(draws):
        e = rng.standard_normal(w.shape)
        null[i] = henrici(w0 + e * (size / np.linalg.norm(e)))
    trained = henrici(w)
    return HenriciNull(trained, float(np.median(null)), trained - float(np.median(null)), null)


def asymmetry_excess(trained, untrained, trained_control, untrained_control) -> np.ndarray:
    """Fig. 5's per-network excess: the forward asymmetry's change in training (pulse ordering)
    minus the same change under the no-pulse control ordering.

    Examples:
        >>> asymmetry_excess([0.5], [0.25], [0.25], [0.125]).tolist()  # 0.25 - 0.125
        [0.125]
    """
    arrays = [_vector(v, name) for v, name in ((trained, "trained"), (untrained, "untrained"),
                                               (trained_control, "trained_control"), (untrained_control, "untrained_control"))]
    if len({len(a) for a in arrays}) != 1:
        raise ValueError(f"the four asymmetries need one value per network each, got lengths {[len(a) for a in arrays]}")
    t, u, tc, uc = arrays
    return (t - u) - (tc - uc)
