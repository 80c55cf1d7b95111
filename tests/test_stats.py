"""The analysis plan's statistics (nnrnn.stats), its labels (nnrnn.verdicts) and its page (book/analysis-plan.md).

Each statistic is checked on synthetic inputs whose right answer is known: by hand, by counting,
or by an independent brute-force enumeration written here.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from nnrnn import stats, verdicts

REPO = Path(__file__).resolve().parent.parent
PLAN = REPO / "book" / "analysis-plan.md"
SEEDS6 = sorted([1, 2, 3, 4, 5, 6] * 4)
NONNORMAL6 = [True, True, False, False] * 6  # chain, fb_chain, identity, orthogonal per seed


def _norm(text: str) -> str:
    return " ".join(text.split())


# ----------------------------------------------------------------------------- exact tests
def test_perfect_separation_at_six_seeds_gives_the_smallest_p():
    pooled = stats.stratified_permutation_test([1, 1, 0, 0] * 6, NONNORMAL6, SEEDS6)
    assert pooled.p_value == 1 / 6**6 and pooled.n_arrangements == 6**6 and pooled.statistic == 6.0
    assert stats.stratified_permutation_test([1, 1, 0, 0] * 6, NONNORMAL6, SEEDS6, alternative="less").p_value == 1.0
    flip = stats.sign_flip_test([0.5, 1.0, 0.5, 1.0, 0.5, 1.0])
    assert flip.p_value == 1 / 64 and flip.n_arrangements == 64
    assert stats.min_attainable_p([2] * 6, [2] * 6) == 1 / 6**6 and stats.min_attainable_p([1] * 6, [1] * 6) == 1 / 64


def _brute_force_p(scores, groups, strata, alternative):
    """Every distinct relabelling within strata, counted with multiplicity (independent of nnrnn.stats)."""
    scores, groups, strata = np.asarray(scores, float), np.asarray(groups, bool), np.asarray(strata)
    per = []
    for s in dict.fromkeys(strata.tolist()):
        ix = np.flatnonzero(strata == s)
        if 0 < groups[ix].sum() < len(ix):
            per.append([(ix, np.array(lab)) for lab in itertools.permutations(groups[ix].tolist())])

    def stat(pairs):
        return sum(scores[ix][lab].mean() - scores[ix][~lab].mean() for ix, lab in pairs)

    observed = stat([(p[0][0], groups[p[0][0]]) for p in per])
    values = [stat(c) for c in itertools.product(*per)]  # permutations repeat each labelling equally often
    hits = [v >= observed - 1e-9 if alternative == "greater" else v <= observed + 1e-9 for v in values]
    return sum(hits) / len(values)


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_stratified_test_matches_brute_force_with_missing_runs_and_one_group_strata(alternative):
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 6, 11).astype(float)  # ties included
    groups = [True, True, False, False, True, False, False, True, False, True, True]
    strata = [1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4]  # seed 2 misses a run; seed 4 holds one group only
    got = stats.stratified_permutation_test(scores, groups, strata, alternative=alternative)
    assert got.n_arrangements == 6 * 3 * 2  # seed 4 carries no comparison
    assert got.p_value == pytest.approx(_brute_force_p(scores, groups, strata, alternative), abs=1e-12)


def test_sign_flip_counts_ties_and_mirrors():
    assert stats.sign_flip_test([1.0, 1.0, 1.0]).p_value == 1 / 8
    assert stats.sign_flip_test([1.0, -1.0]).p_value == 3 / 4  # +0 happens for two sign patterns of four
    assert stats.sign_flip_test([0.0, 0.0]).p_value == 1.0
    assert stats.sign_flip_test([-2.0, -1.0, -3.0], alternative="less").p_value == 1 / 8


def test_pairwise_tests_alone_cannot_reject_at_six_seeds():
    smallest = stats.min_attainable_p([1] * 6, [1] * 6)
    assert smallest == 1 / 64 > 0.05 / 4  # Holm's first threshold over the four pairs
    assert stats.holm([smallest] * 4).tolist() == [0.0625] * 4  # four perfect pairs: still not below 0.05
    assert stats.holm([stats.min_attainable_p([1] * 7, [1] * 7)] * 4).max() < 0.05  # seven seeds could
    # the same perfect data through pairwise_tests
    labels = ["chain", "fb_chain", "identity", "orthogonal"] * 6
    table = stats.pairwise_tests([4, 3, 2, 1] * 6, labels, SEEDS6, ("chain", "fb_chain"), ("identity", "orthogonal"))
    assert table["p"].tolist() == [1 / 64] * 4 and (table["p_holm"] == 0.0625).all() and (table["n"] == 6).all()


def test_holm_on_known_pvalues():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02], abs=1e-15)
    assert stats.holm([0.5, 0.9]).tolist() == [1.0, 1.0]  # capped at 1
    assert stats.holm([0.2]).tolist() == [0.2]


# ----------------------------------------------------------------------------- intervals
def _signed_rank_cdf_by_enumeration(n: int, x: int) -> float:
    """P(T <= x) over the 2**n sign patterns of ranks 1..n (independent of nnrnn.stats)."""
    return sum(sum(r for r, s in zip(range(1, n + 1), signs) if s) <= x for signs in itertools.product((0, 1), repeat=n)) / 2**n


@pytest.mark.parametrize("n", range(2, 11))
def test_walsh_interval_has_the_highest_exact_level_not_above_95(n):
    k, attained = stats.walsh_interval_rank(n)
    assert attained == 1 - 2 * _signed_rank_cdf_by_enumeration(n, k - 1) <= 0.95
    if k > 1:  # the next wider interval would be above 95 %
        assert 1 - 2 * _signed_rank_cdf_by_enumeration(n, k - 2) > 0.95


def test_attained_levels_stated_by_the_plan():
    # n = 6: T <= 1 for 2 of 64 sign patterns (none, or rank 1 alone): 1 - 4/64; the wider interval has 1 - 2/64
    assert stats.walsh_interval_rank(6) == (2, 0.9375) and stats.walsh_interval_rank(6, 0.97) == (1, 0.96875)
    assert [stats.walsh_interval_rank(n)[1] for n in (3, 4, 5)] == [0.75, 0.875, 0.9375]


def test_hodges_lehmann_by_hand():
    # Walsh averages of 1..6: 1, 1.5, 2, 2, 2.5, ... ; median 3.5; k = 2 gives the 2nd smallest and 2nd largest
    assert stats.hodges_lehmann_ci([6, 1, 5, 2, 4, 3]) == (3.5, 1.5, 5.5, 0.9375)
    est, lo, hi, level = stats.hodges_lehmann_ci([0.0, 0.0, 1.0])
    assert (est, lo, hi, level) == (0.25, 0.0, 1.0, 0.75)  # Walsh: 0, 0, 0, 0.5, 0.5, 1; k = 1


def test_coverage_simulation_matches_the_exact_level():
    c = stats.interval_coverage(6, draws=20_000, seed=1)
    # 4 binomial standard errors: a correct simulation strays further with probability 6e-5; the neighbouring
    # level (96.875 %, an off-by-one k) lies 18 standard errors away, so the check can fail
    assert c.attained == 0.9375 and abs(c.simulated - c.attained) < 4 * c.se
    assert abs(c.simulated - 0.96875) > 4 * c.se
    # a discrete symmetric law (ties): the closed interval covers at least its level, up to the same noise
    tied = stats.interval_coverage(6, draws=20_000, seed=1, sampler=lambda rng, shape: rng.choice([-1.0, -0.5, 0, 0.5, 1.0], shape))
    assert tied.simulated > tied.attained - 4 * tied.se


# ----------------------------------------------------------------------------- endpoints
def test_a_diverged_run_ranks_worst_and_earlier_divergence_worse():
    loss = [0.03, 0.01, 0.0001, 0.5, np.nan]
    div = [np.nan, np.nan, 10.0, np.nan, 5000.0]  # the run at 1e-4 diverged at update 10 (its loss is ignored)
    s = stats.loss_scores(loss, div)
    assert s.tolist() == [-2.0, -1.0, -5.0, -3.0, -4.0]
    assert stats.loss_scores([0.2, 0.2, 0.1], [None, None, None]).tolist() == [-2.5, -2.5, -1.0]  # ties share ranks
    assert stats.loss_scores([np.nan, np.nan], [7, 7]).tolist() == [-1.5, -1.5]


def test_kaplan_meier_by_hand():
    km = stats.kaplan_meier([2, 3, 3, 5, 7, 8], [1, 1, 0, 1, 0, 1])
    # S(2) = 5/6; S(3) = 5/6 * 4/5 (5 at risk, 1 event, 1 censored); S(5) = 2/3 * 2/3; S(7) unchanged; S(8) = 0
    assert km["time"].tolist() == [2, 3, 5, 7, 8] and km["at_risk"].tolist() == [6, 5, 3, 2, 1]
    assert km["censored"].tolist() == [0, 1, 0, 1, 0]
    assert km["survival"].tolist() == pytest.approx([5 / 6, 2 / 3, 4 / 9, 4 / 9, 0.0], abs=1e-15)
    assert stats.kaplan_meier([100, 100], [False, False])["survival"].tolist() == [1.0]  # none diverged


# ----------------------------------------------------------------------------- power
def _brute_force_power(ra, rb, n, alpha):
    """Sum the probability of every success pattern whose stratified test gives p < alpha."""
    rates = list(ra) + list(rb)
    groups = [True] * len(ra) + [False] * len(rb)
    strata = sorted(list(range(n)) * len(rates))
    power = 0.0
    for pattern in itertools.product((0, 1), repeat=n * len(rates)):
        prob = math.prod(rates[i % len(rates)] if y else 1 - rates[i % len(rates)] for i, y in enumerate(pattern))
        if prob and stats.stratified_permutation_test(pattern, groups * n, strata).p_value < alpha:
            power += prob
    return power


@pytest.mark.parametrize(("ra", "rb", "n", "alpha"), [((0.6, 0.3), (0.1, 0.0), 2, 0.05), ((0.6, 0.3), (0.1, 0.0), 2, 0.3),
                                                        ((0.5, 0.2), (0.2, 0.1), 3, 0.1), ((0.9,), (0.2, 0.4), 3, 0.2)])
def test_success_power_equals_the_enumerated_test(ra, rb, n, alpha):
    # sums of at most 2**12 products of probabilities: rounding stays far below 1e-12
    assert stats.success_design_power(ra, rb, n, alpha=alpha) == pytest.approx(_brute_force_power(ra, rb, n, alpha), abs=1e-12)


def test_zero_power_and_the_paper_copy_rates_read_not_testable():
    assert stats.success_design_power([0.0, 0.0], [0.0, 0.0], 6) == 0.0
    rates = verdicts.paper_success_rates("copy")
    assert stats.success_design_power(*rates, 6) < verdicts.MIN_POWER
    # the runs happen to separate perfectly, but the design could not show the paper's effect
    v = verdicts.pooled_verdict([1, 1, 0, 0] * 6, NONNORMAL6, SEEDS6, at_paper_scale=True, paper_rates=rates)
    assert v.label == "not testable" and v.p_value == 1 / 6**6 and "power at the paper's rates" in v.describe()
    zero = verdicts.pooled_verdict([1, 0, 0, 0] * 6, NONNORMAL6, SEEDS6, at_paper_scale=True,
                                   paper_rates=((0.0, 0.0), (0.0, 0.0)))
    assert zero.label == "not testable"
    high = verdicts.pooled_verdict([1, 1, 0, 0] * 6, NONNORMAL6, SEEDS6, at_paper_scale=True, paper_rates=((0.9, 0.9), (0.0, 0.0)))
    assert high.label == "reproduced"


@pytest.mark.parametrize("value", [0, 1])
def test_a_ceiling_or_floor_reads_not_testable(value):
    v = verdicts.pooled_verdict([value] * 24, NONNORMAL6, SEEDS6, at_paper_scale=True)
    assert v.label == "not testable" and v.effect == 0.0
    # every seed tied within itself, though seeds differ: nothing is compared either
    assert verdicts.pooled_verdict([1] * 12 + [0] * 12, NONNORMAL6, SEEDS6, at_paper_scale=True).label == "not testable"
    assert verdicts.excess_verdict([0.0] * 6, at_paper_scale=True).label == "not testable"


# ----------------------------------------------------------------------------- labels
def test_pooled_verdict_labels_each_outcome():
    kw = dict(at_paper_scale=True)
    assert verdicts.pooled_verdict([1, 1, 0, 0] * 6, NONNORMAL6, SEEDS6, **kw).label == "reproduced"
    assert verdicts.pooled_verdict([0, 0, 1, 1] * 6, NONNORMAL6, SEEDS6, **kw).label == "not reproduced"
    weak = [1, 0, 0, 0] + [0, 0, 0, 0] * 5  # one success in one seed: p = 1/2
    v = verdicts.pooled_verdict(weak, NONNORMAL6, SEEDS6, **kw)
    assert v.label == "consistent" and v.p_value == 0.5 and v.effect == pytest.approx(0.5 / 6)
    against = [0, 0, 1, 0] + [0, 0, 0, 0] * 5
    assert verdicts.pooled_verdict(against, NONNORMAL6, SEEDS6, **kw).label == "inconclusive"
    assert verdicts.pooled_verdict([1, 1, 0, 0] * 6, NONNORMAL6, SEEDS6, at_paper_scale=False).label == \
        "not tested at the paper's scale"
    # loss ranks: the normal runs diverged (rank worst), the non-normal ones did not
    scores = stats.loss_scores([0.02, 0.03, np.nan, np.nan] * 6, [None, None, 100, 200] * 6)
    assert verdicts.pooled_verdict(scores, NONNORMAL6, SEEDS6, **kw).label == "reproduced"


def test_excess_verdict_needs_five_networks():
    assert verdicts.excess_verdict([0.2, 0.1, 0.3, 0.25, 0.4], at_paper_scale=True).label == "reproduced"
    assert verdicts.excess_verdict([0.2, 0.1, 0.3, 0.25], at_paper_scale=True).label == "not testable"
    assert verdicts.excess_verdict([-0.2, -0.1, -0.3, -0.25, -0.4], at_paper_scale=True).label == "not reproduced"
    none = verdicts.excess_verdict([], at_paper_scale=True)
    assert none.label == "not testable" and "no network" in none.test
    v = verdicts.excess_verdict([0.2, 0.1, 0.3, 0.25, 0.4], at_paper_scale=True)
    assert verdicts.supports_hidden_chain(v, 1.0) and not verdicts.supports_hidden_chain(v, -14.0)
    assert not verdicts.supports_hidden_chain(v, float("nan"))
    assert not verdicts.supports_hidden_chain(verdicts.excess_verdict([0.2, -0.1, 0.3, -0.25, 0.4], at_paper_scale=True), 2.0)


def test_labels_keep_their_order_and_meanings_live_in_one_place():
    # code elsewhere reads VERDICTS by index: v1's five stay where they were
    assert verdicts.VERDICTS[:5] == ("reproduced", "consistent", "inconclusive", "not reproduced",
                                     "not tested at the paper's scale")
    assert verdicts.VERDICTS[5] == verdicts.NOT_TESTABLE == "not testable"
    assert list(verdicts.LABEL_MEANINGS) == ["reproduced", "consistent", "inconclusive", "not reproduced",
                                             "not tested at the paper's scale", "not testable"]
    doc, page = _norm(verdicts.__doc__), _norm(PLAN.read_text())
    for label, meaning in verdicts.LABEL_MEANINGS.items():
        assert f"``{label}``: {_norm(meaning)}" in doc, label
        assert f"**{label}**: {_norm(meaning)}" in page, label


# ----------------------------------------------------------------------------- trained weights
def test_henrici_null_separates_chain_like_from_normal_changes():
    n, rng = 8, np.random.default_rng(0)
    eye = np.eye(n)
    up = np.triu(rng.standard_normal((n, n)), 1)  # a strictly upper change of I: d(W) = ||change||, the largest possible
    h = stats.henrici_excess(eye, eye + up, draws=50)
    size = np.linalg.norm(up)
    # d(I + E) = d(E) <= ||E||_F = size for every draw (tolerance: eigenvalue rounding, relative 1e-9)
    assert h.trained == pytest.approx(size, rel=1e-9) and (h.null <= size * (1 + 1e-9)).all() and h.excess > 0
    sym = rng.standard_normal((n, n))
    normal = stats.henrici_excess(eye, eye + (sym + sym.T) / 2, draws=50)  # a symmetric change keeps W normal
    assert normal.trained < 1e-6 * size and normal.excess < 0
    same = stats.henrici_excess(eye, eye, draws=5)  # no change: the null is W0 itself
    assert same.excess == 0.0 and same.null.tolist() == [same.trained] * 5


def test_asymmetry_excess_subtracts_the_control_change():
    assert stats.asymmetry_excess([0.5, 0.25], [0.25, 0.25], [0.25, 0.5], [0.125, 0.5]).tolist() == [0.125, 0.0]


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: stats.stratified_permutation_test([1, 0], [True, False], [1, 1], alternative="two-sided"), "alternative must be one of"),
        (lambda: stats.stratified_permutation_test([1, 0], [True, True], [1, 1]), "no stratum holds runs of both groups"),
        (lambda: stats.stratified_permutation_test([1, 0], [True, False], [1]), "strata must be a sequence of 2 labels"),
        (lambda: stats.stratified_permutation_test([1, np.nan], [True, False], [1, 1]), "scores must be finite"),
        (lambda: stats.stratified_permutation_test([1, 0], ["a", "b"], [1, 1]), "groups must be 2 booleans"),
        (lambda: stats.sign_flip_test([]), "non-empty 1-D"),
        (lambda: stats.sign_flip_test(np.ones(23)), "more than MAX_ARRANGEMENTS"),
        (lambda: stats.holm([0.5, 1.5]), r"numbers in \[0, 1\]"),
        (lambda: stats.min_attainable_p([1, 2], [1]), "one count per stratum"),
        (lambda: stats.walsh_interval_rank(1), r"n must be an integer in \[2, 60\]"),
        (lambda: stats.walsh_interval_rank(3, 0.2), "narrowest interval"),
        (lambda: stats.hodges_lehmann_ci([1.0, 2.0], level=1.0), "level must be"),
        (lambda: stats.interval_coverage(6, draws=10, sampler=lambda rng, shape: np.zeros(3)), "sampler must return"),
        (lambda: stats.loss_scores([0.1, np.nan], [None, None]), "finite for every run that did not diverge"),
        (lambda: stats.loss_scores([0.1, 0.2], [None, -3]), "an update >= 0"),
        (lambda: stats.loss_scores([0.1], [None, None]), "one entry per run"),
        (lambda: stats.kaplan_meier([1, 2], [1, 2]), "events must be 2 booleans"),
        (lambda: stats.kaplan_meier([-1, 2], [1, 0]), "non-negative"),
        (lambda: stats.success_design_power([1.5], [0.0], 6), r"rates_a\[0\] must be"),
        (lambda: stats.success_design_power([], [0.0], 6), "at least one success rate"),
        (lambda: stats.henrici_excess(np.eye(3), np.eye(4)), "same shape"),
        (lambda: stats.asymmetry_excess([1.0], [1.0, 2.0], [1.0], [1.0]), "one value per network"),
        (lambda: verdicts.planned_label(0.1, 0.01, 0.01, testable=True, at_paper_scale=True), "cannot both be below"),
        (lambda: verdicts.planned_label(0.1, 1.2, 0.5, testable=True, at_paper_scale=True), "p_paper must be"),
        (lambda: verdicts.planned_label(0.1, 0.2, 0.5, testable="yes", at_paper_scale=True), "testable must be True or False"),
        (lambda: verdicts.paper_success_rates("mnist"), "task must be one of"),
    ],
)
def test_bad_input_gets_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- the plan page
def test_the_plan_is_the_first_reference_page():
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    reference = next(p for p in toc["parts"] if p["caption"] == "E. Reference")
    assert reference["chapters"][0] == {"file": "book/analysis-plan"} and PLAN.is_file()


def test_the_plan_states_the_numbers_the_functions_compute():
    page = _norm(PLAN.read_text())
    pair_p, pooled_p = stats.min_attainable_p([1] * 6, [1] * 6), stats.min_attainable_p([2] * 6, [2] * 6)
    assert f"1/64 = {pair_p:.4f}" in page and f"0.05/4 = {0.05 / 4:.4f}" in page
    assert f"Holm-adjusted p = {stats.holm([pair_p] * 4)[0]:.4f}" in page
    assert f"1/{round(1 / pooled_p):,}" in page and f"about {pooled_p:.1e}" in page
    levels = {n: stats.walsh_interval_rank(n)[1] for n in (3, 4, 5, 6)}
    assert (f"{100 * levels[6]:g} % at 6 seeds (the next wider interval has {100 * stats.walsh_interval_rank(6, 0.97)[1]:g} %), "
            f"{100 * levels[5]:g} % at 5, {100 * levels[4]:g} % at 4 and {100 * levels[3]:g} % at 3") in page
    power = stats.success_design_power(*verdicts.paper_success_rates("copy"), 6)
    assert f"with 6 seeds has power {power:.2g}" in page
    lo, hi = 0.0, 1.0  # the common non-normal success rate at which the power reaches 0.5 (normal: never)
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if stats.success_design_power([mid, mid], [0.0, 0.0], 6) >= 0.5 else (mid, hi)
    assert f"succeeds in about {hi:.2f} of its runs" in page
    five, four = stats.min_attainable_p([1] * 5, [1] * 5), stats.min_attainable_p([1] * 4, [1] * 4)
    assert f"1/32 = {five:.3f}; four give 1/16 = {four:.4f}" in page
    lm = stats.min_attainable_p([3], [3])
    assert lm == 0.05 and f"1/C(6, 3) = 1/20 = {lm:.2f}, not below 0.05" in page
    assert re.search(r"6\^6 = 46,656", page)
