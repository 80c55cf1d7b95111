"""Evidence v2 (nnrnn.evidence): the analysis plan's verdicts on synthetic runs whose right label is
known, and the reading of a tiny protocol-v2 store end to end."""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nnrnn import evidence, paper, replicate, stats, verdicts

INITS = ("identity", "orthogonal", "chain", "fb_chain")
REPO = Path(__file__).resolve().parents[1]


def _runs(success_by_init, seeds=range(1, 7), loss=None, diverged=()):
    """One run per (seed, init): success as given, final loss ``loss[init]`` + a small seed offset."""
    rows = []
    for s in seeds:
        for i in INITS:
            d = (i, s) in diverged
            rows.append({"hash": f"{i}{s}", "init": i, "seed": s, "success": bool(success_by_init[i]) and not d,
                         "diverged": d, "n_updates": 100 * s if d else 1000,
                         "final_val_loss": math.nan if d else (loss or {}).get(i, 0.1) + s / 1000})
    return pd.DataFrame(rows)


def _fake(monkeypatch, runs, planned=None):
    cfgs = list(range(len(runs) if planned is None else planned))
    monkeypatch.setattr(evidence, "stage2", lambda task, root=None: (cfgs, runs))


def test_budget_is_the_plans():
    assert {t: evidence.budget(t) for t in replicate.TASKS} == {"copy": 1.0, "addition": 0.25, "psmnist": 0.2}


def test_a_clean_separation_is_reproduced_where_testable_and_not_testable_on_copy(monkeypatch):
    """Non-normal always succeed, normal never: addition (no paper counts; min p 1/46,656) reads
    "reproduced"; copy, whose paper rates give the design power 0.0018, reads "not testable"."""
    _fake(monkeypatch, _runs({"identity": 0, "orthogonal": 0, "chain": 1, "fb_chain": 1}))
    add = evidence.benchmark_rows("addition")[0]
    assert add["verdict"] == "reproduced" and "p = 2.1e-05" in add["test"] and add["budget"] == "25% of the 100-epoch cap (authors' code)"
    assert "Holm p = 0.062" in add["secondary"]  # four perfect pairs at 6 seeds: 4/64, as the plan says
    assert "exact 0.9375 level over 6 seeds; simulated coverage " in add["interval"]
    copy = evidence.benchmark_rows("copy")[0]
    assert copy["verdict"] == verdicts.NOT_TESTABLE and "power at the paper's rates: 0.0018" in copy["test"]


def test_a_diverged_non_normal_run_ranks_worst_and_can_turn_the_loss_claim(monkeypatch):
    """Chains have the lowest loss, but when every chain run diverges they rank worst: the pooled
    loss effect turns negative and the label follows."""
    low = {"identity": 0.2, "orthogonal": 0.2, "chain": 0.01, "fb_chain": 0.01}
    _fake(monkeypatch, _runs({i: 0 for i in INITS}, loss=low))
    assert evidence.benchmark_rows("addition")[1]["verdict"] == "reproduced"
    every_chain = {(i, s) for i in ("chain", "fb_chain") for s in range(1, 7)}
    _fake(monkeypatch, _runs({i: 0 for i in INITS}, loss=low, diverged=every_chain))
    row = evidence.benchmark_rows("addition")[1]
    assert row["verdict"] == "not reproduced" and "chain 6, fb_chain 6" in row["runs"]


def test_a_ceiling_reads_not_testable(monkeypatch):
    _fake(monkeypatch, _runs({i: 1 for i in INITS}))
    assert evidence.benchmark_rows("psmnist")[0]["verdict"] == verdicts.NOT_TESTABLE


def test_an_incomplete_stage_2_is_pending_not_a_verdict(monkeypatch):
    """No verdict on part of stage 2: the rows read "pending" (not a label of the plan) and say where training
    stands; copy's success row already gives its design's power at the paper's rates (0.0018: not testable)."""
    _fake(monkeypatch, _runs({i: 1 for i in INITS}).iloc[:10], planned=24)
    monkeypatch.setattr(evidence, "_stages", lambda task, root=None: {"pilot": (9, 9), "screen": (6, 6), "stage2": (10, 24)})
    rows = evidence.benchmark_rows("addition") + evidence.table2_rows(tasks=("addition",)) + evidence.fig5_rows(tasks=("addition",))
    for row in rows:
        assert row["verdict"] == evidence.PENDING and row["verdict"] not in verdicts.VERDICTS and row["test"] == "-"
        assert row["runs"] == "pilot 9 / 9; screen 6 / 6; stage 2 10 / 24" and row["paper"]
        assert row["ours"] == "no verdict until every planned stage-2 run of addition is stored"
    assert rows[0]["claim"].startswith("addition (T = 750): ") and rows[2]["claim"].startswith("Table 2, addition, identity: ")
    copy = evidence.benchmark_rows("copy")
    assert copy[0]["verdict"] == evidence.PENDING and "with 6 seeds is 0.0018, below 0.5" in copy[0]["test"]
    assert f'labels this claim "{verdicts.NOT_TESTABLE}"' in copy[0]["test"] and copy[1]["test"] == "-"


def test_the_pooled_p_is_the_stratified_permutation_tests(monkeypatch):
    rng = np.random.default_rng(3)
    runs = _runs({i: 0 for i in INITS})
    runs["success"] = rng.random(len(runs)) < 0.5
    _fake(monkeypatch, runs)
    row = evidence.benchmark_rows("addition")[0]
    p = stats.stratified_permutation_test(runs["success"].astype(float), runs["init"].isin(evidence.NON_NORMAL),
                                          runs["seed"], alternative="greater").p_value
    assert f"p = {p:.2g}" in row["test"]


@pytest.mark.parametrize("n_success, excess, want", [
    (5, 0.3, "reproduced"), (4, 0.3, verdicts.NOT_TESTABLE), (0, 0.3, verdicts.NOT_TESTABLE), (6, -0.3, "not reproduced")])
def test_table2_groups_need_five_successful_networks(monkeypatch, n_success, excess, want):
    runs = _runs({i: 1 for i in INITS})
    _fake(monkeypatch, runs)
    ex = pd.DataFrame([{"init": i, "seed": s, "success": s <= n_success, "trained": 1.0, "null_median": 1.0 - excess,
                        "excess": excess + s / 100} for i in evidence.NORMAL for s in range(1, 7)])
    monkeypatch.setattr(evidence, "henrici_excesses", lambda task, runs, root=None: ex)
    rows = evidence.table2_rows(tasks=("addition",))
    assert [r["verdict"] for r in rows] == [want, want]
    assert rows[0]["paper"] == "d(W) = {:.2f} ± {:.2f}".format(*paper.PAPER_TABLE2[("addition", "identity")])
    assert rows[0]["secondary"].startswith("all 6 networks that did not diverge: ")
    assert rows[0]["runs"].endswith("; 0 diverged (left out: training ended at divergence, not at the budget)")
    assert "mean median of its null " in rows[0]["ours"] or rows[0]["ours"] == "no successful network"
    monkeypatch.setattr(evidence, "henrici_excesses", lambda task, runs, root=None: ex.iloc[:0])
    assert evidence.table2_rows(tasks=("addition",), excesses={"addition": ex}) == rows  # excesses given, not drawn


def test_a_tiny_v2_store_is_read_end_to_end(tmp_path, tiny_v2_protocol):
    """The real path: pilot, screen and stage 2 of a tiny stand-in protocol are trained, then read."""
    assert evidence.benchmark_rows("addition", tmp_path)[0]["runs"] == "pilot 0 / 8; screen not started; stage 2 not started"
    assert evidence.progress("addition", tmp_path) == "pilot: 0 of 8 runs stored; divergence screen (current round): not started"
    t0 = time.perf_counter()
    replicate.run("addition", protocol="v2", root=tmp_path, max_workers=1, progress=False, verbose=False)
    elapsed = time.perf_counter() - t0
    cfgs, runs = evidence.stage2("addition", tmp_path)
    assert len(cfgs) == len(runs) == 8 and evidence.is_complete("addition", tmp_path)
    said = evidence.progress("addition", tmp_path)
    assert said.startswith("pilot: 8 of 8 runs stored; divergence screen (current round): ") and said.endswith("stage 2: 8 of 8 runs stored")
    status = evidence.status(tmp_path, tasks=("addition",))
    stored = len(list((tmp_path / "v2" / "runs" / "addition").iterdir()))
    assert status.loc["addition", "runs stored"] == stored >= 16
    # one worker trained everything: its runs' shares of their lockstep groups' wall time add up to at most
    # the time it took (crediting each run its whole group's time would count a group once per run)
    assert 0 < status.loc["addition", "worker hours"] * 3600 <= elapsed
    assert status.loc["addition", "pilot"] == "8 / 8" and status.loc["addition", "stage 2"] == "8 / 8"
    chosen = evidence.selections(tmp_path, tasks=("addition",))
    assert list(chosen["initializer"]) == list(INITS) and (chosen["task"] == "addition (T = 750)").all()
    assert chosen["screen"].str.fullmatch(r"\d of 2 screen runs diverged").all()  # one candidate x two pilot seeds
    assert evidence.selections(tmp_path / "empty", tasks=("addition",)).empty  # no pilot there: nothing selected
    # the results page's survival view of a complete benchmark (its code path, on these runs)
    from nnrnn import divergence
    from nnrnn.plotting import divergence as dplot

    km = divergence.survival(runs)
    assert set(km) == set(INITS) and all((k["survival"] <= 1).all() and k["events"].sum() == 0 for k in km.values())
    fig = dplot.survival_curves({"addition": km}, INITS)
    assert fig.axes[0].get_xlabel() == "update (thousands)" and fig.axes[0].get_ylabel() == "fraction not diverged"
    rows = evidence.benchmark_rows("addition", tmp_path)
    assert all(r["verdict"] in verdicts.VERDICTS for r in rows) and rows[0]["runs"].startswith("8 runs, seeds 1-2")
    t2 = evidence.table2_rows(tmp_path, tasks=("addition",))
    assert len(t2) == 2 and all(r["verdict"] == verdicts.NOT_TESTABLE for r in t2)  # 2 networks per group < 5
    per, peak = evidence.fig5_excesses("addition", runs, tmp_path)
    assert set(per["init"]) <= set(evidence.NORMAL) and np.isfinite(per["excess"]).all()
    assert all(r["verdict"] == verdicts.NOT_TESTABLE for r in evidence.fig5_rows(tmp_path, tasks=("addition",)))


def test_language_model_rows_are_not_testable_at_3_plus_3_and_say_what_happened(monkeypatch):
    """The plan: 3 + 3 runs give p >= 1/20, so the label is the scale's, and the row states the direction."""
    from nnrnn.lm import replicate as lm_rep

    def results(cell, root=None):
        inits = lm_rep.REPLICATE_INITS[cell]
        best = lm_rep.CLAIMS[cell]["best"]
        return pd.DataFrame([{"init": i, "seed": s, "hash": f"{i}{s}", "status": "finished",
                              "test_bits": (1.5 if i == best else 2.0) + s / 100} for i in inits for s in (1, 2, 3)])

    monkeypatch.setattr(lm_rep, "load_results", results)
    monkeypatch.setattr(lm_rep, "unigram_reference", lambda cfg: 2.015)  # the non-best runs' mean: "never left" it
    rows = evidence.lm_rows()
    assert [r["verdict"] for r in rows] == [verdicts.VERDICTS[4]] * 2
    assert "the paper's direction: p = 0.05" in rows[0]["test"] and "not testable at this n" in rows[0]["test"]
    assert rows[0]["ours"].startswith("fb_chain 1.520 bits, lower than") and "by 0.500" in rows[0]["ours"]
    others = [i for i in lm_rep.REPLICATE_INITS["rnn"] if i != lm_rep.CLAIMS["rnn"]["best"]]
    clause = rows[0]["ours"].rsplit("; ", 1)[1]
    assert clause.endswith(" never left the unigram level: within 0.01 bits (our threshold) of a model that knows only the "
                           "characters' frequencies, 2.015 bits")
    assert sorted(clause.split(" never left", 1)[0].split(" and ")) == sorted(others)

    def no_corpus(cfg):
        raise evidence.DataNotFoundError("ptb-char is not on disk")

    monkeypatch.setattr(lm_rep, "unigram_reference", no_corpus)  # the row stands without the corpus, minus that clause
    assert all("unigram" not in r["ours"] for r in evidence.lm_rows())


@pytest.mark.parametrize("lag, support", [(2.0, "this group supports the claim"), (-14.0, "this group does not support the claim")])
def test_a_fig5_group_supports_the_claim_only_if_its_diagonal_means_peak_forward(monkeypatch, lag, support):
    _fake(monkeypatch, _runs({i: 1 for i in INITS}))
    per = pd.DataFrame([{"init": i, "hash": f"{i}{s}", "success": True, "excess": 0.01 * s} for i in evidence.NORMAL
                        for s in range(1, 7)])
    measures = evidence.Fig5Measures(per, {"identity": lag, "orthogonal": lag}, pd.DataFrame())
    monkeypatch.setattr(evidence, "fig5_measures", lambda task, runs, root=None: measures)
    rows = evidence.fig5_rows(tasks=("psmnist",))
    assert [r["verdict"] for r in rows] == ["reproduced", "reproduced"] and all(support in r["ours"] for r in rows)
    assert evidence.fig5_rows(tasks=("psmnist",), measures={"psmnist": measures}) == rows  # measures given, not drawn


def _git(*args) -> str:
    out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_the_plan_commit_added_the_plan_and_precedes_every_protocol_v2_run():
    """The results page cites evidence.PLAN_COMMIT, the commit that added book/analysis-plan.md, and
    PLAN_AMENDMENT, the only other commit that changed it: both are ancestors of the first commit that
    added anything under data/v2 (the plan came before the runs)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    if _git("rev-parse", "--is-shallow-repository") == "true":
        pytest.skip("a shallow clone lacks the history this test reads")
    added = _git("log", "--diff-filter=A", "--format=%H", "--", "book/analysis-plan.md").splitlines()
    assert added and added[-1].startswith(evidence.PLAN_COMMIT)
    changed = _git("log", "--format=%H", "--", "book/analysis-plan.md").splitlines()  # newest first
    assert [c[:7] for c in changed] == [evidence.PLAN_AMENDMENT, evidence.PLAN_COMMIT], "the plan changed after its amendment"
    first_v2 = _git("log", "--diff-filter=A", "--format=%H", "--", "data/v2").splitlines()
    if first_v2:
        for commit in changed:
            ok = subprocess.run(["git", "merge-base", "--is-ancestor", commit, first_v2[-1]], cwd=REPO, timeout=60)
            assert ok.returncode == 0 and commit != first_v2[-1]


def test_the_results_page_withholds_the_plans_verdicts_when_either_store_is_tampered(tmp_path, monkeypatch, tiny_v2_protocol):
    """plan_claims: theory rows computed, the rest from the v2 store and archive v1; an edited v2 run,
    or a v1 archive without its manifest, withholds every row read from the archive."""
    from nnrnn import archive
    from nnrnn.pages import claims as claim_table

    monkeypatch.setattr(claim_table, "_decoding_rows", lambda: [])
    monkeypatch.setattr(evidence, "lm_rows", lambda root=None: [])
    replicate.run("addition", protocol="v2", root=tmp_path, max_workers=1, progress=False, verbose=False)
    from nnrnn import verify

    assert verify.main(["--root", str(tmp_path / "v2"), "--write-manifest"]) == 0
    recorded = archive.read_manifest(tmp_path / "v2")["claims"]  # the plan's claims and the runs they read
    stored = sorted(f"addition/{d.name}" for d in (tmp_path / "v2" / "runs" / "addition").iterdir())
    assert recorded["addition: Fig. 3, Table 2, Fig. 5 (protocol v2)"] == stored and len(stored) >= 16
    assert verify.main(["--root", str(tmp_path / "v2"), "--sample", "0", "--evidence", "0"]) == 0
    archive.write_manifest(tmp_path)  # archive v1: no runs of its own here
    intact = claim_table.plan_claims(tmp_path, tasks=("addition",))
    from_archive = ~intact["profile"].str.startswith("theory")
    assert from_archive.sum() == 2 + 2 + 2 and (~from_archive).sum() == 1  # success, loss, Table 2 x2, Fig. 5 x2; J_tot
    assert claim_table.WITHHELD not in set(intact["verdict"]) and (intact.loc[~from_archive, "budget"] == "-").all()
    assert intact["claim"].iloc[1].startswith("addition (T = 750): ")
    run = next((tmp_path / "v2" / "runs" / "addition").iterdir())
    (run / "history.csv").write_text((run / "history.csv").read_text() + "\n")
    table = claim_table.plan_claims(tmp_path, tasks=("addition",))
    assert (table.loc[from_archive, "verdict"] == claim_table.WITHHELD).all() and table["claim"].tolist() == intact["claim"].tolist()
    assert (table.loc[~from_archive, "verdict"] == intact.loc[~from_archive, "verdict"]).all()
    (run / "history.csv").write_text((run / "history.csv").read_text()[:-1])
    assert claim_table.WITHHELD not in set(claim_table.plan_claims(tmp_path, tasks=("addition",))["verdict"])
    (tmp_path / archive.MANIFEST).unlink()
    assert (claim_table.plan_claims(tmp_path, tasks=("addition",)).loc[from_archive, "verdict"] == claim_table.WITHHELD).all()


def test_verdict_changes_sets_each_v1_claim_beside_the_plans():
    from nnrnn.pages import claims as claim_table

    old = pd.DataFrame({"claim": ["J", "copy success", "W moves", "motif"], "where in the paper": ["Eq. 4", "Fig. 3d", "Table 2", "Fig. 5"],
                        "verdict": ["reproduced", "inconclusive", "reproduced", "reproduced"]})
    new = pd.DataFrame({"claim": ["J", "copy (T = 500): succeed", "Table 2, addition, identity: more",
                                  "Table 2, psMNIST, orthogonal: more"],
                        "where in the paper": ["Eq. 4", "Fig. 3d", "Table 2", "Table 2"],
                        "verdict": ["reproduced", verdicts.NOT_TESTABLE, "consistent", "not reproduced"]})
    t = claim_table.verdict_changes(old, new).set_index("claim")["analysis plan, archive v2"]
    assert t.to_dict() == {"J": "reproduced", "copy success": verdicts.NOT_TESTABLE,
                           "W moves": "addition, identity: consistent; psMNIST, orthogonal: not reproduced",
                           "motif": "no claim under the plan"}
    with pytest.raises(ValueError, match=r"new lacks the column\(s\) \['where in the paper'\]"):
        claim_table.verdict_changes(old, new.drop(columns="where in the paper"))


def test_copy_joins_table2_and_fig5_only_when_a_normal_initialized_run_succeeded(monkeypatch):
    """The plan, as the paper's Table 2: copy's networks are analysed only if one of its normal-initialized
    runs succeeded, which its complete stage 2 decides."""
    none_normal = _runs({"identity": 0, "orthogonal": 0, "chain": 1, "fb_chain": 1})
    _fake(monkeypatch, none_normal)
    assert evidence.weight_tasks() == ["addition", "psmnist"]
    one = none_normal.copy()
    one.loc[(one["init"] == "orthogonal") & (one["seed"] == 2), "success"] = True
    _fake(monkeypatch, one)
    assert evidence.weight_tasks() == ["addition", "psmnist", "copy"]
    assert evidence.weight_tasks(tasks=("copy",)) == ["copy"]
    _fake(monkeypatch, one.iloc[:10], planned=24)  # stage 2 unfinished: not decided yet, so not analysed
    assert evidence.weight_tasks() == ["addition", "psmnist"]


def test_interval_coverage_is_the_attained_level_for_spread_differences_and_more_with_ties():
    """The plan shows the Hodges-Lehmann interval's simulated coverage at the n used: near its attained
    level (0.9375 at 6 seeds) for differences without ties, above it for success differences (0 or 1)."""
    spread = np.random.default_rng(1).standard_normal(6) * [1, 2, 3, 4, 5, 6]
    assert abs(evidence.interval_coverage(spread) - 0.9375) < 0.03
    assert evidence.interval_coverage(np.array([1.0, 1.0, 1.0, 0.0, 0.0, 1.0])) > 0.9375 + 0.02
    assert evidence.interval_coverage(np.zeros(6)) == 1.0  # no spread: every interval is the point, which it covers


def test_every_function_the_plan_names_exists_or_a_note_corrects_it():
    """The pre-registered plan cannot change; where it names code that does not exist, the notes page must say what
    the plan means instead, and each function either page names must exist (a renamed function fails here)."""
    import importlib
    import re

    plan = (REPO / "book" / "analysis-plan.md").read_text()
    notes = (REPO / "book" / "analysis-plan-notes.md").read_text()

    def resolves(name: str) -> bool:
        module, _, attr = name.rpartition(".")
        return hasattr(importlib.import_module(module), attr)

    named = set(re.findall(r"nnrnn\.[a-z_]+\.[A-Za-z_0-9]+", plan))
    missing = {n for n in named if not resolves(n)}
    assert missing == {"nnrnn.weights.profile_peak"}, missing  # a new missing name needs its own note
    corrected = {n for n in missing if re.search(rf"\*\*`{re.escape(n)}`\.\*\*", notes)}
    assert corrected == missing, "a function the plan names does not exist and no note says what it means"
    assert all(resolves(n) for n in re.findall(r"nnrnn\.[a-z_]+\.[A-Za-z_0-9]+", notes) if n not in missing)
    # the Fig. 5 endpoint the note names is the one the results page computes, at the plan's max_lag
    assert evidence.FIG5_MAX_LAG == 10 and "_weights.diagonal_means_peak" in Path(evidence.__file__).read_text()
    # note 1: the plan's text says "the paper's 100-epoch cap"; the cap is the authors' code's (PAPER.md §4.1)
    assert "the paper's 100-epoch cap" in plan and "authors' code" in notes
    assert replicate.PROTOCOLS["v2"].stage2["copy"]["base"]["epochs"] == 100  # the budget the note leaves unchanged
