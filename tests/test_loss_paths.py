"""The runner's loss paths (issue 19): nothing that finished is lost, nothing damaged is resumed.

Faults are injected with monkeypatch: a full disk is ``OSError(ENOSPC)``, a read-only remount
``OSError(EROFS)``. Every test here failed before its fix (each says what happened then).
Results are compared exactly: a resumed or restarted group computes what the uninterrupted one
does, in the same layout and thread count (``tests/test_lockstep.py`` pins that property).
"""

from __future__ import annotations

import errno
import os
import re
import struct
import types
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch

from nnrnn import archive, checkpoints, executors, lm, lockstep, store, sweep, sweep_cli
from nnrnn.lm import replicate as lm_replicate
from nnrnn.lm import runs as lm_runs
from nnrnn.pages import claims as claim_table
from nnrnn.train import TrainConfig

BASE = dict(T=25, hidden_size=8, n_train=64, n_val=16, epochs=1, evals_per_epoch=2)  # 4 updates per run


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as every executor uses: results then compare exactly."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _cfgs() -> list[TrainConfig]:
    return [TrainConfig(task="copy", init=i, scale=1.0, lr=1e-3, seed=1, **BASE) for i in ("chain", "orthogonal")]


def _grid() -> sweep.Grid:
    """Two lockstep groups of two runs (group_size=2): seed 1, then seed 2."""
    return sweep.Grid("copy", {"chain": (1.0,), "orthogonal": (1.0,)}, lrs=(1e-3,), seeds=(1, 2), base=BASE)


def _same(a, b) -> None:
    """Two results of one config are the same computation (wall time aside)."""
    assert a.status == b.status and a.n_updates == b.n_updates
    cols = [c for c in b.history.columns if c != "wall_s"]
    assert a.history[cols].equals(b.history[cols])
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in b.state_dict)


def _no_training(monkeypatch) -> None:
    def step(self):
        raise AssertionError("a finished group was trained again")

    monkeypatch.setattr(lockstep.Group, "step", step)


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


# ----------------------------------------------------------------------------- 1, 2: write-back
def test_a_finished_group_keeps_its_checkpoint_and_resumes_without_training(tmp_path, monkeypatch):
    """Before: train_group deleted its checkpoint at the end, so a failed write-back lost the group."""
    ckpt = tmp_path / "group.pt"
    first = lockstep.train_group(_cfgs(), progress=False, checkpoint=ckpt)
    state, problem = lockstep.inspect_checkpoint(ckpt)
    assert problem is None and state["active"] == [] and all(r["state"] is not None for r in state["runs"])
    _no_training(monkeypatch)
    again = lockstep.train_group(_cfgs(), progress=False, checkpoint=ckpt)
    for a, b in zip(again, first):
        _same(a, b)
        assert a.extra["resumed"]


def test_a_full_disk_at_write_back_loses_nothing_and_the_rerun_stores_without_training(tmp_path, monkeypatch):
    """Before: the first failed write aborted the sweep (the second group never trained) and the
    failed group's checkpoint was already gone: its runs had to be trained again."""
    g = _grid()
    bad = g.configs()[0]
    real = sweep.write_run_payload

    def write(payload, *args, **kwargs):
        if payload["hash"] == bad.hash():
            _disk_full()
        return real(payload, *args, **kwargs)

    monkeypatch.setattr(sweep, "write_run_payload", write)
    with pytest.raises(RuntimeError) as e:
        sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False, group_size=2)
    msg = str(e.value)
    assert f"{bad.hash()} at {sweep.run_dir(bad, tmp_path)}" in msg and "No space left on device" in msg
    assert "1 of 4 runs trained but not stored" in msg
    assert [store.is_stored(sweep.run_dir(c, tmp_path)) for c in g.configs()] == [False, True, True, True]
    group = [c for c in g.configs() if c.seed == 1]
    assert sorted(p.name for p in (tmp_path / "checkpoints" / "copy").glob("*.pt")) == [f"{sweep.group_id(group)}.pt"]

    monkeypatch.setattr(sweep, "write_run_payload", real)
    _no_training(monkeypatch)  # the checkpoint holds the finished run
    report = sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False, group_size=2)
    assert report.ran == [bad.hash()] and len(report.skipped) == 3
    assert store.read_run_meta(sweep.run_dir(bad, tmp_path))["provenance"]["resumed"]
    assert not list((tmp_path / "checkpoints" / "copy").iterdir())  # removed once every run is stored


def test_the_cli_names_every_failed_run_and_exits_non_zero(tmp_path, capsys, monkeypatch):
    """Before: the first failed write ended the sweep with a traceback."""
    real = sweep.write_run_payload
    monkeypatch.setattr(sweep, "write_run_payload", lambda p, *a, **k: _disk_full() if p["config"]["init"] == "chain" else real(p, *a, **k))
    args = ["--task", "copy", "--profile", "smoke", "--executor", "serial", "--root", str(tmp_path), "--inits", "chain,identity"]
    assert sweep_cli.main(args) == 1
    err = capsys.readouterr().err
    cfgs = [c for c in sweep.grid("copy", "smoke").configs() if c.init in ("chain", "identity")]
    chain = [c for c in cfgs if c.init == "chain"]
    assert f"{len(chain)} of {len(cfgs)} runs trained but not stored" in err and "No space left on device" in err
    assert all(f"{c.hash()} at {sweep.run_dir(c, tmp_path)}" in err for c in chain)
    assert all(store.is_stored(sweep.run_dir(c, tmp_path)) for c in cfgs if c.init == "identity")


# ----------------------------------------------------------------------------- 3: a file at a run's path
def test_a_file_at_a_run_path_fails_that_run_before_training_and_the_others_train(tmp_path, monkeypatch):
    """Before: the group trained, the rename failed and the sweep stopped: 0 stored, every rerun the same."""
    g = _grid()
    blocked = sweep.run_dir(g.configs()[0], tmp_path)
    blocked.parent.mkdir(parents=True)
    blocked.write_text("not a run")
    trained = []
    real = sweep.run_group
    monkeypatch.setattr(sweep, "run_group", lambda cfgs, *a, **k: trained.append(len(cfgs)) or real(cfgs, *a, **k))
    with pytest.raises(RuntimeError, match=f"1 of 4 runs raised or could not start.*{re.escape(str(blocked))}"):
        sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False, group_size=2)
    assert trained == [1, 2]  # the blocked run was never trained
    assert [store.is_stored(sweep.run_dir(c, tmp_path)) for c in g.configs()] == [False, True, True, True]


# ----------------------------------------------------------------------------- 4: checkpoint integrity
def _overwrite_tensor_bytes(path: Path, n: int = 64) -> None:
    """Overwrite ``n`` bytes of the first tensor stored in a ``torch.save`` zip (its data is not compressed)."""
    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if "/data/" in i.filename and i.file_size >= n)
    with open(path, "r+b") as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = struct.unpack("<HH", f.read(4))
        f.seek(info.header_offset + 30 + name_len + extra_len)
        f.write(b"\x7f" * n)


def _damage(path: Path, how: str) -> None:
    if how == "overwritten":
        _overwrite_tensor_bytes(path)
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "no record":
        checkpoints.record_path(path).unlink()
    elif how == "other code":
        checkpoints.save(path, torch.load(path, weights_only=True), code="0123456789abcdef")


DAMAGE = {"overwritten": "sha256", "truncated": "sha256", "empty": "sha256", "no record": "unverified", "other code": "code"}


@pytest.mark.parametrize("how", list(DAMAGE))
def test_a_damaged_or_foreign_lockstep_checkpoint_is_refused_named_set_aside_and_retrained(tmp_path, how):
    """Before: overwritten bytes resumed silently; a truncated or empty file failed every rerun
    with an error that named no file; nothing recorded the code that wrote a checkpoint."""
    ckpt = tmp_path / "group.pt"
    lockstep.train_group(_cfgs(), progress=False, checkpoint=ckpt, checkpoint_every_s=1e-9, max_updates=2)
    assert lockstep.inspect_checkpoint(ckpt)[0]["position"][2] == 2  # a group halfway
    _damage(ckpt, how)
    reason = DAMAGE[how]
    with pytest.warns(checkpoints.CheckpointWarning, match=f"checkpoint {re.escape(str(ckpt))} refused: .*set aside as "
                                                           f"group.pt.refused-{reason}; training starts from scratch"):
        got = lockstep.train_group(_cfgs(), progress=False, checkpoint=ckpt)
    assert (tmp_path / f"group.pt.refused-{reason}").is_file()
    for a, b in zip(got, lockstep.train_group(_cfgs(), progress=False)):
        _same(a, b)
        assert not a.extra["resumed"]
    assert lockstep.inspect_checkpoint(ckpt)[1] is None  # the fresh group's own, finished


def test_the_code_version_ignores_docstrings_and_comments_but_not_statements(tmp_path, monkeypatch):
    """A docstring or comment edit keeps checkpoints; any change to a statement refuses them."""
    src = tmp_path / "m.py"
    monkeypatch.setattr(checkpoints, "_PACKAGE", tmp_path)
    versions = []
    for text in ('"""Doc."""\ndef f(x):\n    """Doc."""\n    return x + 1\n',
                 '"""Other doc."""\n\n# a comment\ndef f(x):  # another\n    return x + 1\n',
                 '"""Doc."""\ndef f(x):\n    return x + 2\n'):
        src.write_text(text)
        checkpoints.code_version.cache_clear()
        versions.append(checkpoints.code_version(("m.py",)))
    checkpoints.code_version.cache_clear()
    assert versions[0] == versions[1] != versions[2]


# ----------------------------------------------------------------------------- 5: a full disk at a save
def test_a_checkpoint_the_disk_refuses_is_a_warning_and_the_previous_one_stays(tmp_path, monkeypatch):
    """Before: the save's OSError (or torch's "[enforce fail at inline_container.cc:672]") ended the group."""
    ckpt = tmp_path / "group.pt"
    lockstep.train_group(_cfgs(), progress=False, checkpoint=ckpt, checkpoint_every_s=1e-9, max_updates=2)
    before = ckpt.read_bytes()
    monkeypatch.setattr(os, "replace", _disk_full)
    with pytest.warns(checkpoints.CheckpointWarning) as warned:
        got = lockstep.train_group(_cfgs(), progress=False, checkpoint=ckpt, checkpoint_every_s=1e-9)
    monkeypatch.undo()
    texts = [str(w.message) for w in warned]
    assert texts and all(f"could not save checkpoint {ckpt}: the disk is full" in t for t in texts)
    assert not any("inline_container" in t for t in texts)
    for a, b in zip(got, lockstep.train_group(_cfgs(), progress=False)):
        _same(a, b)
    assert ckpt.read_bytes() == before and lockstep.inspect_checkpoint(ckpt)[1] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["group.pt", "group.pt.sha256"]  # no temporary left


# ----------------------------------------------------------------------------- 6: checkpoint_status
def test_checkpoint_status_lists_an_unreadable_checkpoint_instead_of_crashing(tmp_path):
    folder = tmp_path / "checkpoints" / "copy"
    folder.mkdir(parents=True)
    (folder / "0badc0ffee00.pt").write_bytes(b"not a checkpoint")
    group = lockstep.Group(_cfgs(), torch.device("cpu"), 0.0)
    group.save(folder / "abc123def456.pt", [c.hash() for c in _cfgs()])
    t = archive.checkpoint_status(tmp_path).set_index("group")
    assert t.loc["0badc0ffee00", "note"].startswith("unreadable: ") and pd.isna(t.loc["0badc0ffee00", "update"])
    assert t.loc["abc123def456", ["runs", "training", "update", "note"]].tolist() == [2, 2, 0, ""]
    assert claim_table.training_text("copy", _cfgs(), tmp_path).startswith("2 lockstep groups checkpointed at updates <NA> and 0 of 4")


def test_lm_checkpoint_status_lists_an_unreadable_checkpoint_instead_of_crashing(tmp_path):
    cfg = lm_replicate.configs("lstm")[7]
    path = lm_runs.checkpoint_path(cfg, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    t = archive.lm_checkpoint_status(tmp_path)
    assert t["hash"].tolist() == [cfg.hash()] and t["note"].iloc[0].startswith("unreadable: ") and pd.isna(t["epoch"].iloc[0])


# ----------------------------------------------------------------------------- 7: a read-only remount
def test_a_read_only_store_raises_its_own_error_not_the_lock_release(tmp_path, monkeypatch):
    """Before: unlock_run's EROFS, raised in run_missing's ``finally``, replaced the error that ended the loop."""
    real_unlink = Path.unlink

    def unlink(self, *a, **k):
        if self.name.endswith(".lock"):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_unlink(self, *a, **k)

    monkeypatch.setattr(Path, "unlink", unlink)
    original = OSError(errno.EROFS, "Read-only file system", str(tmp_path / "runs" / "a" / "weights.pt"))

    def submit(ex, threads, unit):
        raise original

    with pytest.raises(OSError) as e:
        executors.run_missing([["a"], ["b"]], submit, lambda r, p: None, key=str, folder=lambda r: tmp_path / "runs" / r,
                              executor="serial", progress=False, on_error="raise")
    assert e.value is original


# ----------------------------------------------------------------------------- 8: bad inputs
@pytest.mark.parametrize("kw, match", [
    (dict(seeds=(1.5, 2.7)), r"seeds must be a sequence of integers, got \(1.5, 2.7\) \(1.5 is a float\)"),
    (dict(seeds=(True,)), r"seeds must be a sequence of integers, got \(True,\) \(True is a bool\)"),
    (dict(lrs=(True,)), r"lrs must be a sequence of real numbers, got \(True,\) \(True is a bool\)"),
    (dict(scales={"chain": (False,)}), r"scales\['chain'\] must be a sequence of real numbers, got \(False,\)"),
    (dict(lrs="1e-3"), r"lrs must be a sequence of real numbers, got the string '1e-3'"),
    (dict(seeds=3), r"seeds must be a sequence of integers, got 3 \(a int\)"),
    (dict(profile=""), r"profile must be one of \['smoke', 'demo', 'paper', 'replicate', 'custom'\], got ''"),
])
def test_grid_axes_refuse_what_would_be_silently_converted(kw, match):
    """Before: seeds 1.5, 2.7 became 1, 2; True became 1.0; "1e-3" failed with "could not convert ... 'e'"."""
    args = dict(scales={"chain": (1.0,)}, lrs=(1e-3,), seeds=(1,))
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        sweep.Grid("copy", **args)


def test_grid_overrides_refuse_fractional_seeds():
    with pytest.raises(ValueError, match="seeds must be a sequence of integers"):
        sweep.grid("copy", "smoke", seeds=(1.5,))


def test_a_cuda_sweep_on_a_machine_without_cuda_fails_before_spawning(tmp_path, monkeypatch, capsys):
    """Before: the runs were planned and sent to workers, each failing there."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def spawned(*a, **k):
        raise AssertionError("runs were spawned")

    monkeypatch.setattr(sweep._executors, "run_missing", spawned)
    monkeypatch.setattr(sweep._executors, "open_executor", spawned)
    with pytest.raises(ValueError, match="CUDA is not available; use 'cpu' or 'auto'"):
        sweep.run_sweep(_grid().replace(base={**BASE, "device": "cuda"}), root=tmp_path, progress=False)
    with pytest.raises(SystemExit) as e:
        sweep_cli.main(["--task", "copy", "--profile", "smoke", "--device", "cuda", "--root", str(tmp_path)])
    assert e.value.code == 2 and "--device cuda: CUDA is not available on this machine; use --device cpu" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the language models
def _corpus(n: int = 1200):
    """A learnable stream: token k+1 follows token k (mod 5), with 10 % random tokens."""
    def stream(m: int, s: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(s)
        x = torch.arange(m) % 5
        return torch.where(torch.rand(m, generator=g) < 0.1, torch.randint(6, (m,), generator=g), x)

    return types.SimpleNamespace(dictionary=list(range(6)), train=stream(n, 0), valid=stream(300, 1), test=stream(300, 2))


def _lm_cfg(**kw) -> lm.LMConfig:
    base = dict(corpus="ptb-char", cell="rnn", init="chain", nlayers=1, emsize=8, nhid=8, bptt=10, batch_size=4,
                eval_batch_size=4, test_batch_size=2, epochs=2, evals_per_epoch=1, lr=5e-3, device="cpu")
    base.update(kw)
    return lm.LMConfig(**base)


def test_an_lm_run_that_cannot_be_stored_keeps_its_checkpoint_and_is_stored_without_training(tmp_path, monkeypatch):
    """Before: run_one deleted the checkpoint before the write, and the write's error ended the sweep."""
    monkeypatch.setattr(lm.train, "get_corpus", lambda *a, **k: _corpus())
    cfgs = [_lm_cfg(), _lm_cfg(init="identity")]
    real = lm_runs._write_payload
    monkeypatch.setattr(lm_runs, "_write_payload", lambda p, *a, **k: _disk_full() if p["hash"] == cfgs[0].hash() else real(p, *a, **k))
    with pytest.raises(RuntimeError, match=f"{cfgs[0].hash()} at {re.escape(str(lm.run_dir(cfgs[0], tmp_path)))}: "
                                           "OSError: .*No space left on device"):
        lm.sweep(cfgs, root=tmp_path, progress=False)
    ckpt = lm_runs.checkpoint_path(cfgs[0], tmp_path)
    assert store.is_stored(lm.run_dir(cfgs[1], tmp_path)) and not store.is_stored(lm.run_dir(cfgs[0], tmp_path)) and ckpt.is_file()
    assert not lm_runs.checkpoint_path(cfgs[1], tmp_path).exists()
    monkeypatch.setattr(lm_runs, "_write_payload", real)
    monkeypatch.setattr(torch.optim.Adam, "step", lambda *a, **k: pytest.fail("a finished run was trained again"))
    out = lm.sweep(cfgs, root=tmp_path, progress=False)
    assert out.ran == [cfgs[0].hash()] and not ckpt.exists() and not checkpoints.record_path(ckpt).exists()


@pytest.mark.parametrize("how", ["truncated", "other code"])
def test_a_damaged_lm_checkpoint_is_refused_and_the_run_trains_afresh(tmp_path, how):
    corpus, cfg = _corpus(), _lm_cfg()
    full = lm.train_lm(cfg, corpus=corpus, progress=False)

    def stop(row):
        if row["epoch"] == 2.0:
            raise KeyboardInterrupt

    ckpt = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        lm.train_lm(cfg, corpus=corpus, progress=False, checkpoint=ckpt, on_eval=stop)
    _damage(ckpt, how)
    with pytest.warns(checkpoints.CheckpointWarning, match=f"checkpoint {re.escape(str(ckpt))} refused: .*refused-{DAMAGE[how]}"):
        again = lm.train_lm(cfg, corpus=corpus, progress=False, checkpoint=ckpt)
    assert again.history["val_bits"].tolist() == full.history["val_bits"].tolist() and again.test_bits == full.test_bits


def test_an_lm_checkpoint_the_disk_refuses_is_a_warning(tmp_path, monkeypatch):
    """Before: the save's error (torch's "[enforce fail at inline_container.cc:672]" on a full disk) ended the run."""
    corpus, cfg = _corpus(), _lm_cfg()
    full = lm.train_lm(cfg, corpus=corpus, progress=False)
    monkeypatch.setattr(os, "replace", _disk_full)
    ckpt = tmp_path / "run.pt"
    with pytest.warns(checkpoints.CheckpointWarning, match=f"could not save checkpoint {re.escape(str(ckpt))}: the disk is full"):
        got = lm.train_lm(cfg, corpus=corpus, progress=False, checkpoint=ckpt)
    assert got.history["val_bits"].tolist() == full.history["val_bits"].tolist() and not list(tmp_path.iterdir())
