"""The trainer: determinism, learning, divergence, early stopping, optimizer and config errors."""

from __future__ import annotations

import math

import pytest
import torch

from nnrnn import fused, store, sweep, verify
from nnrnn.fused import STEPS
from nnrnn.train import TrainConfig, make_optimizer, train

TINY = dict(T=30, hidden_size=16, n_train=64, n_val=32, epochs=2, evals_per_epoch=2, lr=1e-3)


def test_same_seed_gives_identical_history_and_weights():
    cfg = TrainConfig(task="copy", init="orthogonal", scale=1.0, seed=3, **TINY)
    a = train(cfg, progress=False)
    b = train(cfg, progress=False)
    cols = [c for c in a.history.columns if c != "wall_s"]
    assert a.history[cols].equals(b.history[cols])
    assert a.state_dict.keys() == b.state_dict.keys()
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
    c = train(cfg.replace(seed=4), progress=False)
    assert not a.history["val_loss"].equals(c.history["val_loss"])


def test_history_layout_and_eval_points():
    cfg = TrainConfig(task="copy", init="chain", scale=1.0, **TINY)
    r = train(cfg, progress=False)
    h = r.history
    assert list(h.columns) == ["update", "epoch", "train_loss", "val_loss", "val_acc", "val_recall_acc", "w_spectral_radius", "w_henrici", "wall_s"]
    # 64 sequences / batch 16 = 4 updates per epoch, 2 evaluations per epoch, plus update 0
    assert h["update"].tolist() == [0, 2, 4, 6, 8]
    assert h["epoch"].tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert r.n_updates == 8 and r.status == "finished"
    assert math.isnan(h["train_loss"].iloc[0]) and h["train_loss"].iloc[1:].notna().all()
    assert r.final_val_loss == h["val_loss"].iloc[-1]
    assert r.baseline == pytest.approx(10 * math.log(8) / 30)
    add = train(TrainConfig(task="addition", init="identity", **TINY), progress=False)
    assert list(add.history.columns) == ["update", "epoch", "train_loss", "val_loss", "w_spectral_radius", "w_henrici", "wall_s"]


@pytest.mark.parametrize("task,init", [("copy", "chain"), ("addition", "fb_chain")])
def test_short_training_lowers_the_loss(task, init):
    cfg = TrainConfig(task=task, init=init, scale=1.0 if init == "chain" else 0.04,
                      **{**TINY, "n_train": 320, "epochs": 1, "evals_per_epoch": 1})
    r = train(cfg, progress=False)
    first, last = r.history["val_loss"].iloc[0], r.history["val_loss"].iloc[-1]
    assert last < 0.7 * first


@pytest.mark.parametrize("step", STEPS)
def test_diverged_run_is_recorded_not_raised(step):
    if step == "fused" and not fused.available():
        pytest.skip(f"fused step unavailable: {fused.unavailable_reason()}")
    cfg = TrainConfig(task="addition", init="identity", scale=1.05, **{**TINY, "lr": 1e30})
    r = train(cfg, progress=False, step=step)
    assert r.extra["step"] == step
    assert r.status == "diverged"
    assert math.isnan(r.final_val_loss)
    assert not r.success
    assert math.isnan(r.history["val_loss"].iloc[-1])
    assert r.summary()["status"] == "diverged"


def test_diverged_at_initialization():
    cfg = TrainConfig(task="addition", init="identity", scale=1e30, **TINY)
    r = train(cfg, progress=False)
    assert r.status == "diverged" and r.n_updates == 0 and not r.success


def test_early_stopping():
    cfg = TrainConfig(task="copy", init="chain", scale=1.0, **{**TINY, "epochs": 20, "early_stop": 1.0, "lr": 5e-3})
    r = train(cfg, progress=False)
    assert r.status == "early_stopped"
    assert r.final_val_loss < 1.0
    assert r.n_updates < 20 * 4
    assert (r.history["val_loss"].iloc[:-1] >= 1.0).all()


def test_optimizer_uses_keras_constants():
    cfg = TrainConfig(lr=3e-4)
    opt = make_optimizer([torch.nn.Parameter(torch.zeros(2))], cfg)
    g = opt.param_groups[0]
    assert isinstance(opt, torch.optim.RMSprop)
    assert (g["lr"], g["alpha"], g["eps"]) == (3e-4, 0.9, 1e-7)


def test_config_hash_ignores_device_only():
    a = TrainConfig(**TINY)
    assert a.hash() == a.replace(device="cuda").hash()
    assert a.hash() != a.replace(seed=2).hash()
    assert TrainConfig.from_dict(a.as_dict()) == a


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"init": "xavier"}, "unknown initializer 'xavier'"),
        ({"task": "sorting"}, r"task must be one of \['addition', 'copy', 'psmnist'\], got 'sorting'"),
        ({"hidden_size": 0}, "hidden_size must be a positive integer"),
        ({"n_train": -5}, "n_train must be a positive integer"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"T": 0}, "T must be a positive integer"),
        ({"lr": 0.0}, r"lr must be > 0.0, got 0.0"),
        ({"scale": -1.0}, r"scale must be >= 0.0, got -1.0"),
        ({"hidden_size": 2.0}, "hidden_size must be a positive integer, got 2.0"),
        ({"lr": float("nan")}, "lr must be a finite number"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"nonlinearity": "sigmoid"}, "nonlinearity must be one of"),
        ({"orientation": "sideways"}, "orientation must be one of"),
    ],
)
def test_bad_configs_raise_clear_errors(changes, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{**TINY, **changes})


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match=r"TrainConfig fields must be some of .*got \['momentum'\]"):
        TrainConfig.from_dict({"task": "copy", "momentum": 0.9})


def test_the_step_is_fused_by_default_where_it_can_be_and_is_recorded(monkeypatch):
    cfg = TrainConfig(task="copy", init="chain", **TINY)
    default = train(cfg, progress=False)
    assert default.extra["step"] == ("fused" if fused.available() else "reference")
    assert store.run_payload(default)["provenance"]["step"] == default.extra["step"]
    ref = train(cfg, progress=False, step="reference")
    assert ref.extra["step"] == "reference" and ref.config.hash() == default.config.hash()
    monkeypatch.setattr(fused, "available", lambda: False)
    assert train(cfg, progress=False).extra["step"] == "reference"
    with pytest.raises(ValueError, match="step='fused' cannot train this run: its C\\+\\+ extension is unavailable"):
        train(cfg, progress=False, step="fused")
    with pytest.raises(ValueError, match=r"step must be one of \['fused', 'reference'\], got 'sgd'"):
        train(cfg, progress=False, step="sgd")


@pytest.mark.parametrize("step", STEPS)
def test_max_updates_stops_a_run_where_the_full_run_passed(step):
    if step == "fused" and not fused.available():
        pytest.skip(f"fused step unavailable: {fused.unavailable_reason()}")
    cfg = TrainConfig(task="copy", init="chain", **TINY)
    full = train(cfg, progress=False, step=step)
    part = train(cfg, progress=False, step=step, max_updates=4)
    assert part.n_updates == 4 and part.history["update"].tolist() == [0, 2, 4]
    cols = [c for c in full.history.columns if c != "wall_s"]
    assert part.history[cols].equals(full.history[cols].iloc[:3])
    with pytest.raises(ValueError, match="max_updates must be a non-negative integer or None, got -1"):
        train(cfg, progress=False, max_updates=-1)


def test_verify_retrains_a_run_with_the_step_its_provenance_records(tmp_path, monkeypatch):
    """A run trained with the fused step is retrained with it; one that records none (every run
    archived before the fused step) with the lockstep trainer, as before."""
    if not fused.available():
        pytest.skip(f"fused step unavailable: {fused.unavailable_reason()}")
    base = dict(T=30, hidden_size=8, n_train=64, n_val=16, epochs=1, evals_per_epoch=2)
    g = sweep.Grid("copy", {"chain": (1.0,)}, lrs=(1e-3,), seeds=(1,), base=base)
    sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False, group_size=1)
    (d,) = verify.archived_runs(tmp_path)
    assert verify.read_run_meta(d)["provenance"]["step"] == "fused"
    seen = []
    real_train, real_group = verify.train, verify.train_group
    monkeypatch.setattr(verify, "train", lambda cfg, **kw: seen.append(kw["step"]) or real_train(cfg, **kw))
    monkeypatch.setattr(verify, "train_group", lambda cfgs, **kw: seen.append("lockstep") or real_group(cfgs, **kw))
    assert verify.verify_run(d)["ok"] and seen == ["fused"]
    meta = verify.read_run_meta(d)
    del meta["provenance"]["step"]
    monkeypatch.setattr(verify, "read_run_meta", lambda folder, **kw: meta)
    verify.retrain(d, 2)
    assert seen == ["fused", "lockstep"]
    meta["provenance"]["step"] = "sgd"
    with pytest.raises(verify.RunCorrupt, match="records the training step 'sgd'"):
        verify.retrain(d, 2)
