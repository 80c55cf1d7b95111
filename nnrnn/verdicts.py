r"""Verdicts on the paper's claims, computed from our numbers and a statistical test.

No verdict in the book is written by hand: the results page (:mod:`nnrnn.results`) and the
chapters' verdict sentences call these functions.

Labels, one meaning each (:data:`LABEL_MEANINGS` holds this wording; the analysis plan,
``book/analysis-plan.md``, quotes it, and a test keeps the three equal):

* ``reproduced``: the primary test, one-sided in the paper's direction, gives p < 0.05.
* ``consistent``: the estimate points the paper's way, but the primary test gives p ≥ 0.05.
* ``inconclusive``: the estimate is zero or points against the paper's direction, and the
  one-sided test in the opposite direction gives p ≥ 0.05.
* ``not reproduced``: the one-sided test in the direction opposite to the paper's, specified in
  advance like the primary test, gives p < 0.05.
* ``not tested at the paper's scale``: the runs are not at the paper's sequence length and model
  (a reduced profile, or no runs in the archive yet); the test is reported for what it is.
* ``not testable``: the design cannot show the paper's effect: its power at the paper's own
  effect is below 0.5 (where the paper gives success counts), or its smallest attainable p is not
  below 0.05 (where it gives no numbers), or a ceiling or floor makes the endpoints equal wherever
  they are compared (e.g. every run succeeded).

The label is decided in this order: "not tested at the paper's scale", then "not testable" (both
properties of the design and of the runs' endpoints, not of the test's outcome), then the tests.

The analysis plan's verdicts: :func:`pooled_verdict` (a benchmark claim: non-normal against
normal initializers, by the exact permutation test within seeds of :mod:`nnrnn.stats`),
:func:`excess_verdict` (Table 2 and Fig. 5: per-network excesses, by the exact sign-flip test),
both labelled by :func:`planned_label`; :func:`paper_success_rates` gives the paper's rates for
the power rule.

Protocol v1 (archive v1, shown as the earlier run set on its own page, ``00-results-v1``)
labels with :func:`verdict` from the direction of the effect and a test: success counts by
Fisher's exact test (two-sided, ``scipy.stats.fisher_exact``); differences of final validation
loss by a percentile bootstrap over runs (``scipy.stats.bootstrap``, 9,999 resamples, 95 %),
which with three to six seeds per initializer is a rough interval and says so; the change of
Henrici's index during training, and of the hidden chain's forward asymmetry (Fig. 5), by a
bootstrap over networks of the increase; the decoding memory of Fig. 2 by a bootstrap over
simulated repetitions. There "significant" means that test, not the plan's one-sided exact test,
and v1 has no "not testable". Exact computations (the theory) need no test: their verdict is
decided by the sign of the computed difference alone. Where the paper gives success counts,
:func:`success_power` says how likely the v1 success test is to come out significant with our
number of runs, were they as successful as the paper's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from . import paper as _paper
from . import validate
from .stats import min_attainable_p, seed_differences, sign_flip_test, stratified_permutation_test, success_design_power

__all__ = ["VERDICTS", "NOT_TESTABLE", "LABEL_MEANINGS", "Verdict", "verdict", "success_verdict", "success_power",
           "difference_verdict", "increase_verdict", "planned_label", "paper_success_rates", "pooled_verdict",
           "excess_verdict", "supports_hidden_chain"]

#: the labels; code elsewhere reads them by index, so a new label is appended, never inserted.
VERDICTS = ("reproduced", "consistent", "inconclusive", "not reproduced", "not tested at the paper's scale",
            "not testable")
NOT_TESTABLE = VERDICTS[5]
#: each label's one meaning (the module docstring and the analysis plan quote it word for word).
LABEL_MEANINGS: dict[str, str] = {
    "reproduced": "the primary test, one-sided in the paper's direction, gives p < 0.05.",
    "consistent": "the estimate points the paper's way, but the primary test gives p ≥ 0.05.",
    "inconclusive": "the estimate is zero or points against the paper's direction, and the one-sided test in the "
                    "opposite direction gives p ≥ 0.05.",
    "not reproduced": "the one-sided test in the direction opposite to the paper's, specified in advance like the "
                      "primary test, gives p < 0.05.",
    "not tested at the paper's scale": "the runs are not at the paper's sequence length and model (a reduced "
                                       "profile, or no runs in the archive yet); the test is reported for what it is.",
    "not testable": "the design cannot show the paper's effect: its power at the paper's own effect is below 0.5 "
                    "(where the paper gives success counts), or its smallest attainable p is not below 0.05 (where "
                    "it gives no numbers), or a ceiling or floor makes the endpoints equal wherever they are "
                    "compared (e.g. every run succeeded).",
}
#: the power at the paper's own effect below which a design is "not testable".
MIN_POWER = 0.5
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
        after: what follows the p-value in :meth:`describe` (the plan's tests: the opposite direction's p).
    """

    label: str
    effect: float
    test: str
    p_value: float = float("nan")
    ci: tuple[float, float] | None = None
    after: str = ""

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
        return ", ".join(parts) + (f" {self.after}" if self.after else "")

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

# ----------------------------------------------------------------------------- the analysis plan (v2)
def planned_label(effect: float, p_paper: float, p_opposite: float, *, testable: bool, at_paper_scale: bool) -> str:
    """The analysis plan's label (:data:`LABEL_MEANINGS`) from the estimate, the two one-sided p-values
    (in the paper's direction and against it) and the design.

    Examples:
        >>> planned_label(0.5, 0.01, 0.99, testable=True, at_paper_scale=True)
        'reproduced'
        >>> planned_label(0.5, 0.2, 0.9, testable=True, at_paper_scale=True)
        'consistent'
        >>> planned_label(0.0, 0.6, 0.6, testable=True, at_paper_scale=True)
        'inconclusive'
        >>> planned_label(-0.5, 0.99, 0.01, testable=True, at_paper_scale=True)
        'not reproduced'
        >>> planned_label(0.5, 0.01, 0.99, testable=False, at_paper_scale=True)
        'not testable'
    """
    if not validate.flag(at_paper_scale, "at_paper_scale"):
        return VERDICTS[4]
    if not validate.flag(testable, "testable"):
        return NOT_TESTABLE
    effect = validate.finite_float(effect, "effect")
    p_paper = validate.finite_float(p_paper, "p_paper", low=0.0, high=1.0)
    p_opposite = validate.finite_float(p_opposite, "p_opposite", low=0.0, high=1.0)
    if p_paper < _ALPHA and p_opposite < _ALPHA:
        raise ValueError(f"the two one-sided p-values of one test cannot both be below {_ALPHA}, got {p_paper} and {p_opposite}")
    if p_paper < _ALPHA:
        return VERDICTS[0]
    if p_opposite < _ALPHA:
        return VERDICTS[3]
    return VERDICTS[1] if effect > 0 else VERDICTS[2]


def paper_success_rates(task: str) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The paper's success rates (Fig. 3d) as ``((chain, feedback chain), (identity, orthogonal))``,
    or ``None`` where the paper gives no counts (addition and psMNIST: bars only).

    Examples:
        >>> paper_success_rates("copy")[0][0] == 46 / 462, paper_success_rates("psmnist")
        (True, None)
    """
    counts = _paper.PAPER_SUCCESS[validate.choice(task, "task", tuple(_paper.PAPER_SUCCESS))]
    if counts is None:
        return None
    rate = {init: k / n for init, (k, n) in counts.items()}
    return (rate["chain"], rate["fb_chain"]), (rate["identity"], rate["orthogonal"])


def _describe_test(name: str, less, extra: str = "") -> dict[str, str]:
    """The plan's test in words: its primary p (the paper's direction) comes first, the opposite one after it."""
    return {"test": f"{name}, one-sided in the paper's direction",
            "after": f"(the opposite direction: p = {less.p_value:.2g}{extra})"}


def pooled_verdict(scores, nonnormal, seeds, *, at_paper_scale: bool,
                   paper_rates: tuple[Sequence[float], Sequence[float]] | None = None) -> Verdict:
    """The plan's primary test of a benchmark claim: non-normal runs score higher than normal ones.

    ``scores`` are oriented so that larger is the paper's way (success 0/1, or
    :func:`nnrnn.stats.loss_scores`); ``nonnormal`` flags the chain and feedback-chain runs;
    ``seeds`` stratify. The test is :func:`nnrnn.stats.stratified_permutation_test`, one-sided
    each way; the effect is the mean over seeds of (mean non-normal score - mean normal score).

    The design is testable when, with ``paper_rates`` (the paper's success rates, e.g.
    :func:`paper_success_rates`), the test's power at those rates with our seeds is at least
    :data:`MIN_POWER`; without them, when its smallest attainable p (the runs present) is below
    0.05; and in either case only if the scores differ within some seed.

    Examples:
        >>> s = [1, 1, 0, 0] * 6
        >>> pooled_verdict(s, [True, True, False, False] * 6, sorted([1, 2, 3, 4, 5, 6] * 4), at_paper_scale=True).label
        'reproduced'
        >>> pooled_verdict([1] * 24, [True, True, False, False] * 6, sorted([1, 2, 3, 4, 5, 6] * 4), at_paper_scale=True).label
        'not testable'
    """
    greater = stratified_permutation_test(scores, nonnormal, seeds, alternative="greater")
    less = stratified_permutation_test(scores, nonnormal, seeds, alternative="less")
    d = seed_differences(scores, nonnormal, seeds)
    g, st = np.asarray(nonnormal, bool), np.asarray(list(seeds), dtype=object)
    n_a = [int(g[st == s].sum()) for s in d.index]
    n_b = [int((~g[st == s]).sum()) for s in d.index]
    extra = ""
    if paper_rates is not None:
        power = success_design_power(paper_rates[0], paper_rates[1], len(d))
        testable, extra = power >= MIN_POWER, f"; power at the paper's rates: {power:.2g}"
    else:
        testable = min_attainable_p(n_a, n_b) < _ALPHA
    testable = testable and not (greater.p_value == 1.0 and less.p_value == 1.0)  # every arrangement ties
    effect = float(d.mean())
    label = planned_label(effect, greater.p_value, less.p_value, testable=testable, at_paper_scale=at_paper_scale)
    name = f"exact permutation test within {len(d)} seeds"
    return Verdict(label, effect, p_value=greater.p_value, **_describe_test(name, less, extra))


def excess_verdict(excesses, *, at_paper_scale: bool) -> Verdict:
    """The plan's test of Table 2 or Fig. 5 for one group: the per-network excesses exceed 0.

    The exact sign-flip test over networks (:func:`nnrnn.stats.sign_flip_test`), one-sided each
    way; the effect is the mean excess. Testable when the smallest attainable p, ``2**-n`` for
    ``n`` networks, is below 0.05 (five networks or more) and not every excess is 0. A group with
    no network reads "not testable" and says so.

    Examples:
        >>> excess_verdict([0.2, 0.1, 0.3, 0.25, 0.4], at_paper_scale=True).label
        'reproduced'
        >>> excess_verdict([0.2, 0.1, 0.3, 0.25], at_paper_scale=True).label  # 1/16 > 0.05
        'not testable'
    """
    x = np.asarray(excesses, float)
    if x.size == 0:
        label = planned_label(0.0, 1.0, 1.0, testable=False, at_paper_scale=at_paper_scale)
        return Verdict(label, float("nan"), "no network in this group")
    greater, less = sign_flip_test(x, alternative="greater"), sign_flip_test(x, alternative="less")
    testable = 0.5 ** len(x) < _ALPHA and not (greater.p_value == 1.0 and less.p_value == 1.0)
    effect = float(x.mean())
    label = planned_label(effect, greater.p_value, less.p_value, testable=testable, at_paper_scale=at_paper_scale)
    return Verdict(label, effect, p_value=greater.p_value, **_describe_test(f"exact sign-flip test over {len(x)} networks", less))


def supports_hidden_chain(v: Verdict, peak_lag: float) -> bool:
    """Whether a Fig. 5 group supports the paper's claim: its excess over the no-pulse control is
    significant in the paper's direction and its diagonal means peak forward (``peak_lag >= 1``).

    Examples:
        >>> v = excess_verdict([0.2, 0.1, 0.3, 0.25, 0.4], at_paper_scale=True)
        >>> supports_hidden_chain(v, 2.0), supports_hidden_chain(v, -14.0)
        (True, False)
    """
    return bool(v.p_value < _ALPHA and math.isfinite(peak_lag) and peak_lag >= 1)
