"""nnrnn.archive as the one reader of the stored replicate runs (issue 22): the stage-2 plan and its
runs, what the archive holds and what is in training, for the benchmarks and the language models."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from nnrnn import archive, results, sweep
from nnrnn.lm import replicate as lm_rep
from nnrnn.lm import runs as lm_runs


def test_complete_replicate_runs_waits_for_the_whole_stage_2(monkeypatch):
    """Table 2 and Fig. 5 pool tasks: a task counts only once all its planned stage-2 runs are stored."""
    plan = ["a", "b", "c"]
    stored = pd.DataFrame({"hash": ["a", "b"], "init": "identity"})
    monkeypatch.setattr(archive, "stage2_plan", lambda task, root=None: plan)
    monkeypatch.setattr(sweep, "load_runs", lambda task, configs=None, root=None: stored)
    partial = archive.complete_replicate_runs("copy")
    assert partial.empty and list(partial.columns) == list(stored.columns)
    stored = pd.DataFrame({"hash": plan, "init": "identity"})
    assert archive.complete_replicate_runs("copy")["hash"].tolist() == plan
    plan = []  # pilot incomplete: no plan, nothing counts
    assert archive.complete_replicate_runs("copy").empty


def test_checkpoint_status_reads_every_lockstep_checkpoint(tmp_path):
    """The background tool's progress table: runs, still training / stopped early / diverged, update."""
    import time

    from nnrnn import lockstep
    from nnrnn.train import TrainConfig

    base = dict(task="copy", T=30, hidden_size=4, n_train=32, n_val=16, epochs=1, evals_per_epoch=1)
    cfgs = [TrainConfig(init=i, scale=1.0, lr=1e-3, seed=1, **base) for i in ("identity", "orthogonal", "chain")]
    group = lockstep.Group(cfgs, torch.device("cpu"), time.monotonic())
    group.runs[0].status, group.runs[2].status, group.update = "diverged", "early_stopped", 7
    group.save(tmp_path / "checkpoints" / "copy" / "abc123def456.pt", [c.hash() for c in cfgs])
    t = archive.checkpoint_status(tmp_path)
    assert t[["task", "group", "runs", "training", "early stopped", "diverged", "update"]].values.tolist() == [
        ["copy", "abc123def456", 3, 1, 1, 1, 7]]
    assert archive.checkpoint_status(tmp_path, "copy").equals(t) and archive.checkpoint_status(tmp_path, "addition").empty
    assert archive.checkpoint_status(tmp_path / "empty").empty


def test_worker_seconds_count_every_segment_of_a_resumed_group(tmp_path):
    """A group resumed by older code reports only its last segment in provenance; its time is then
    taken from its members' histories (clocks that restart at each resume), the longest member's,
    and shared among the group's runs. A run trained alone counts its own wall time."""
    import json

    def put(h, prov, walls):
        d = tmp_path / "runs" / "copy" / h
        d.mkdir(parents=True)
        (d / "config.json").write_text(json.dumps({"hash": h, "provenance": prov, "files": {}}))
        pd.DataFrame({"update": range(len(walls)), "wall_s": walls}).to_csv(d / "history.csv", index=False)

    group = {"created": "2026-12-01T07:00:00+0000", "lockstep_runs": 2, "resumed": True, "wall_s": 30.0}
    put("aaaaaaaaaaaa", group, [0.0, 50.0, 100.0, 10.0, 30.0])  # segments 100 s + 30 s
    put("bbbbbbbbbbbb", group, [0.0, 50.0, float("nan")])  # diverged in the first segment
    put("cccccccccccc", {"created": "2026-12-01T08:00:00+0000", "lockstep_runs": 1, "wall_s": 40.0}, [0.0, 40.0])
    runs = pd.DataFrame({"task": "copy", "hash": ["aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"], "wall_s": 0.0})
    assert archive.worker_seconds(runs, tmp_path) == pytest.approx(130.0 + 40.0)
    assert archive.worker_seconds(runs.iloc[:1], tmp_path) == pytest.approx(65.0)  # its share of the group


def test_archive_status_counts_the_language_models_too(tmp_path):
    cfg = lm_rep.configs("lstm")[4]
    lm_runs._write_payload({"hash": cfg.hash(), "config": cfg.key(), "provenance": {}, "weights": b"",
                            "result": {"status": "finished", "test_bits": 1.5, "wall_s": 5400.0},
                            "history_csv": "point,epoch,val_bits\n0,0.0,2.0\n"}, tmp_path)
    t = archive.archive_status(tmp_path)
    assert list(t.index) == ["copy", "addition", "psmnist", "lm-rnn", "lm-lstm"]
    assert t.loc["lm-lstm", "stage-2 runs"] == "1 / 12" and t.loc["lm-lstm", "worker hours"] == pytest.approx(1.5)
    assert t.loc["lm-rnn", "stage-2 runs"] == "0 / 12" and t.loc["copy", "pilot runs"] == "0 / 88"


def test_archive_commit_asks_the_archives_own_checkout(tmp_path):
    """An archive cloned beside an installed package (Colab) names its own commit; a folder that is
    not a checkout, or holds no run store, says so."""
    import subprocess

    repo = tmp_path / "clone"
    (repo / "data" / "runs" / "copy").mkdir(parents=True)
    (repo / "data" / "runs" / "copy" / "config.json").write_text("{}")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "archive"], check=True)
    sha = subprocess.run([*git, "log", "-1", "--format=%h (%cs)"], check=True, capture_output=True, text=True).stdout.strip()
    assert archive.archive_commit(repo / "data") == sha and archive.archive_label(repo / "data") == f"commit {sha}"
    plain = tmp_path / "plain"
    (plain / "runs").mkdir(parents=True)
    assert archive.archive_commit(plain) == "unknown (not a git checkout)"
    assert archive.archive_commit(tmp_path / "none").startswith(f"no archive at {tmp_path / 'none'}")


def test_lm_checkpoint_status_lists_the_runs_in_training(tmp_path):
    cfg = lm_rep.configs("lstm")[7]
    path = lm_runs.checkpoint_path(cfg, tmp_path)
    path.parent.mkdir(parents=True)
    torch.save({"epoch": 3, "wall_s": 5400.0}, path)
    t = archive.lm_checkpoint_status(tmp_path)
    assert t[["cell", "init", "seed", "hash", "epoch", "epochs"]].values.tolist() == [
        ["lstm", cfg.init, cfg.seed, cfg.hash(), 3, cfg.epochs]]
    assert t["worker hours"].iloc[0] == pytest.approx(1.5)
    assert archive.lm_checkpoint_status(tmp_path / "empty").empty


def test_stage2_derives_the_plan_once_for_the_page_and_the_chapter(tmp_path, monkeypatch):
    """Issue 22: the stage-2 plan had two derivations (the results page's and the chapters'
    replicate section's). ``archive.stage2`` is the one: without a complete pilot there is no plan
    and the note says how much of the pilot is stored; a selection that fails gives no plan and
    its reason, instead of an exception on one page and a note on the other."""
    st = archive.stage2("copy", tmp_path)
    assert st.plan == [] and st.selection is None and st.pilot_runs.empty
    assert st.note == f"the pilot is incomplete (0 of {len(st.pilot)} runs)"
    assert archive.stage2_plan("copy", tmp_path) == [] and archive.replicate_runs("copy", tmp_path).empty
    pilot = archive.stage2("copy", tmp_path).pilot
    full = pd.DataFrame({"hash": [c.hash() for c in pilot.configs()]})
    monkeypatch.setattr(sweep, "load_runs", lambda task, configs=None, root=None: full if configs == pilot else full.iloc[:0])
    monkeypatch.setattr(archive._replicate, "pilot_scores", lambda runs, history: pd.DataFrame({"init": ["chain"]}))
    monkeypatch.setattr(sweep, "load_history", lambda runs, root=None: pd.DataFrame())

    def refuse(task, scores):
        raise ValueError("every setting of chain diverged")

    monkeypatch.setattr(archive._replicate, "select", refuse)
    st = archive.stage2("copy", tmp_path)
    assert st.plan == [] and st.selection is None and st.note == "every setting of chain diverged"


def test_results_keeps_statistics_only():
    """The archive readers live in nnrnn.archive alone: nnrnn.results re-exports none of them (issue
    22: the notebook aliases archive_root, archive_commit, archive_status and complete_replicate_runs
    are gone; the chapters call nnrnn.archive)."""
    public = {n for n in vars(results) if not n.startswith("_")}
    assert public & set(archive.__all__) == set()
    assert "nnrnn.archive" not in {getattr(v, "__module__", None) for v in vars(results).values()}
    assert not hasattr(results, "_worker_seconds")
    assert not hasattr(lm_rep, "checkpoint_status")
