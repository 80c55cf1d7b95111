"""nnrnn.results: the tables and figures' data of stored runs, and the one settings table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nnrnn import archive, decoding, lm, paper, profiles, results, sweep, verdicts, weights
from nnrnn.pages import claims as claim_table
from nnrnn.pages.settings import settings_table
from nnrnn.store import REPO


# ----------------------------------------------------------------------------- summaries of stored runs
def _fake_runs():
    rows = []
    for init, losses in {"chain": [0.01, 0.015, 0.3, 0.2], "orthogonal": [0.3, 0.25, 0.2, float("nan")]}.items():
        for i, loss in enumerate(losses):
            rows.append(dict(init=init, scale=1.0, lr=1e-3 if i < 2 else 1e-4, seed=i % 2 + 1,
                             final_val_loss=loss, baseline=0.0416, diverged=math.isnan(loss)))
    df = pd.DataFrame(rows)
    df["success"] = df["final_val_loss"] < 0.0208
    return df


def test_success_counts_and_best_settings():
    runs = _fake_runs()
    counts = results.success_counts(runs, ["identity", "orthogonal", "chain"])
    assert counts.loc["chain"].tolist() == [2, 4, 0]
    assert counts.loc["orthogonal"].tolist() == [0, 4, 1]
    assert counts.loc["identity"].tolist() == [0, 0, 0]
    best = results.best_settings(runs)
    assert best.loc["chain", "lr"] == 1e-3 and best.loc["chain", "mean_final_val_loss"] == pytest.approx(0.0125)
    # the orthogonal setting with a diverged seed loses to the one without
    assert best.loc["orthogonal", "lr"] == 1e-3
    assert list(best.index) == ["orthogonal", "chain"]


def test_best_curves_carry_early_stopped_runs_forward():
    hist = pd.DataFrame(
        {
            "init": "chain", "scale": 1.0, "lr": 1e-3,
            "seed": [1, 1, 1, 2, 2],
            "epoch": [0.0, 1.0, 2.0, 0.0, 1.0],  # seed 2 stopped early after epoch 1
            "val_loss": [1.0, 0.5, 0.25, 1.0, 0.1],
        }
    )
    best = pd.DataFrame({"scale": [1.0], "lr": [1e-3]}, index=pd.Index(["chain"], name="init"))
    c = results.best_curves(hist, best)
    assert c["epoch"].tolist() == [0.0, 1.0, 2.0]
    np.testing.assert_allclose(c["mean"], [1.0, 0.3, 0.175])
    assert c["n"].tolist() == [2, 2, 2]


def test_success_counts_pool_into_normal_and_non_normal_groups():
    runs = _fake_runs()
    counts = results.success_counts(runs)
    assert list(counts.index) == ["orthogonal", "chain"]
    assert results.group_counts(counts) == {"success_normal": 0, "runs_normal": 4, "success_nonnormal": 2,
                                            "runs_nonnormal": 4}
    v = results.success_test(counts, at_paper_scale=False)
    assert v.label == verdicts.success_verdict(2, 4, 0, 4, at_paper_scale=False).label
    assert results.success_test(counts.loc[["chain"]], at_paper_scale=True) is None  # no normal run: no test
    normal, nonnormal = results.group_losses(runs)
    np.testing.assert_allclose(normal, [0.3, 0.25, 0.2])  # the diverged orthogonal seed is left out
    np.testing.assert_allclose(nonnormal, [0.01, 0.015, 0.3, 0.2])


# ----------------------------------------------------------------------------- the settings table
def test_settings_table_of_a_synthetic_grid():
    t = settings_table(sweep.grid("addition", "demo"))
    assert list(t.columns) == ["demo", "paper"] and t.index.name == "setting"
    assert t.loc["sequence length T"].tolist() == ["100", "750"]
    assert t.loc["runs in all"].tolist() == ["48", "2,112"]
    assert t.loc["scales: fb_chain", "paper"] == "0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07"
    assert "test digits (test accuracy)" not in t.index
    paper = settings_table(sweep.grid("copy", "paper"))  # the paper profile and the paper: two columns
    assert list(paper.columns) == ["paper profile", "paper"]  # same values; the paper's column names its sources
    assert all(theirs in (ours, f"{ours} (authors' code)") for ours, theirs in zip(paper["paper profile"], paper["paper"]))
    assert list(settings_table(sweep.grid("copy", "smoke"), "mine").columns) == ["mine", "paper"]
    with pytest.raises(ValueError, match="n_test must be None for a copy grid"):
        settings_table(sweep.grid("copy", "smoke"), n_test=10)


def test_settings_table_of_psmnist_has_the_authors_split_and_the_test_digits():
    t = settings_table(sweep.grid("psmnist", "demo", hidden_size=100), n_test=profiles.PSMNIST_N_TEST["demo"])
    assert list(t.columns) == ["demo", "paper"]
    assert t.loc["hidden units N"].tolist() == ["100", "25"]
    assert t.loc["training sequences"].tolist() == ["58,000", "60,000 digits (authors' code)"]
    assert t.loc["validation sequences"].tolist() == ["2,000", "the 10,000 test digits (authors' code)"]
    assert t.loc["updates per run (at most)", "paper"] == "375,000 (authors' code)"  # 100 epochs of 60,000 / 16
    assert t.index[-1] == "test digits (test accuracy)" and t.loc["test digits (test accuracy)"].tolist() == ["10,000", "not reported"]
    assert "test digits (test accuracy)" not in settings_table(sweep.grid("psmnist", "smoke")).index
    paper = settings_table(sweep.grid("psmnist", "paper"), n_test=10_000)
    assert paper.loc["training sequences"].tolist() == ["50,000", "60,000 digits (authors' code)"]


def test_settings_table_of_language_models_has_a_column_pair_per_corpus():
    t = settings_table(lm.profile_configs("rnn", "smoke"), "smoke")
    assert list(t.columns) == ["ptb-char: smoke", "ptb-char: paper"] and t.index.name == "setting"
    assert t.loc["epochs"].tolist() == ["2", "500"] and "corpus" not in t.index
    assert t.loc["initializers", "ptb-char: paper"] == "identity, orthogonal, chain, fb_chain"
    assert t.loc["runs"].tolist() == ["4", str(4 * 3 * 21)]
    assert list(settings_table(lm.profile_configs("lstm", "smoke")).columns)[0] == "ptb-char: this run"
    with pytest.raises(ValueError, match="runs must be a Grid or a non-empty list of LMConfig"):
        settings_table([])
    with pytest.raises(ValueError, match="n_test must be None for language models"):
        settings_table(lm.profile_configs("rnn", "smoke"), n_test=10)


def test_paper_profile_settings_table_names_its_scale_difference():
    t = settings_table(lm.profile_configs("rnn", "paper"), "paper")
    for corpus in lm.CORPORA:  # the paper's column is shown for the paper profile too
        ours, paper = t[f"{corpus}: paper profile"], t[f"{corpus}: paper"]
        assert ours["scales"].startswith("one per initializer, our choice, not tuned")
        assert paper["scales"].startswith("best of 21 values each")
        assert (int(ours["runs"]), int(paper["runs"])) == (12, 12 * 21)
        for k in ours.drop(["scales", "runs"]).index:  # nothing else differs but the paper's column naming its sources
            assert paper[k] == ours[k] or paper[k].startswith(f"{ours[k]} ("), k
    grid = settings_table(lm.profile_configs("rnn", "paper", corpora=["ptb"], grid=True), "paper")
    assert grid.loc["runs"].tolist() == ["252", "252"]
    assert "chain: 21 values, 0.05 … 1.05" in grid.loc["scales", "ptb: paper profile"]
    assert settings_table(lm.profile_configs("lstm", "paper"), "paper").loc["scales", "ptb: paper"] == "not stated"


# ----------------------------------------------------------------------------- the claims of Fig. 2 and Fig. 5
def _row(table, source):
    rows = table[table["where in the paper"].str.contains(source, regex=False)]
    assert len(rows) == 1, f"one row for {source}, got {len(rows)}"
    return rows.iloc[0]


def test_the_decoding_claim_is_chapter_02s_statistic_with_its_verdict(monkeypatch):
    monkeypatch.setattr(claim_table, "_weight_rows", lambda root: [])
    monkeypatch.setattr(claim_table, "_language_rows", lambda root: [])
    row = _row(claim_table.claims(tasks=()), "Fig. 2")
    res = claim_table._decoding_result()
    c = claim_table.DECODING_CLAIM
    assert res["r2_elu_chain"].shape == res["r2_elu_orthogonal"].shape == (c["repeats"], c["n"])
    v = decoding.capacity_verdict(res, "elu", at_paper_scale=True)
    assert row["verdict"] == v.label and row["test"] == v.describe() == f"bootstrap over repetitions, 95 % CI [{v.ci[0]:.3g}, {v.ci[1]:.3g}]"
    chain = decoding.memory_capacity(res["r2_elu_chain"]).mean()
    assert f"chain {chain:.1f}" in row["ours"] and "N = T = 100" in row["ours"] and "our choice" in row["ours"]
    assert row["runs"] == f"{c['repeats']} repetitions"
    assert v.effect > 20 and row["verdict"] == "reproduced"  # the chain keeps ~74 inputs with elu, 0.9·Q ~23


def test_capacity_verdict_on_synthetic_curves():
    good, bad = np.full((4, 10), 0.9), np.full((4, 10), 0.2) + np.linspace(0, 0.01, 4)[:, None]
    assert decoding.capacity_verdict({"r2_elu_chain": good, "r2_elu_orthogonal": bad}, at_paper_scale=True).label == "reproduced"
    v = decoding.capacity_verdict({"r2_elu_chain": bad, "r2_elu_orthogonal": good}, at_paper_scale=True)
    assert v.label == "not reproduced" and v.effect == pytest.approx(decoding.memory_capacity(bad).mean() - 9.0)
    assert decoding.capacity_verdict({"r2_elu_chain": good, "r2_elu_orthogonal": bad}, at_paper_scale=False).label == \
        "not tested at the paper's scale"
    np.testing.assert_allclose(decoding.memory_capacity(np.array([0.5, -0.2, 0.25])), 0.75)  # negative R² counts 0


def _diagonal_means(forward: float, n_networks: int = 4, noise: float = 1e-3):
    """Diagonal means of fake networks: trained with ``forward`` extra weight at i - j = 1..3, untrained flat."""
    rng = np.random.default_rng(0)
    rows = []
    for k in range(n_networks):
        for state in ("trained", "untrained"):
            for ordering in (weights.PULSE, weights.NO_PULSE):
                for lag in range(-5, 6):
                    bump = forward if (state, ordering) == ("trained", weights.PULSE) and 1 <= lag <= 3 else 0.0
                    rows.append({"task": "psmnist", "init": "orthogonal", "hash": f"h{k}", "seed": k + 1,
                                 "selection": weights.SUCCESS, "state": state, "ordering": ordering, "lag": lag,
                                 "weight": bump + noise * rng.standard_normal()})
    return pd.DataFrame(rows)


def test_motif_test_on_synthetic_diagonal_means():
    per, v = claim_table.motif_test(_diagonal_means(0.05), max_lag=5, at_paper_scale=True)
    assert len(per) == 4 and v.label == "reproduced" and v.ci[0] > 0
    np.testing.assert_allclose(per["increase"], per["trained"] - per["untrained"])
    assert v.effect == pytest.approx(per["increase"].mean()) and v.effect == pytest.approx(0.05 * 3 / 5, abs=2e-3)
    _, back = claim_table.motif_test(_diagonal_means(-0.05), max_lag=5, at_paper_scale=True)
    assert back.label == "not reproduced"
    assert claim_table.motif_test(_diagonal_means(0.05, n_networks=1), max_lag=5, at_paper_scale=True)[1] is None  # one network: no test
    assert claim_table.motif_test(_diagonal_means(0.05).iloc[0:0], at_paper_scale=True)[1] is None


def test_the_weight_rows_share_one_analysis_of_the_archive(monkeypatch):
    calls = []
    analyse = weights.analyse
    monkeypatch.setattr(weights, "analyse", lambda *a, **k: calls.append(1) or analyse(*a, **k))
    root = archive.archive_root()  # the results page's archive (the repository's data/)
    rows = pd.DataFrame(claim_table._weight_rows(root))
    assert rows["where in the paper"].tolist() == ["Table 2", "Fig. 5"]
    # the page pools only tasks whose stage 2 is complete (a half-trained task never enters Table 2)
    runs = weights.collect_runs(archive.complete_replicate_runs, weights.TASKS, root)
    if runs.empty:
        assert calls == [] and (rows["verdict"] == "not tested at the paper's scale").all()
        assert rows["ours"].str.contains("no stage-2 runs").all()
        return
    assert calls == [1]  # Table 2 and Fig. 5 from one analysis, the one chapter 08 shows
    a = analyse(runs, root=root, max_lag=15, at_paper_scale=True)
    per, v = claim_table.motif_test(a.diagonal_means, max_lag=15, at_paper_scale=True)
    fig5 = rows.iloc[1]
    expected = verdicts.VERDICTS[4] if v is None else v.label
    assert fig5["verdict"] == expected and (v is None or fig5["test"] == v.describe())
    assert fig5["runs"].startswith(f"{len(per)} networks") and f"trained {per['trained'].mean():+.4f}" in fig5["ours"]
    t2 = rows.iloc[0]
    assert t2["verdict"] == a.normality["verdict"].label and t2["test"] == a.normality["verdict"].describe()


def test_without_replicate_runs_the_weight_rows_are_not_tested(monkeypatch):
    monkeypatch.setattr(archive, "complete_replicate_runs", lambda task, root=None: pd.DataFrame(columns=["init", "hash", "seed", "success", "diverged"]))
    rows = pd.DataFrame(claim_table._weight_rows(None))
    assert rows["where in the paper"].tolist() == ["Table 2", "Fig. 5"]
    assert (rows["verdict"] == "not tested at the paper's scale").all() and (rows["test"] == "-").all()
    assert rows["ours"].str.contains("no stage-2 runs of identity/orthogonal in the archive yet").all()


def test_an_unfinished_stage_2_says_where_training_stands(monkeypatch):
    """Before its verdict, a benchmark row names the lockstep checkpoints' updates of the cap and
    the runs stopped early or diverged so far (read from the checkpoints, not typed)."""
    from nnrnn.train import TrainConfig

    cfg = TrainConfig(task="copy", init="chain", scale=1.0, lr=1e-3, seed=1, T=30, hidden_size=4, n_train=16000,
                      n_val=16, epochs=3, batch_size=16)
    ck = pd.DataFrame({"task": ["copy", "copy", "addition"], "group": ["a", "b", "c"], "runs": 6, "training": [3, 5, 6],
                       "early stopped": [1, 0, 0], "diverged": [2, 1, 0], "update": [1200, 900, 5],
                       "saved (UTC)": ["2026-12-01 10:12", "2026-12-01 10:14", "2026-12-01 11:00"]})
    monkeypatch.setattr(archive, "checkpoint_status", lambda root=None, task=None: ck[ck["task"] == task] if task else ck)
    monkeypatch.setattr(archive, "stage2_plan", lambda task, root=None: [cfg] * 12)
    monkeypatch.setattr(sweep, "load_runs", lambda task, configs=None, root=None: pd.DataFrame(columns=["init"]))
    rows = claim_table._benchmark_rows("copy", None)
    assert len(rows) == 2 and all(r["verdict"] == "not tested at the paper's scale" for r in rows)
    assert rows[0]["ours"] == ("no stage-2 runs in the archive yet; training: 2 lockstep groups checkpointed at updates "
                               "1,200 and 900 of 3,000 (saved 2026-12-01 10:14 UTC); so far 1 stopped early, 3 diverged")
    assert rows[0]["runs"] == "0 of 12"
    assert claim_table.training_text("addition", [cfg] * 12) == ("1 lockstep group checkpointed at update 5 of 3,000 (saved 2026-12-01 "
                                                 "11:00 UTC); so far 0 stopped early, 0 diverged")
    monkeypatch.setattr(archive, "checkpoint_status", lambda root=None, task=None: ck.iloc[:0])
    assert claim_table._benchmark_rows("copy", None)[0]["ours"] == "no stage-2 runs in the archive yet"


def test_loss_text_names_diverged_runs_instead_of_averaging_nan():
    g = pd.DataFrame({"final_val_loss": [0.1, 0.2, float("nan")]})
    assert claim_table._loss_text("chain", g) == "chain 0.15 (1 of 3 diverged)"
    assert claim_table._loss_text("chain", g.iloc[:2]) == "chain 0.15"
    assert claim_table._loss_text("identity", pd.DataFrame({"final_val_loss": [float("nan")] * 6})) == "identity: all 6 diverged"


def test_paper_success_text_is_generated_from_the_paper_module():
    assert claim_table.paper_success_text("copy") == "identity 0/594, orthogonal 0/594, chain 46/462, feedback chain 11/462"
    for init, (k, n) in paper.PAPER_SUCCESS["copy"].items():
        assert f"{k}/{n}" in claim_table.paper_success_text("copy")
    assert claim_table.paper_success_text("addition") == claim_table.paper_success_text("psmnist") == "bars only (no counts in the text)"
    with pytest.raises(ValueError, match="task.*'copy'"):
        claim_table.paper_success_text("lm")


def test_the_copy_and_addition_rows_link_to_the_chapter_on_divergence():
    """Issue 24: the benchmarks whose runs diverge point to chapter 10; the other rows point nowhere."""
    t = claim_table.claims(tasks=("copy", "addition"))
    bench = t["claim"].str.match(r"(copy|addition)\b")
    assert bench.sum() == 4 and (t.loc[bench, "see also"] == claim_table.SEE_DIVERGENCE).all()
    assert (t.loc[~bench, "see also"] == "").all()
    assert (REPO / "notebooks" / f"{claim_table.SEE_DIVERGENCE[0]}.ipynb").is_file()
