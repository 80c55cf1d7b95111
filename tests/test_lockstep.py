"""Lockstep training equals single-run training (nnrnn.lockstep against nnrnn.train).

The fused step (the default on the CPU) steps each run with the single-run trainer's own fused
C++ call on its 64-byte aligned slices of the stacks and validates it through the single-run
model: the same arithmetic on the same values, so a run equals ``train(step="fused")`` bit for bit
when both run in one process (no tolerance: nothing here depends on the CPU's rounding, only on
both sides doing the same thing on the same machine).

Tolerance of the batched engine (``step="batched"``) against ``train(step="reference")``. The two trainers do the same float32 arithmetic except where a batched kernel may sum
in another order (the input projection and readout matmuls, the gradient norms). One update
then changes a weight ``p`` by an increment that may differ in its last bits, so ``p + Δ`` may
round to a neighbouring float32: at most one unit in the last place, ``2u|p|`` with the unit
roundoff ``u = 2**-24``. Over ``U`` updates that is at most ``2uU|p|`` per weight, as long as
training does not amplify differences (a few updates at small learning rates, as here). Losses,
metrics and the weight diagnostics are smooth functions of the weights of order-one
sensitivity at these sizes, so we allow twice that, ``4uU max(1, |value|)``, for every history
value and every final weight. Nothing here depends on the CPU: the bound holds for any
summation order, on AMD and Intel alike (measured: at most 1.2e-7 on weights of size about 1
after 18 updates, where the bound is 4.3e-6).
"""

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch

from nnrnn import checkpoints, fused, lockstep, store, sweep, verify
from nnrnn.train import TrainConfig, train

U = 2.0**-24
INITS = [("identity", 1.0), ("orthogonal", 1.0), ("chain", 1.02), ("fb_chain", 0.04)]
BASE = {
    "copy": dict(task="copy", T=30, hidden_size=16, n_train=96, n_val=32, epochs=3, evals_per_epoch=2),
    "addition": dict(task="addition", T=30, hidden_size=16, n_train=96, n_val=32, epochs=3, evals_per_epoch=2),
    "psmnist": dict(task="psmnist", hidden_size=8, n_train=48, n_val=32, epochs=2, evals_per_epoch=1),
}


def _assert_close(a, b, updates: int) -> None:
    """``a`` (lockstep) equals ``b`` (single run) within the derived float32 tolerance."""
    assert a.status == b.status and a.n_updates == b.n_updates, (a.config, a.status, b.status, a.n_updates, b.n_updates)
    cols = [c for c in b.history.columns if c != "wall_s"]
    assert list(a.history.columns) == list(b.history.columns)
    x, y = a.history[cols].to_numpy(float), b.history[cols].to_numpy(float)
    assert np.array_equal(np.isnan(x), np.isnan(y))
    tol = 4 * U * max(updates, 1) * np.maximum(1.0, np.abs(np.nan_to_num(y)))
    assert (np.abs(np.nan_to_num(x) - np.nan_to_num(y)) <= tol).all(), (a.config, np.abs(x - y).max())
    for k, v in b.state_dict.items():
        w = a.state_dict[k]
        assert w.shape == v.shape and w.dtype == v.dtype
        assert bool(((w - v).abs() <= 4 * U * max(updates, 1) * v.abs().clamp(min=1.0)).all()), (a.config, k)


def _mixed_group(task: str) -> list[TrainConfig]:
    """All four initializers, two learning rates and two seeds, one run that diverges, and an
    early-stop threshold that stops some runs but not others."""
    base = BASE[task]
    cfgs = [TrainConfig(init=i, scale=s, lr=lr, seed=sd, **base) for i, s in INITS for lr in (1e-3, 3e-4) for sd in (1, 2)]
    cfgs.append(TrainConfig(init="identity", scale=1.05, lr=0.5, seed=3, **base))  # diverges
    pilot = [train(c, progress=False, step="reference") for c in cfgs]
    values = np.sort(np.concatenate([p.history["val_loss"].to_numpy()[1:] for p in pilot if p.status != "diverged"]))
    mid = len(values) // 2
    gaps = np.diff(values[mid // 2 : mid + mid // 2])  # the widest gap near the median
    i = mid // 2 + int(np.argmax(gaps))
    threshold = float((values[i] + values[i + 1]) / 2)
    return [c.replace(early_stop=threshold) for c in cfgs]


def _assert_equal(a, b) -> None:
    """``a`` equals ``b`` bit for bit: status, updates, every history value but wall time, every weight."""
    assert a.status == b.status and a.n_updates == b.n_updates, (a.config, a.status, b.status, a.n_updates, b.n_updates)
    cols = [c for c in b.history.columns if c != "wall_s"]
    assert list(a.history.columns) == list(b.history.columns) and a.history[cols].equals(b.history[cols]), a.config
    assert a.state_dict.keys() == b.state_dict.keys()
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in b.state_dict), a.config


needs_fused = pytest.mark.skipif(not fused.available(), reason=f"fused step unavailable: {fused.unavailable_reason()}")


@pytest.mark.parametrize("task", ["copy", "addition", "psmnist"])
def test_a_mixed_group_equals_single_runs(task):
    cfgs = _mixed_group(task)
    group = lockstep.train_group(cfgs, progress=False, step="batched")
    single = [train(c, progress=False, step="reference") for c in cfgs]
    statuses = {r.status for r in single}
    assert statuses == {"finished", "early_stopped", "diverged"}, statuses
    for a, b in zip(group, single):
        assert a.extra["step"] == "batched"
        _assert_close(a, b, b.n_updates + 1)


@needs_fused
@pytest.mark.parametrize("task", ["copy", "addition", "psmnist"])
def test_a_fused_group_equals_fused_single_runs_bit_for_bit(task):
    """Each task head; runs that finish, stop early and diverge (the others go on without it)."""
    cfgs = _mixed_group(task)
    group = lockstep.train_group(cfgs, progress=False)
    single = [train(c, progress=False, step="fused") for c in cfgs]
    statuses = {r.status for r in single}
    assert statuses == {"finished", "early_stopped", "diverged"}, statuses
    for a, b in zip(group, single):
        assert a.extra["step"] == b.extra["step"] == "fused" and a.extra["lockstep_runs"] == len(cfgs)
        _assert_equal(a, b)


@pytest.mark.parametrize("step", [pytest.param("fused", marks=needs_fused), "batched"])
def test_group_composition_does_not_change_a_run(step):
    base = BASE["copy"]
    target = TrainConfig(init="chain", scale=1.02, lr=1e-3, seed=1, **base)
    others_a = [TrainConfig(init="identity", scale=1.0, lr=3e-4, seed=2, **base)]
    others_b = [TrainConfig(init=i, scale=s, lr=8e-4, seed=3, **base) for i, s in INITS]
    a = lockstep.train_group([*others_a, target], progress=False, step=step)[-1]
    b = lockstep.train_group([target, *others_b], progress=False, step=step)[0]
    if step == "fused":
        _assert_equal(a, b)
    else:
        _assert_close(a, b, b.n_updates + 1)


def test_the_step_is_chosen_recorded_and_checked():
    cfg = TrainConfig(init="chain", **BASE["copy"])
    assert lockstep.choose_step("batched", cfg) == "batched"
    assert lockstep.choose_step(None, cfg) == ("fused" if fused.available() else "batched")
    keras = cfg.replace(loss="keras")  # the fused step computes PyTorch's loss only
    assert lockstep.choose_step(None, keras) == "batched"
    with pytest.raises(ValueError, match="step='fused' cannot train this run: .*loss='keras'"):
        lockstep.train_group([keras], step="fused")
    with pytest.raises(ValueError, match="step must be one of.*'fused', 'batched'.*got 'reference'"):
        lockstep.train_group([cfg], step="reference")
    assert "fused.py" in lockstep.CODE  # a checkpoint of other fused-step code is refused


def test_a_keras_loss_group_trains_on_the_keras_loss():
    """TrainConfig.loss='keras' (issue 24): the batched engine trains on Keras's clipped
    cross-entropy as train() does (the tolerance of the module docstring)."""
    base = {**BASE["copy"], "epochs": 1}
    cfgs = [TrainConfig(init=i, scale=s, lr=1e-3, loss="keras", **base) for i, s in INITS[:2]]
    group = lockstep.train_group(cfgs, progress=False)
    single = [train(c, progress=False) for c in cfgs]
    torch_loss = lockstep.train_group([c.replace(loss="torch") for c in cfgs], progress=False, step="batched")
    for a, b, t in zip(group, single, torch_loss):
        assert a.extra["step"] == "batched" and b.extra["step"] == "reference"
        _assert_close(a, b, b.n_updates + 1)
        assert not a.history["train_loss"].iloc[1:].equals(t.history["train_loss"].iloc[1:])


def test_lockstep_results_do_not_depend_on_the_thread_count():
    cfgs = [TrainConfig(init=i, scale=s, lr=1e-3, **BASE["addition"]) for i, s in INITS]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = lockstep.train_group(cfgs, progress=False, step="batched")
        torch.set_num_threads(2)
        two = lockstep.train_group(cfgs, progress=False, step="batched")
    finally:
        torch.set_num_threads(before)
    for a, b in zip(one, two):
        _assert_close(a, b, b.n_updates + 1)


def test_python_engine_matches_the_cpp_engine(monkeypatch):
    cfgs = [TrainConfig(init=i, scale=s, lr=1e-3, **BASE["copy"]) for i, s in INITS]
    cpp = lockstep.train_group(cfgs, progress=False, step="batched")
    monkeypatch.setenv("NNRNN_ENGINE", "python")
    py = lockstep.train_group(cfgs, progress=False, step="batched")
    for a, b in zip(py, cpp):
        _assert_close(a, b, b.n_updates + 1)


def test_bad_groups_are_refused_with_clear_errors():
    a = TrainConfig(init="chain", **BASE["copy"])
    with pytest.raises(ValueError, match="may differ only in.*'T'"):
        lockstep.train_group([a, a.replace(T=40, seed=2)])
    with pytest.raises(ValueError, match="same config twice"):
        lockstep.train_group([a, a])
    with pytest.raises(ValueError, match="at least one config"):
        lockstep.train_group([])
    with pytest.raises(ValueError, match="max_size must be a positive integer, got 0"):
        lockstep.group_configs([a], max_size=0)


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from nnrnn import lockstep, sweep
    from nnrnn.train import TrainConfig
    steps = {"n": 0}
    real = lockstep.Group.step
    def step(self):
        real(self)
        steps["n"] += 1
        if steps["n"] == int(os.environ["KILL_AFTER"]):
            os.kill(os.getpid(), signal.SIGKILL)
    lockstep.Group.step = step
    """
)


def _run_killed(code: str, kill_after: int) -> int:
    env = dict(os.environ, KILL_AFTER=str(kill_after))
    return subprocess.run([sys.executable, "-c", KILLER + textwrap.dedent(code)], env=env).returncode


RESUMED = [(i, s, 1e-3) for i, s in INITS] + [("identity", 1.05, 0.5)]  # the last one diverges


def _kill_group(ckpt, step=None) -> list[TrainConfig]:
    """Train the copy group of :data:`INITS` in a subprocess, checkpointing at every update, and kill it
    after 7 updates, after a fifth run diverged and left; returns its configs (the checkpoint is left at ``ckpt``)."""
    base = BASE["copy"]
    code = f"""
    cfgs = [TrainConfig(init=i, scale=s, lr=lr, seed=1, **{base!r}) for i, s, lr in {RESUMED!r}]
    lockstep.train_group(cfgs, progress=False, checkpoint={str(ckpt)!r}, checkpoint_every_s=1e-9, step={step!r})
    """
    assert _run_killed(code, kill_after=7) == -9
    return [TrainConfig(init=i, scale=s, lr=lr, seed=1, **base) for i, s, lr in RESUMED]


@pytest.mark.parametrize("step", [pytest.param("fused", marks=needs_fused), "batched"])
def test_a_killed_group_resumes_from_its_checkpoint_to_the_same_result(tmp_path, step):
    """Also where a run has left the group before the kill (the stacks shrink, and stay aligned)."""
    ckpt = tmp_path / "group.pt"
    cfgs = _kill_group(ckpt, step)
    assert ckpt.is_file()
    assert lockstep.inspect_checkpoint(ckpt)[0]["step"] == step
    other = "batched" if step == "fused" else "fused"
    if other == "batched" or fused.available():
        with pytest.raises(ValueError, match=f"trained with the '{step}' step, this group takes '{other}'"):
            lockstep.train_group(cfgs, progress=False, checkpoint=ckpt, step=other)
    resumed = lockstep.train_group(cfgs, progress=False, checkpoint=ckpt, checkpoint_every_s=1e-9, step=step)
    full = lockstep.train_group(cfgs, progress=False, step=step)
    assert lockstep.inspect_checkpoint(ckpt)[0]["active"] == []  # the finished group, kept until its runs are stored
    assert [r.status for r in full] == ["finished"] * 4 + ["diverged"] and full[-1].n_updates < 7
    for a, b in zip(resumed, full):
        assert a.extra["resumed"] and a.extra["step"] == step
        assert a.status == b.status and a.n_updates == b.n_updates
        cols = [c for c in b.history.columns if c != "wall_s"]
        assert a.history[cols].equals(b.history[cols])
        assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in b.state_dict)


def test_wall_time_runs_on_across_a_resume(tmp_path):
    """Provenance and history report the group's wall time since it first started: the checkpoint
    carries it, and a checkpoint saved before it did is read by summing its rows' segments."""
    ckpt = tmp_path / "group.pt"
    cfgs = _kill_group(ckpt)
    before = torch.load(ckpt, weights_only=True)
    assert before["wall_s"] > 0
    resumed = lockstep.train_group(cfgs, progress=False, checkpoint=ckpt, checkpoint_every_s=1e-9)
    for r in resumed:
        walls = r.history["wall_s"].dropna().tolist()
        assert walls == sorted(walls) and walls[-1] > before["wall_s"]  # no reset at the resume
        assert r.wall_s > before["wall_s"]
    # an older checkpoint without the field: its rows' clocks restart at each resume
    rows = [{"wall_s": w} for w in (0.0, 2.0, 3.0, 0.5, 1.5, float("nan"))]
    assert lockstep._wall_from_rows([{"rows": rows}, {"rows": rows[:2]}]) == pytest.approx(4.5)
    assert lockstep._wall_from_rows([{"rows": []}]) == 0.0
    # resumed twice from old checkpoints (segments ending at 3.0 and 2.5 s, validation every 1 s),
    # then a third segment (to 1.5 s) saved a checkpoint that carried the clock, 3.0 + 2.5 + 1.5 s:
    # the segment resumed from it starts past that sum (0.5 s to its first row) and contains it
    carried = [{"wall_s": w} for w in (1.0, 2.0, 3.0, 0.5, 1.5, 2.5, 0.5, 1.5, 7.0 + 0.5, 8.5, 9.5)]
    assert lockstep._wall_from_rows([{"rows": carried}]) == pytest.approx(9.5)
    assert lockstep._wall_from_rows([{"rows": carried[:8]}]) == pytest.approx(3.0 + 2.5 + 1.5)
    checkpoints.remove(ckpt)  # the finished group's
    _kill_group(ckpt)
    old = torch.load(ckpt, weights_only=True)
    del old["wall_s"]
    checkpoints.save(ckpt, old, code=checkpoints.code_version(lockstep.CODE))
    estimate = lockstep._wall_from_rows(old["runs"])
    assert all(r.wall_s >= estimate for r in lockstep.train_group(cfgs, progress=False, checkpoint=ckpt))


def test_a_killed_sweep_keeps_finished_groups_and_retrains_only_the_rest(tmp_path):
    base = {k: v for k, v in BASE["copy"].items() if k != "task"}
    grid = sweep.Grid("copy", {"chain": (1.0,), "orthogonal": (1.0,)}, lrs=(1e-3,), seeds=(1, 2), base=base)
    code = f"""
    grid = sweep.Grid("copy", {{"chain": (1.0,), "orthogonal": (1.0,)}}, lrs=(1e-3,), seeds=(1, 2), base={base!r})
    sweep.run_sweep(grid, root={str(tmp_path)!r}, executor="serial", progress=False, group_size=2, checkpoint_every_s=1e-9)
    """
    per_group = 3 * math.ceil(base["n_train"] / 16)
    assert _run_killed(code, kill_after=per_group + 2) == -9  # during the second group
    stored = [c for c in grid.configs() if store.is_stored(sweep.run_dir(c, tmp_path))]
    assert len(stored) == 2
    assert len(list((tmp_path / "checkpoints" / "copy").glob("*.pt"))) == 1
    report = sweep.run_sweep(grid, root=tmp_path, executor="serial", progress=False, group_size=2)
    assert sorted(report.skipped) == sorted(c.hash() for c in stored) and len(report.ran) == 2
    metas = [store.read_run_meta(sweep.run_dir(c, tmp_path)) for c in grid.configs()]
    assert sum(bool(m["provenance"].get("resumed")) for m in metas) == 2
    assert not list((tmp_path / "checkpoints" / "copy").glob("*.pt"))


@needs_fused
def test_verify_retrains_a_fused_lockstep_run_to_its_stored_history_exactly(tmp_path):
    """A run a sweep trained in a fused lockstep stack records the step, and nnrnn verify's
    retraining (nnrnn.verify.retrain) takes that step: the history comes back bit for bit."""
    base = {k: v for k, v in BASE["copy"].items() if k != "task"}
    grid = sweep.Grid("copy", {"chain": (1.0,), "orthogonal": (1.0,)}, lrs=(1e-3,), seeds=(1,), base=base)
    sweep.run_sweep(grid, root=tmp_path, executor="serial", progress=False, group_size=2)
    for c in grid.configs():
        d = sweep.run_dir(c, tmp_path)
        prov = store.read_run_meta(d)["provenance"]
        assert prov["step"] == "fused" and prov["lockstep_runs"] == 2
        stored = pd.read_csv(d / "history.csv")
        again = verify.retrain(d, int(stored["update"].max()))
        cols = [k for k in stored.columns if k != "wall_s"]
        assert again[cols].equals(stored[cols].astype(again[cols].dtypes.to_dict()))
