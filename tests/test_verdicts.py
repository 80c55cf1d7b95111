"""Verdicts are computed from numbers and a test (nnrnn.verdicts, nnrnn.results)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nnrnn import archive, results, verdicts
from nnrnn.pages import claims as claim_table


@pytest.mark.parametrize(
    ("effect", "significant", "at_scale", "label"),
    [
        (0.2, True, True, "reproduced"),
        (0.2, False, True, "consistent"),
        (-0.2, False, True, "inconclusive"),
        (-0.2, True, True, "not reproduced"),
        (0.2, True, False, "not tested at the paper's scale"),
        (-0.2, True, False, "not tested at the paper's scale"),
    ],
)
def test_the_verdict_follows_direction_significance_and_scale(effect, significant, at_scale, label):
    assert verdicts.verdict(effect, significant, at_scale) == label


def test_success_counts_use_fishers_exact_test():
    v = verdicts.success_verdict(46 + 11, 924, 0, 1188, at_paper_scale=True)
    assert v.label == "reproduced" and v.p_value == pytest.approx(stats.fisher_exact([[57, 867], [0, 1188]])[1])
    # 1/24 against 0/24 "agrees" only by a strict inequality; the test says it is not significant
    assert verdicts.success_verdict(1, 24, 0, 24, at_paper_scale=True).label == "consistent"
    assert verdicts.success_verdict(0, 24, 9, 24, at_paper_scale=True).label == "not reproduced"
    assert verdicts.success_verdict(0, 3, 0, 3, at_paper_scale=True).label == "inconclusive"


def test_bootstrap_difference_and_increase():
    rng = np.random.default_rng(1)
    a, b = 1.0 + 0.01 * rng.standard_normal(6), 0.5 + 0.01 * rng.standard_normal(6)
    v = verdicts.difference_verdict(a, b, at_paper_scale=True)
    assert v.label == "reproduced" and v.ci[0] < v.effect < v.ci[1] and v.ci[0] > 0
    same = verdicts.difference_verdict(a, a[::-1] + 1e-3 * rng.standard_normal(6), at_paper_scale=True)
    assert same.label in ("consistent", "inconclusive") and same.ci[0] < 0 < same.ci[1]
    # an increase inside the noise floor is not significant
    small = verdicts.increase_verdict([1e-7, 2e-7, 1.5e-7], at_paper_scale=True, floor=1e-5)
    assert small.label == "consistent"
    assert verdicts.increase_verdict([1.0, 2.0, 1.5], at_paper_scale=True, floor=1e-5).label == "reproduced"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: verdicts.success_verdict(5, 3, 0, 3, at_paper_scale=True), "0 <= k <= n"),
        (lambda: verdicts.success_verdict(-1, 3, 0, 3, at_paper_scale=True), "k_a must be a non-negative integer"),
        (lambda: verdicts.difference_verdict([1.0], [2.0, 3.0], at_paper_scale=True), "at least two finite values"),
        (lambda: verdicts.difference_verdict([1.0, math.nan], [2.0, 3.0], at_paper_scale=True), "at least two finite"),
        (lambda: verdicts.verdict(math.nan, True, True), "effect must be a finite number"),
    ],
)
def test_bad_input_gets_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _fake_stage2(task):
    rows = []
    for init, losses in {"identity": [0.0416, 0.0417, 0.0415], "orthogonal": [0.0416, 0.0416, 0.0417],
                         "chain": [0.001, 0.002, 0.0416], "fb_chain": [0.003, 0.0416, 0.0416]}.items():
        for seed, loss in enumerate(losses, 1):
            rows.append({"init": init, "seed": seed, "final_val_loss": loss, "success": loss < 0.0208, "diverged": False})
    return pd.DataFrame(rows)


def test_claims_are_computed_from_the_archive(monkeypatch):
    monkeypatch.setattr(archive, "stage2_runs", lambda task, root=None: ([], _fake_stage2(task) if task == "copy" else pd.DataFrame(columns=["init"])))
    # fake stage-2 tables, no stored runs: the archive's integrity check (tested in test_archive) is not this test's
    monkeypatch.setattr(claim_table, "integrity_problems", lambda root=None: [])
    monkeypatch.setattr(claim_table, "_weight_rows", lambda root: [])
    table = claim_table.claims(tasks=("copy", "addition"))
    copy = table[table["claim"].str.startswith("copy")].set_index("claim")
    success = copy.loc["copy (T = 500): non-normal initializers succeed more often"]
    assert "chain 2/3" in success["ours"] and "identity 0/3" in success["ours"]
    expected = verdicts.success_verdict(3, 6, 0, 6, at_paper_scale=True)
    assert success["verdict"] == expected.label and f"p = {expected.p_value:.2g}" in success["test"]
    power = verdicts.success_power([(3, 46 / 462), (3, 11 / 462)], [(3, 0 / 594), (3, 0 / 594)])
    assert f"power at the paper's success rates (its counts over its whole grid, Fig. 3d): {power:.2g}" in success["test"]
    assert "0.37 successes expected among our 6 non-normal runs" in success["test"]
    missing = table[table["claim"].str.startswith("addition")]
    assert (missing["verdict"] == "not tested at the paper's scale").all()
    assert table.loc[0, "verdict"] == "reproduced" and "12.087" in table.loc[0, "ours"]


def test_a_partial_stage_2_gets_no_verdict(monkeypatch):
    part = _fake_stage2("addition").iloc[:5]
    monkeypatch.setattr(archive, "stage2_runs", lambda task, root=None: ([], part))
    # fake stage-2 tables, no stored runs: the archive's integrity check (tested in test_archive) is not this test's
    monkeypatch.setattr(claim_table, "integrity_problems", lambda root=None: [])
    monkeypatch.setattr(claim_table, "_weight_rows", lambda root: [])
    rows = claim_table.claims(tasks=("addition",))
    rows = rows[rows["claim"].str.startswith("addition")]
    assert (rows["verdict"] == "not tested at the paper's scale").all()
    assert rows["ours"].str.contains("5 of 24 stage-2 runs in the archive; the verdict waits for all of them").all()


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9])
def test_success_power_has_its_closed_form(p):
    # 6 runs against 6 that never succeed: 4 of 6 against 0 of 6 gives p = 0.061, 5 of 6 gives 0.015,
    # so the test is significant exactly when at least 5 of the 6 succeed
    assert stats.fisher_exact([[4, 2], [0, 6]])[1] > 0.05 > stats.fisher_exact([[5, 1], [0, 6]])[1]
    closed = 6 * p**5 * (1 - p) + p**6
    assert verdicts.success_power([(6, p)], [(6, 0.0)]) == pytest.approx(closed, rel=1e-12)
    # splitting a group into two initializers of the same rate changes nothing
    assert verdicts.success_power([(2, p), (4, p)], [(3, 0.0), (3, 0.0)]) == pytest.approx(closed, rel=1e-12)


@pytest.mark.parametrize(("n", "p"), [(3, 0.2), (6, 0.5), (12, 0.1), (24, 0.3)])
def test_success_power_under_no_difference_is_at_most_alpha(n, p):
    # Fisher's exact test is conservative: with equal rates it rejects in a's favour at most alpha of the time
    assert 0.0 <= verdicts.success_power([(n, p)], [(n, p)]) <= 0.05


def test_success_power_matches_simulation_of_mixed_groups():
    a, b = [(3, 0.6), (3, 0.3)], [(3, 0.05), (3, 0.0)]
    exact = verdicts.success_power(a, b)
    rng = np.random.default_rng(0)
    draws = 40_000
    k_a = sum(rng.binomial(n, p, draws) for n, p in a)
    k_b = sum(rng.binomial(n, p, draws) for n, p in b)
    significant = {(i, j): i > j and stats.fisher_exact([[i, 6 - i], [j, 6 - j]])[1] < 0.05
                   for i in range(7) for j in range(7)}
    simulated = np.mean([significant[i, j] for i, j in zip(k_a, k_b)])
    se = math.sqrt(exact * (1 - exact) / draws)
    assert 0.05 < exact < 0.95 and abs(simulated - exact) < 5 * se


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: verdicts.success_power([(3, 1.5)], [(3, 0.0)]), r"a: success rates must lie in \[0, 1\], got 1.5"),
        (lambda: verdicts.success_power([(3, 0.1)], [(-1, 0.0)]), "b: run counts must be non-negative integers, got -1"),
        (lambda: verdicts.success_power([(0, 0.1)], [(3, 0.0)]), "a: needs at least one run"),
        (lambda: verdicts.success_power([(3, 0.1)], [(3, 0.0)], alpha=0.0), r"alpha must lie in \(0, 1\), got 0.0"),
    ],
)
def test_success_power_rejects_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_the_power_sentence_needs_the_papers_counts():
    assert results.success_power_text("addition", {"chain": 6, "identity": 6}) == ""
    assert results.success_power_text("psmnist", {"chain": 6, "identity": 6}) == ""
    text = results.success_power_text("copy", {"chain": 6, "fb_chain": 6, "identity": 6, "orthogonal": 6})
    expected = verdicts.success_power([(6, 46 / 462), (6, 11 / 462)], [(6, 0.0), (6, 0.0)])
    assert f": {expected:.2g}, with 0.74 successes expected among our 12 non-normal runs" in text
