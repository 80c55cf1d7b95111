"""The archive is tamper-evident: every edit, copy, deletion or addition of runs is named by
``nnrnn verify`` (non-zero exit) and withholds the results page's verdicts (issue 19)."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from nnrnn import archive, sweep, verify
from nnrnn.pages import claims as claim_table
from nnrnn.store import file_sha256

BASE = dict(T=30, hidden_size=8, n_train=64, n_val=16, epochs=2, evals_per_epoch=2)


@pytest.fixture
def root(tmp_path):
    g = sweep.Grid("copy", {"chain": (1.0,), "orthogonal": (1.0,)}, lrs=(1e-3,), seeds=(1, 2), base=BASE)
    sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False)
    archive.write_manifest(tmp_path, {"copy: demo": [f"copy/{d.name}" for d in verify.archived_runs(tmp_path)]})
    assert archive.check_archive(tmp_path) == []
    return tmp_path


def _runs(root):
    return verify.archived_runs(root)


def _meta(d):
    return json.loads((d / "config.json").read_text())


def _write_meta(d, meta):
    (d / "config.json").write_text(json.dumps(meta, indent=2, sort_keys=True))


def _problems(root):
    return "\n".join(archive.check_archive(root))


def test_an_edited_result_in_config_json_is_named(root, capsys):
    """config.json's result block feeds the verdicts: the manifest covers it, and so does its history."""
    d = _runs(root)[0]
    meta = _meta(d)
    meta["result"]["final_val_loss"] = 0.001
    _write_meta(d, meta)
    p = _problems(root)
    assert f"copy/{d.name}: files that differ from the manifest (changed, added or removed): ['config.json']" in p
    assert f"copy/{d.name}: result final_val_loss = 0.001, but history.csv gives" in p
    assert verify.main(["--root", str(root), "--sample", "0", "--evidence", "0"]) == 1
    assert f"TAMPERED OR DAMAGED: copy/{d.name}" in capsys.readouterr().out


def test_a_run_copied_over_another_is_named(root):
    a, b = _runs(root)[:2]
    shutil.rmtree(b)
    shutil.copytree(a, b)
    assert (f"copy/{b.name}: folder name, stored hash '{a.name}' and the hash of its config '{a.name}' disagree"
            in _problems(root))


def test_a_missing_file_list_does_not_switch_the_checks_off(root):
    d = _runs(root)[0]
    meta = _meta(d)
    del meta["files"]
    _write_meta(d, meta)
    (d / "history.csv").write_text("edited")
    assert f"copy/{d.name}: config.json has no file list with history.csv" in _problems(root)


def test_a_history_edited_with_its_sha_updated_is_caught_twice(root):
    d = _runs(root)[0]
    h = pd.read_csv(d / "history.csv")
    h.loc[len(h) - 1, "val_loss"] = 0.5
    h.to_csv(d / "history.csv", index=False)
    meta = _meta(d)
    meta["files"]["history.csv"] = file_sha256(d / "history.csv")
    _write_meta(d, meta)
    p = _problems(root)
    assert f"copy/{d.name}: result final_val_loss = " in p and "but history.csv gives 0.5" in p
    assert f"copy/{d.name}: files that differ from the manifest" in p


def test_deleted_and_added_runs_are_named(root):
    gone = _runs(root)[0]
    shutil.rmtree(gone)
    extra = root / "runs" / "copy" / "0123456789ab"
    shutil.copytree(_runs(root)[0], extra)
    p = _problems(root)
    assert f"copy/{gone.name}: listed in the manifest but missing from the archive" in p
    assert "copy/0123456789ab: in the archive but not in the manifest" in p


def test_a_stored_result_of_chapter_10_edited_added_or_deleted_is_named(root):
    """The manifest covers the files of divergence/ (chapter 10's runs), not only runs/."""
    folder = root / "divergence" / "results" / "replicate" / "ch10_runs"
    folder.mkdir(parents=True)
    (folder / "a.npz").write_bytes(b"numbers")
    (folder / "a.json").write_text("{}")
    assert "divergence/results/replicate/ch10_runs/a.npz: a stored result not in the manifest" in _problems(root)
    archive.write_manifest(root)
    assert archive.check_archive(root) == []
    (folder / "a.npz").write_bytes(b"numberz")
    (folder / "a.json").unlink()
    p = _problems(root)
    assert "ch10_runs/a.npz: a stored result that differs from the manifest" in p
    assert "ch10_runs/a.json: a stored result listed in the manifest but missing from the archive" in p


def test_a_claim_that_reads_other_runs_than_recorded_is_named(root):
    runs = [f"copy/{d.name}" for d in _runs(root)]
    assert archive.check_archive(root, {"copy: demo": runs}) == []
    p = "\n".join(archive.check_archive(root, {"copy: demo": runs[1:]}))
    assert f"claim 'copy: demo': reads other runs than the manifest lists (no longer read: ['{runs[0]}']" in p


@pytest.mark.parametrize("edit, expected", [
    (lambda m: m["result"].__setitem__("status", "diverged"), "result status 'diverged', but the last validation loss"),
    (lambda m: m["result"].__setitem__("n_updates", 1), "result n_updates = 1, but history.csv gives"),
    (lambda m: m["result"].__setitem__("success", True), "result success = True, but its final loss and baseline give False"),
    (lambda m: m["result"].__setitem__("best_val_loss", 0.0), "result best_val_loss = 0.0, but history.csv gives"),
    (lambda m: m["files"].__setitem__("../../x", "0" * 64), "lists files that are not plain names"),
])
def test_a_result_that_disagrees_with_its_history_is_named(root, edit, expected):
    d = _runs(root)[0]
    meta = _meta(d)
    edit(meta)
    _write_meta(d, meta)
    assert f"copy/{d.name}: " in _problems(root) and expected in _problems(root)
    with pytest.raises(ValueError, match="not writing a manifest over runs that fail their own checks"):
        archive.write_manifest(root)


def test_odd_entries_are_named_not_a_traceback(root):
    d = _runs(root)[0]
    (d / "config.json").unlink()
    (d / "config.json").mkdir()
    (root / "runs" / "copy" / "fedcba987654").write_text("stray")
    p = _problems(root)
    assert f"copy/{d.name}: config.json cannot be read (IsADirectoryError" in p
    assert "copy/fedcba987654: not a folder" in p


def test_a_missing_or_broken_manifest_is_a_problem(root):
    (root / archive.MANIFEST).write_text("{")
    assert "cannot be read" in _problems(root)
    (root / archive.MANIFEST).unlink()
    assert "the archive has no manifest" in _problems(root)


def test_the_results_page_withholds_its_verdicts_on_a_tampered_archive(root, monkeypatch):
    monkeypatch.setattr(claim_table, "_weight_rows", lambda root: [])
    monkeypatch.setattr(claim_table, "_language_rows", lambda root: [])
    intact = claim_table.claims(root, tasks=("copy",))
    assert claim_table.WITHHELD not in set(intact["verdict"])
    d = _runs(root)[0]
    meta = _meta(d)
    meta["result"]["final_val_loss"] = 0.001
    _write_meta(d, meta)
    table = claim_table.claims(root, tasks=("copy",))
    from_archive = ~table["profile"].str.startswith("theory")
    assert (table.loc[from_archive, "verdict"] == claim_table.WITHHELD).all() and from_archive.any()
    assert (table.loc[~from_archive, "verdict"] == intact.loc[~from_archive, "verdict"]).all()


def test_the_committed_archive_matches_its_manifest():
    """The repository's archive and its committed manifest agree (what CI's `make verify` checks first)."""
    root = archive.archive_root()
    if not (root / archive.MANIFEST).is_file():
        pytest.skip("no archive in this checkout")
    assert archive.check_archive(root, claim_table.claim_runs(root)) == []


def test_pages_read_the_archive_when_no_root_is_given(tmp_path, monkeypatch):
    """Issue 22: one root rule. ``root=None`` on a page is the committed archive (``NNRNN_ARCHIVE_DIR``),
    as in the chapters' replicate sections; the results page's integrity check read the scratch run
    store (``NNRNN_RESULTS_DIR``) instead."""
    monkeypatch.setenv("NNRNN_ARCHIVE_DIR", str(tmp_path / "archive"))
    monkeypatch.setenv("NNRNN_RESULTS_DIR", str(tmp_path / "scratch"))
    seen = []
    monkeypatch.setattr(archive, "check_archive", lambda root, claims=None: seen.append(Path(root)) or [])
    assert claim_table.integrity_problems() == [] and seen == [tmp_path / "archive"]
    assert claim_table.integrity_problems(tmp_path / "other") == [] and seen[-1] == tmp_path / "other"


def test_a_live_run_beside_the_archive_is_not_tampering_but_an_added_claimed_run_is(root, tmp_path_factory, capsys):
    """In a checkout the book's live sweeps store their runs in the archive's runs/ folder: a run that the
    manifest does not list and no claim reads cannot move a verdict, so neither the results page nor
    `nnrnn verify` call it tampering (verify names it and leaves it out); the same run read by a claim is."""
    g = sweep.Grid("copy", {"fb_chain": (0.02,)}, lrs=(1e-3,), seeds=(1,), base=BASE)  # a "live" run
    sweep.run_sweep(g, root=root, executor="serial", progress=False)
    live = f"copy/{g.configs()[0].hash()}"
    claims = {"copy: demo": [f"copy/{d.name}" for d in _runs(root) if f"copy/{d.name}" != live]}
    assert archive.unlisted_runs(root) == [live]
    assert archive.check_archive(root, claims) == []
    assert f"{live}: in the archive but not in the manifest" in _problems(root)  # without claims: strict
    read = {"copy: demo": claims["copy: demo"] + [live]}  # a claim that reads it: an added run, and a changed claim
    p = "\n".join(archive.check_archive(root, read))
    assert f"{live}: in the archive but not in the manifest" in p and "claim 'copy: demo': reads other runs" in p
    assert claim_table.integrity_problems(root) == []  # the results page's claims (none reads the live run)
    assert verify.main(["--root", str(root), "--sample", "0"]) == 0
    out = capsys.readouterr().out
    assert f"not in the archive: 1 run folder(s)" in out and live in out and "intact" in out
