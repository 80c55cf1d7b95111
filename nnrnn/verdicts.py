r"""Verdicts on the paper's claims, computed from our numbers and a statistical test.

No verdict in the book is written by hand: the results page (:mod:`nnrnn.results`) and the
chapters' verdict sentences call these functions.

Verdicts:

* ``reproduced``: our estimate points the paper's way and the test rejects "no difference";
* ``consistent``: it points the paper's way, but the test cannot exclude no difference;
* ``inconclusive``: it points the other way, but not significantly;
* ``not reproduced``: it points the other way, significantly;
* ``not tested at the paper's scale``: the numbers come from a reduced profile (``demo``,
  ``smoke``) or the runs are not in the archive; the test is still reported for what it is.

Tests (our choices, stated on the page): success counts by Fisher's exact test (two-sided,
``scipy.stats.fisher_exact``); differences of final validation loss by a percentile bootstrap
over runs (``scipy.stats.bootstrap``, 9,999 resamples, 95 %), which with three to six seeds per
initializer is a rough interval and says so; the change of Henrici's index during training, and of
the hidden chain's forward asymmetry (Fig. 5), by a bootstrap over networks of the increase; the
decoding memory of Fig. 2 by a bootstrap over simulated repetitions. Exact computations (the
theory) need no test: their verdict is decided by the sign of the computed difference alone.
Where the paper gives success counts, :func:`success_power` says how likely the success test is to
come out significant with our number of runs, were they as successful as the paper's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

__all__ = ["VERDICTS", "Verdict", "verdict", "success_verdict", "success_power", "difference_verdict", "increase_verdict"]

VERDICTS = ("reproduced", "consistent", "inconclusive", "not reproduced", "not tested at the paper's scale")
_ALPHA = 0.05

@dataclass(frozen=True)
class Verdict:
    """A verdict with the test behind it.

    Attributes:
        label: one of :data:`VERDICTS`.
        effect: the estimate, signed so that positive points the paper's way.
        test: the test in words.
        p_value: the test's p-value (NaN where the test is a confidence interval or exact).
        ci: a 95 % confidence interval of ``effect`` (``None`` where the test gives none).
    """

    label: str
    effect: float
    test: str
    p_value: float = float("nan")
    ci: tuple[float, float] | None = None

    @property
    def significant(self) -> bool:
        """Whether the test rejects "no difference" at the 5 % level."""
        return self.label in (VERDICTS[0], VERDICTS[3]) or (
            not math.isnan(self.p_value) and self.p_value < _ALPHA
        ) or (self.ci is not None and (self.ci[0] > 0 or self.ci[1] < 0))

    def describe(self) -> str:
        """The test and its outcome in one phrase, e.g. ``Fisher's exact test, p = 0.003``."""
        parts = [self.test]
        if not math.isnan(self.p_value):
            parts.append(f"p = {self.p_value:.2g}")
        if self.ci is not None:
            parts.append(f"95 % CI [{self.ci[0]:.3g}, {self.ci[1]:.3g}]")
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.label} ({self.describe()})"

def verdict(effect: float, significant: bool, at_paper_scale: bool) -> str:
    """The verdict label from the direction of ``effect`` (positive: the paper's way) and a test.

    Examples:
        >>> verdict(0.3, True, True), verdict(0.3, False, True), verdict(-0.3, False, True)
        ('reproduced', 'consistent', 'inconclusive')
        >>> verdict(-0.3, True, True), verdict(0.3, True, False)
        ('not reproduced', "not tested at the paper's scale")
    """
    if not at_paper_scale:
        return VERDICTS[4]
    if not math.isfinite(effect):
        raise ValueError(f"effect must be a finite number, got {effect!r}")
    if effect > 0:
        return VERDICTS[0] if significant else VERDICTS[1]
    return VERDICTS[3] if significant else VERDICTS[2]

def success_verdict(k_a: int, n_a: int, k_b: int, n_b: int, *, at_paper_scale: bool) -> Verdict:
    """The paper's claim "group a succeeds more often than group b", by Fisher's exact test.

    Examples:
        >>> v = success_verdict(57, 924, 0, 1188, at_paper_scale=True)
        >>> v.label, v.p_value < 1e-15
        ('reproduced', True)
        >>> success_verdict(1, 24, 0, 24, at_paper_scale=True).label
        'consistent'
    """
    for value, name in ((k_a, "k_a"), (n_a, "n_a"), (k_b, "k_b"), (n_b, "n_b")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if k_a > n_a or k_b > n_b or n_a == 0 or n_b == 0:
        raise ValueError(f"counts must satisfy 0 <= k <= n and n >= 1, got {k_a}/{n_a} and {k_b}/{n_b}")
    from scipy import stats  # lazy: importing scipy.stats adds entries to the warning filters

    p = float(stats.fisher_exact([[k_a, n_a - k_a], [k_b, n_b - k_b]], alternative="two-sided")[1])
    effect = k_a / n_a - k_b / n_b
    label = verdict(effect, p < _ALPHA, at_paper_scale) if effect != 0 else (
        VERDICTS[4] if not at_paper_scale else VERDICTS[2])
    return Verdict(label, effect, "Fisher's exact test (two-sided)", p_value=p)

def _pooled_successes(group: Sequence[tuple[int, float]], name: str) -> np.ndarray:
    """The distribution of a group's total successes: the sum of independent Binomial(n, p), one per
    ``(n, p)`` of ``group`` (an initializer's runs and its success rate)."""
    from scipy import stats  # lazy: importing scipy.stats adds entries to the warning filters

    pmf = np.ones(1)
    for n, p in group:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"{name}: run counts must be non-negative integers, got {n!r}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name}: success rates must lie in [0, 1], got {p!r}")
        pmf = np.convolve(pmf, stats.binom.pmf(np.arange(n + 1), n, p))
    if len(pmf) < 2:
        raise ValueError(f"{name}: needs at least one run, got {list(group)!r}")
    return pmf


def success_power(a: Sequence[tuple[int, float]], b: Sequence[tuple[int, float]], *, alpha: float = _ALPHA) -> float:
    """The probability that :func:`success_verdict` finds "group a succeeds more often than group b"
    significant (two-sided Fisher's exact test at ``alpha``, in a's favour) when each initializer of a
    group runs ``n`` times and succeeds with probability ``p``: ``a`` and ``b`` list ``(n, p)``.

    Exact: it sums the probability of every pair of pooled counts the design can produce. With the
    paper's copy rates (chain 46/462, feedback chain 11/462, identity and orthogonal 0/594) it says
    how likely our few seeds are to show the paper's effect, were they as good as the paper's runs.

    Examples:
        >>> round(success_power([(6, 0.5)], [(6, 0.0)]), 4)  # 5 or 6 of 6 against 0 of 6 is significant
        0.1094
        >>> success_power([(3, 0.0)], [(3, 0.0)])
        0.0
    """
    from scipy import stats  # lazy: importing scipy.stats adds entries to the warning filters

    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    pa, pb = _pooled_successes(a, "a"), _pooled_successes(b, "b")
    n_a, n_b = len(pa) - 1, len(pb) - 1
    power = 0.0
    for k_a in np.flatnonzero(pa > 0):
        for k_b in np.flatnonzero(pb > 0):
            if k_a * n_b > k_b * n_a and stats.fisher_exact([[k_a, n_a - k_a], [k_b, n_b - k_b]])[1] < alpha:
                power += pa[k_a] * pb[k_b]
    return float(min(power, 1.0))

def _bootstrap_ci(data: tuple[np.ndarray, ...], statistic: Callable, seed: int) -> tuple[float, float]:
    from scipy import stats  # lazy: importing scipy.stats adds entries to the warning filters

    res = stats.bootstrap(data, statistic, n_resamples=9999, confidence_level=0.95, method="percentile",
                          vectorized=True, axis=-1, random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)

def difference_verdict(a: Sequence[float], b: Sequence[float], *, at_paper_scale: bool, seed: int = 0,
                       over: str = "runs") -> Verdict:
    """The paper's claim "values ``a`` exceed values ``b``" (e.g. normal minus non-normal loss).

    ``effect = mean(a) - mean(b)`` with a percentile bootstrap CI (runs resampled within each
    group); significant when the CI excludes 0. Needs two values per group. ``over`` names what
    was resampled in the test's description (``"bootstrap over <over>"``).

    Examples:
        >>> v = difference_verdict([0.04, 0.041, 0.042], [0.01, 0.012, 0.011], at_paper_scale=True)
        >>> v.label, round(v.effect, 3)
        ('reproduced', 0.03)
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError(f"need at least two finite values per group, got {a.tolist()} and {b.tolist()}")
    effect = float(a.mean() - b.mean())
    lo, hi = _bootstrap_ci((a, b), lambda x, y, axis=-1: x.mean(axis=axis) - y.mean(axis=axis), seed)
    return Verdict(verdict(effect, lo > 0 or hi < 0, at_paper_scale), effect, f"bootstrap over {over}", ci=(lo, hi))

def increase_verdict(increase: Sequence[float], *, at_paper_scale: bool, floor: float = 0.0, seed: int = 0) -> Verdict:
    """The paper's claim "the quantity increases" from per-unit increases (e.g. Henrici after - before).

    Significant when the bootstrap CI of the mean increase lies above ``floor`` (a noise floor)
    or below ``-floor``.
    """
    x = np.asarray(increase, float)
    if len(x) < 2 or not np.isfinite(x).all():
        raise ValueError(f"need at least two finite values, got {x.tolist()}")
    effect = float(x.mean())
    lo, hi = _bootstrap_ci((x,), lambda v, axis=-1: v.mean(axis=axis), seed)
    return Verdict(verdict(effect, lo > floor or hi < -floor, at_paper_scale), effect, "bootstrap over networks", ci=(lo, hi))
