"""nnrnn.pages.live_sweep and nnrnn.pages.benchmarks: the benchmark chapters' computations, on tiny run stores.

The live sweep's summary is checked against the run store it reads; the replicate section is
checked on an empty archive (the chapter still builds and says the runs are missing), on a
pilot in progress, and on a fake archive of tiny real runs (the pilot and stage-2 grids of
nnrnn.replicate replaced by tiny ones), whose verdicts must be the results page's.
"""

from __future__ import annotations

import dataclasses
import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from nnrnn import archive as nnrnn_archive
from nnrnn import replicate, results, sweep, verdicts
from nnrnn.pages import benchmarks, live_sweep, report
from nnrnn.pages.section import Part
from nnrnn.pages import claims as claim_table
from nnrnn.store import load_history

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

TINY = dict(T=22, hidden_size=8, n_train=32, n_val=16, epochs=1, evals_per_epoch=4)
SCALES = {"identity": (1.0,), "orthogonal": (1.0,), "chain": (1.0,), "fb_chain": (0.04,)}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _train(configs, root):
    rep = sweep.run_sweep(configs, root=root, executor="serial", progress=False)
    assert not rep.errors, rep.errors


# ----------------------------------------------------------------------------- the live sweep
@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("live")
    g = sweep.grid("copy", "smoke", **{**TINY, "epochs": 3, "evals_per_epoch": 1})
    _train(g, root)
    runs = sweep.load_runs("copy", configs=g, root=root)
    return live_sweep.benchmark_summary(g, runs, sweep.load_history(runs, root=root))


def test_summary_values_are_the_stores_counts_and_best_settings(live):
    v = live.values()
    counts, best = results.success_counts(live.runs), results.best_settings(live.runs)
    assert v["profile"] == "smoke" and v["n_runs"] == len(live.grid) == len(live.runs) and v["T"] == 22
    assert v["T_paper"] == 500 and v["baseline"] == pytest.approx(10 * math.log(8) / 22)
    for init in ("identity", "orthogonal", "chain", "fb_chain"):
        assert v[f"success_{init}"] == counts.loc[init, "n_success"] and v[f"runs_{init}"] == counts.loc[init, "n_runs"]
        assert v[f"best_lr_{init}"] == best.loc[init, "lr"]
        assert v[f"best_val_{init}"] == pytest.approx(best.loc[init, "mean_final_val_loss"])
    assert v["success_nonnormal"] == counts.loc[["chain", "fb_chain"], "n_success"].sum()
    assert v["runs_normal"] == counts.loc[["identity", "orthogonal"], "n_runs"].sum()
    assert v["n_diverged"] == int(live.runs["diverged"].sum())
    assert v["paper_success_chain"] == 46 and v["paper_runs_identity"] == 594
    # the chapter's verdict is the results page's function, and a reduced profile is never "at the paper's scale"
    assert live.verdict == verdicts.success_verdict(v["success_nonnormal"], v["runs_nonnormal"], v["success_normal"],
                                                    v["runs_normal"], at_paper_scale=False)
    assert v["verdict"] == verdicts.VERDICTS[4]
    assert live.x == "epoch" and set(live.curves["init"]) == set(counts.index)


def test_summary_tables_and_figures_have_human_labels(live):
    counts = live.counts_table().data
    assert "successful (profile smoke)" in counts.columns and "share (paper)" in counts.columns
    assert list(counts.index) == ["identity", "orthogonal", "chain", "feedback chain"]
    assert "feedback chain" in set(live.per_setting_table().data["initializer"])
    assert "mean final validation loss (nats per step)" in live.best_table().data.columns
    for fig in (live.curves_figure(), live.success_figure()):
        for ax in fig.axes:
            assert ax.get_xlabel() or ax.get_xticklabels(), "an axis without a label"
            assert ax.get_ylabel()


def test_glue_records_every_value_under_the_prefix_and_figures_in_place(live, monkeypatch):
    glued = {}
    monkeypatch.setattr(report, "glue", lambda name, value, display=False: glued.setdefault(name, value))
    live.glue("nbxx")
    assert glued == {f"nbxx_{k}": v for k, v in live.values().items()}
    fig = live.curves_figure()
    report.glue_figure("nbxx_fig3_curves", fig)
    assert glued["nbxx_fig3_curves"] is fig and not plt.fignum_exists(fig.number)  # glued, then closed


def test_check_benchmark_passes_and_fails_on_a_wrong_result(live):
    live_sweep.check_benchmark(live)
    wrong = dataclasses.replace(live, runs=live.runs.assign(success=~live.runs["success"]))
    with pytest.raises(AssertionError, match="success flag"):
        live_sweep.check_benchmark(wrong)
    with pytest.raises(AssertionError, match="runs loaded"):
        live_sweep.check_benchmark(dataclasses.replace(live, runs=live.runs.iloc[1:]))


def test_benchmark_summary_refuses_an_empty_run_table(live):
    with pytest.raises(ValueError, match="runs must hold at least one stored run.*got an empty table"):
        live_sweep.benchmark_summary(live.grid, live.runs.iloc[0:0], live.history)


def test_live_profile_and_grid():
    assert report.live_profile("replicate") == "demo" and report.live_profile("paper") == "paper"
    with pytest.raises(ValueError, match="profile must be one of"):
        report.live_profile("quick")
    with pytest.raises(ValueError, match=r"task must be one of \['copy', 'addition', 'psmnist'\], got 'adding'"):
        live_sweep.live_grid("adding", "smoke")
    assert live_sweep.live_grid("psmnist", "smoke", hidden_size=25).configs()[0].hidden_size == 25


def test_accuracy_table_reads_the_best_setting():
    runs = pd.DataFrame({"init": ["chain"] * 3, "scale": [1.0, 1.0, 1.02], "lr": [1e-3] * 3,
                         "test_acc": [0.5, 0.7, 0.9], "test_loss": [1.0, 0.8, 0.5]})
    best = pd.DataFrame({"scale": [1.0], "lr": [1e-3]}, index=pd.Index(["chain"], name="init"))
    t = live_sweep.accuracy_table(runs, best)
    assert t.loc["chain", "test accuracy, best setting (%)"] == pytest.approx(60.0)
    assert t.loc["chain", "s.e.m. (%)"] == pytest.approx(10.0)
    assert t.loc["chain", "best single run (%)"] == pytest.approx(90.0) and t.loc["chain", "seeds"] == 2


# ----------------------------------------------------------------------------- the replicate section
def test_missing_archive_says_so_and_still_renders(tmp_path):
    s = benchmarks.replicate_section("addition", root=tmp_path)
    v = s.values()
    assert (v["n_pilot"], v["n_pilot_planned"], v["n_stage2"], v["n_stage2_planned"]) == (0, 88, 0, 24)
    assert v["T"] == 750 and v["epochs"] == 10 and v["budget_pct"] == 10.0 and v["seeds"] == "1-6"
    assert v["verdict"] == verdicts.VERDICTS[4] and s.success_verdict is None and s.selection is None
    assert "not in the archive yet" in s.status_text() and "0 of 88 pilot runs" in s.status_text()
    settings = s.settings()
    assert list(settings.columns) == ["replicate: stage 1 (pilot)", "replicate: stage 2", "paper"]
    assert settings.loc["sequence length T", "replicate: stage 2"] == "750"
    assert settings.loc["epochs (at most)", "replicate: stage 2"] == "10"
    assert settings.loc["scales: feedback chain", "replicate: stage 2"] == "selected by the pilot"
    assert settings.loc["runs in all"].tolist() == ["88", "24", "2,112"]
    for part in ("pilot", "curves", "success", "weights", "paper"):
        items = getattr(s, part)()
        assert len(items) == 1 and items[0].startswith("*Not in the archive yet:*"), part
    assert "10 % of the 100-epoch cap of the authors' code" in s.protocol()[1]
    # every part is a public method returning a Part, which a notebook cell displays (issue 22)
    assert all(isinstance(getattr(s, p)(), Part) for p in s.PARTS) and not hasattr(s, "verdict")


def test_psmnist_settings_show_the_authors_data_split(tmp_path):
    t = benchmarks.replicate_section("psmnist", root=tmp_path).settings()
    assert t.loc["hidden units N"].tolist() == ["25", "25", "25"]
    assert "test digits" in t.loc["validation sequences", "paper"] and t.loc["epochs (at most)", "replicate: stage 2"] == "20"


PILOT = sweep.Grid("copy", SCALES, lrs=(3e-3, 1e-3), seeds=(3,), base=TINY, profile="replicate")


def _tiny_stage2(task, selection, protocol="v1"):
    cfgs = []
    for init, row in selection.iterrows():
        g = sweep.Grid(task, {init: (row["scale"],)}, (row["lr"],), (1, 2), {**TINY, "epochs": 3, "evals_per_epoch": 1},
                       profile="replicate")
        cfgs += g.configs()
    return cfgs


@pytest.fixture
def tiny_protocol(monkeypatch):
    monkeypatch.setattr(replicate, "pilot_grid", lambda task, protocol="v1": PILOT)
    monkeypatch.setattr(replicate, "stage2_grid", _tiny_stage2)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """A fake archive: the tiny pilot and, after the selection, the tiny stage 2, trained for real."""
    root = tmp_path_factory.mktemp("archive")
    _train(PILOT, root)
    runs = sweep.load_runs("copy", configs=PILOT, root=root)
    selection = replicate.select("copy", replicate.pilot_scores(runs, load_history(runs, root=root)))
    _train(_tiny_stage2("copy", selection), root)
    with pytest.MonkeyPatch.context() as mp:  # as a committed archive has one, with the runs each claim reads
        mp.setattr(replicate, "pilot_grid", lambda task, protocol="v1": PILOT)  # (the tiny protocol's: the results
        mp.setattr(replicate, "stage2_grid", _tiny_stage2)  # page checks both)
        nnrnn_archive.write_manifest(root, claim_table.claim_runs(root))
    return root


def test_pilot_in_progress_shows_provisional_scores(tiny_protocol, archive, tmp_path):
    partial = tmp_path / "partial"
    for cfg in PILOT.configs()[:5]:
        src = sweep.run_dir(cfg, archive)
        dst = partial / src.relative_to(archive)
        dst.parent.mkdir(parents=True, exist_ok=True)
        import shutil

        shutil.copytree(src, dst)
    s = benchmarks.replicate_section("copy", root=partial)
    assert len(s.pilot_runs) == 5 and s.selection is None and s.runs.empty
    assert "5 of 8 pilot runs" in s.status_text() and "still training" in s.status_text()
    (figure,) = s.pilot()
    assert hasattr(figure.fig, "savefig") and "provisional" in figure.caption and "5 of 8" in figure.caption
    assert s.curves()[0].startswith("*Not in the archive yet:*")


def test_stage_2_in_progress_says_where_its_checkpoints_stand(tiny_protocol, archive, tmp_path):
    """With the pilot and part of stage 2 stored, the status names the lockstep checkpoint's update of
    the cap (read from the checkpoint file), as the results page does; a finished stage 2 does not."""
    import shutil
    import time

    import torch

    from nnrnn import lockstep

    partial = tmp_path / "partial"
    shutil.copytree(archive, partial)
    s = benchmarks.replicate_section("copy", root=partial)
    for cfg in s.plan[:3]:
        shutil.rmtree(sweep.run_dir(cfg, partial))
    group = lockstep.Group(s.plan[:3], torch.device("cpu"), time.monotonic())
    group.runs[1].status, group.update = "diverged", 2
    group.save(partial / "checkpoints" / "copy" / "abc123def456.pt", [c.hash() for c in s.plan[:3]])
    s = benchmarks.replicate_section("copy", root=partial)
    cap = s.plan[0].epochs * s.plan[0].updates_per_epoch
    assert len(s.runs) == len(s.plan) - 3 and s.training == claim_table.training_text("copy", s.plan, partial)
    assert f"Stage 2 is training in the background: 1 lockstep group checkpointed at update 2 of {cap:,}" in s.status_text()
    assert "so far 0 stopped early, 1 diverged." in s.status_text()
    assert benchmarks.replicate_section("copy", root=archive).training == ""


def test_fake_archive_renders_every_part_with_the_results_pages_verdicts(tiny_protocol, archive):
    s = benchmarks.replicate_section("copy", root=archive)
    assert s.pilot_complete and s.selection is not None and len(s.runs) == len(s.plan) == 8
    assert list(s.selection.index) == ["identity", "orthogonal", "chain", "fb_chain"]
    # the stage-2 runs are the results page's, and so are the verdicts
    assert set(s.runs["hash"]) == set(nnrnn_archive.replicate_runs("copy", archive)["hash"])
    row = claim_table.claims(archive, tasks=("copy",)).set_index("claim")
    success = row.filter(like="succeed more often", axis=0).iloc[0]
    assert s.values()["verdict"] == s.success_verdict.label == success["verdict"]
    # copy's row and sentence add the test's power at the paper's success rates, from the same runs
    power = results.success_power_text("copy", results.success_counts(s.runs)["n_runs"].to_dict())
    assert power and success["test"] == f"{s.success_verdict.describe()}; {power}" and power in s.verdict_text()
    loss = row.filter(like="lower validation loss", axis=0).iloc[0]
    assert (s.loss_verdict.label if s.loss_verdict is not None else verdicts.VERDICTS[4]) == loss["verdict"]
    v = s.values()
    counts = results.success_counts(s.runs)
    assert v["n_stage2"] == 8 and v["success_chain"] == counts.loc["chain", "n_success"] and v["runs_fb_chain"] == 2
    assert "the whole pilot of copy (8 runs) and 8 of 8 stage-2 runs." in s.status_text()
    # the settings table names each initializer's selected setting
    settings = s.settings()
    sel = s.selection.loc["chain"]
    assert settings.loc["scales: chain", "replicate: stage 2"] == f"{sel['scale']:g} (learning rate {sel['lr']:g})"
    assert settings.loc["seeds", "replicate: stage 2"] == "1, 2"
    # every part renders: figures with labelled axes, captions that name the profile and the paper's figure
    figure, table, *note = s.pilot()
    assert note == ([s.fast_start_note()] if s.fast_start_note() else [])
    assert "Ringed: the setting selected" in figure.caption and isinstance(table, report.Table)
    (figure,) = s.curves()
    assert "profile `replicate`" in figure.caption and "Fig. 3a" in figure.caption and "seeds 1-2" in figure.caption
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in figure.fig.axes)
    figure, tests_text, verdict_text = s.success()
    assert "Fig. 3d" in figure.caption and "chain 46 / 462" in figure.caption
    assert "protocol v1's tests" in tests_text and "Fisher's exact test (two-sided)" in tests_text
    assert f"**{s.success_verdict.label}**" in verdict_text
    weights = s.weights()
    assert [ax.get_ylabel() for ax in weights[0].fig.axes] == ["spectral radius of W", "Henrici index d(W)"]
    note, paper = s.paper()
    assert paper.data.loc["chain", "successful runs: paper"] == "46 / 462 (10.0 %)"
    assert paper.data.loc["identity", "Henrici index after training: paper"] == "not reported"  # no copy row in Table 2
    # the W curves are the stored histories' diagnostics at the selected settings
    rho = s.curve_data("w_spectral_radius")
    first = rho[(rho["init"] == "identity") & (rho["epoch"] == 0)]["mean"].iloc[0]
    assert first == pytest.approx(s.selection.loc["identity", "scale"], rel=1e-5)  # λI has spectral radius λ


def test_a_diverged_run_is_explained_from_its_last_validation_point(tiny_protocol, archive):
    s = benchmarks.replicate_section("copy", root=archive)
    victim = s.runs[s.runs["init"] == "chain"].iloc[0]
    h = s.history.copy()
    rows = h["hash"] == victim["hash"]
    last_update = int(h.loc[rows, "update"].max())
    h = pd.concat([h, pd.DataFrame([{**h[rows].iloc[-1].to_dict(), "update": last_update + 1, "val_loss": np.nan,
                                     "w_spectral_radius": np.nan, "w_henrici": np.nan}])], ignore_index=True)
    h.loc[rows & (h["update"] == last_update), "w_spectral_radius"] = 1.44
    runs = s.runs.copy()
    runs.loc[runs["hash"] == victim["hash"], ["diverged", "success"]] = [True, False]
    s = dataclasses.replace(s, runs=runs, history=h)
    div = s.divergences()
    assert len(div) == 1 and div.iloc[0]["diverged_at"] == last_update + 1 and div.iloc[0]["last_update"] == last_update
    assert div.iloc[0]["w_spectral_radius"] == 1.44 and div.iloc[0]["radius_start"] < 1e-6
    items = s.weights()
    text = items[1]
    assert text.startswith("1 of 8 stage-2 runs diverged") and "in 1 of them it was above 1" in text
    assert "A chain starts nilpotent" in text and isinstance(items[2], report.Table)


def test_all_diverged_pilot_names_the_reason(tiny_protocol, archive, monkeypatch):
    def refuse(task, scores):
        raise ValueError("every pilot setting of 'chain' on copy diverged; nothing to select")

    monkeypatch.setattr(replicate, "select", refuse)
    s = benchmarks.replicate_section("copy", root=archive)
    assert s.selection is None and s.runs.empty and "every pilot setting of 'chain'" in s.status_text()


def test_a_selection_forced_onto_the_largest_learning_rate_is_named(tiny_protocol, archive):
    s = benchmarks.replicate_section("copy", root=archive)
    sel = s.selection.copy()
    sel["n_in_band"] = 2
    assert dataclasses.replace(s, selection=sel).fast_start_note() == ""
    sel.loc["chain", ["lr", "n_in_band"]] = [max(PILOT.lrs), 1]
    t = dataclasses.replace(s, selection=sel)
    note = t.fast_start_note()
    assert note.startswith(f"For chain the pilot selected the largest learning rate of the grid ({max(PILOT.lrs):g})")
    assert t.pilot()[-1] == note
    sel.loc["chain", "lr"] = min(PILOT.lrs)  # alone in the band, but not the fastest: nothing to flag
    assert dataclasses.replace(s, selection=sel).fast_start_note() == ""


# ----------------------------------------------------------------------------- protocol v2 in the chapters
def test_the_chapters_read_protocol_v2_only_once_its_stage_2_is_complete(tmp_path, tiny_v2_protocol):
    """``replicate_section(..., "auto")`` (the chapters') reads archive v1 until every planned stage-2 run of
    the task is in the v2 store, then protocol v2 with the analysis plan's verdicts, never both; the book's
    banner for that chapter then names the v2 store."""
    from nnrnn import book, evidence
    from nnrnn.pages.section import Figure

    before = benchmarks.replicate_section("addition", tmp_path)
    assert type(before) is benchmarks.ReplicateSection and "**archive v1**" in before.protocol()[0]
    pending = benchmarks.replicate_section("addition", tmp_path, protocol="v2")
    assert isinstance(pending, benchmarks.ReplicateSectionV2) and pending.values()["verdict"] == evidence.PENDING
    assert pending.pilot()[0].startswith("*Not stored yet:*") and "does not hold every planned run" in pending.status_text()
    assert "05-addition" not in book.reads_v2(tmp_path)
    with pytest.raises(ValueError, match=r"protocol must be one of 'auto', 'v1', 'v2', got 'v3'"):
        benchmarks.replicate_section("addition", tmp_path, protocol="v3")

    replicate.run("addition", protocol="v2", root=tmp_path, max_workers=1, progress=False, verbose=False)
    s = benchmarks.replicate_section("addition", tmp_path)
    assert isinstance(s, benchmarks.ReplicateSectionV2) and s.complete
    rows = evidence.benchmark_rows("addition", tmp_path)
    v = s.values()
    assert v["verdict"] == rows[0]["verdict"] in verdicts.VERDICTS and v["loss_verdict"] == rows[1]["verdict"]
    assert "p_value" not in v and v["verdict_source"].startswith("the analysis plan's verdict")
    assert v["n_stage2"] == v["n_stage2_planned"] == 8 and v["seeds"] == "1-2" and v["budget_pct"] == 25.0
    # the stage-2 runs are the results page's (evidence.stage2), read from <root>/v2
    assert set(s.runs["hash"]) == set(evidence.stage2("addition", tmp_path)[1]["hash"])
    reads, protocol_text, settings = s.protocol()
    assert "**protocol-v2 runs**" in reads and evidence.PLAN_COMMIT in reads and "archive v1" in reads
    assert "seeds 101 and 102, which stage 2 does not use" in protocol_text and "**Divergence screen.**" in protocol_text
    assert settings.data.loc["seeds"].tolist()[:2] == ["101, 102", "1, 2"]
    assert settings.data.loc["divergence screen", "replicate: stage 2"] == "survivors of the screen only"
    assert s.status_text().startswith("The protocol-v2 store holds every planned run of addition")
    table = s.status_table()
    assert table.loc["stage 2", "runs stored"] == "8 of 8" and table.loc["pilot", "seeds"] == "101, 102"
    # the screen: each candidate (one per initializer here) x the two pilot seeds, and the one selected
    screen = s.screen_table()
    assert len(screen) == 4 and (screen["screen runs diverged"] == [f"{int(d)} of 2" for d in
                                 s.screen_runs.groupby("init", sort=False)["diverged"].sum()]).all()
    assert (screen["selected"] == "yes").sum() == len(s.selection)
    figure, *rest = s.pilot()
    assert "averaged over pilot seeds 101 and 102" in figure.caption and "Ringed" in figure.caption
    figure, tests_text, verdict_text, *km = s.success()
    assert "exact permutation test within seeds, one-sided" in tests_text and "Holm" in tests_text
    assert f"the analysis plan's verdict: **{rows[0]['verdict']}**" in verdict_text
    assert f"the analysis plan's verdict: **{rows[1]['verdict']}**" in verdict_text and rows[1]["test"] in verdict_text
    assert len(km) == int(s.runs["diverged"].any())  # the survival view, where a run diverged
    # "not testable" says why: a ceiling (every run succeeded) or a floor, else the label's meaning
    nt = [{**rows[0], "verdict": verdicts.NOT_TESTABLE}, rows[1]]
    ceiling = dataclasses.replace(s, runs=s.runs.assign(success=True), rows=nt).verdict_text()
    assert "**not testable** (every run succeeded: a ceiling makes the endpoints equal" in ceiling
    floor = dataclasses.replace(s, runs=s.runs.assign(success=False), rows=nt).verdict_text()
    assert "**not testable** (every run failed: a floor makes" in floor
    mixed = dataclasses.replace(s, runs=s.runs.assign(success=s.runs["seed"] == 1), rows=nt).verdict_text()
    assert f"**not testable** ({verdicts.LABEL_MEANINGS[verdicts.NOT_TESTABLE]})" in mixed
    for name in s.PARTS:  # every part renders; its figures have labelled axes and say where their numbers come from
        for item in getattr(s, name)():
            if isinstance(item, Figure):
                assert "protocol-v2 runs" in item.caption, (name, item.caption)
                axes = item.fig.axes  # panels that share the first one's y axis name it there
                assert all(ax.get_xlabel() for ax in axes) and axes[0].get_ylabel(), (name, [(a.get_xlabel(), a.get_ylabel()) for a in axes])
    assert "05-addition" in book.reads_v2(tmp_path) and "04-copy" not in book.reads_v2(tmp_path)
    assert book.archive_labels(tmp_path)["05-addition"].startswith("protocol-v2 runs, ")
    # a chapter that reads several tasks switches only once all of them are complete (psMNIST is not here)
    assert book.chapter_protocol("05-addition", tmp_path) == "v2"
    assert book.chapter_protocol("08-trained-weights", tmp_path) == book.chapter_protocol("10-divergence", tmp_path) == "v1"
    assert "08-trained-weights" not in book.archive_labels(tmp_path)
