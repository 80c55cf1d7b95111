"""psMNIST: the task on real MNIST (splits, permutation per seed, loss), its grids and test metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnrnn import data as D
from nnrnn import results, sweep, tasks
from nnrnn.pages.live_sweep import evaluate_psmnist_test_set
from nnrnn.tasks import psmnist


@pytest.fixture
def mnist_env(data_dir, monkeypatch):
    monkeypatch.setenv("NNRNN_DATA_DIR", str(data_dir))
    return data_dir


def test_permutation_determinism_per_seed(mnist_env):
    a_tr, a_va = psmnist.datasets(40, 30, seed=1)
    b_tr, b_va = psmnist.datasets(40, 30, seed=1)
    c_tr, _ = psmnist.datasets(40, 30, seed=2)
    assert torch.equal(a_tr.pixels, b_tr.pixels) and torch.equal(a_va.pixels, b_va.pixels)
    assert not torch.equal(a_tr.pixels, c_tr.pixels)
    # the same digits, only the pixel order differs
    assert torch.equal(a_tr.labels, c_tr.labels)
    assert torch.equal(a_tr.pixels.sort(dim=1).values, c_tr.pixels.sort(dim=1).values)


def test_one_permutation_for_every_split_and_it_matches_nnrnn_data(mnist_env):
    seed = 4
    perm = D.permutation(seed)
    images, labels = D.load_mnist("train", download=False)
    flat = images.reshape(-1, 784)
    train, val = psmnist.datasets(50, 20, seed=seed)
    # training digits are the first n_train of the file, validation digits the last n_val
    assert torch.equal(train.pixels, flat[:50][:, perm])
    assert torch.equal(val.pixels, flat[-20:][:, perm])
    assert torch.equal(val.labels, labels[-20:])
    test = psmnist.test_set(seed, 30)
    timg, tlab = D.load_mnist("test", download=False)
    assert torch.equal(test.pixels, timg.reshape(-1, 784)[:30][:, perm]) and torch.equal(test.labels, tlab[:30])
    # the batches are the permuted pixels scaled to [0, 1], one pixel per step
    x, y = train.batch(torch.arange(50))
    ref_x = flat[:50][:, perm].float().div(255.0).unsqueeze(-1)
    assert x.shape == (50, 784, 1) and x.dtype == torch.float32
    assert torch.allclose(x, ref_x) and torch.equal(y, labels[:50])
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    # validate_on="test" reproduces the authors' arrangement
    _, val_t = psmnist.datasets(50, 30, seed=seed, validate_on="test")
    assert torch.equal(val_t.pixels, test.pixels)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: psmnist.datasets(59_990, 11, seed=0), "n_train \\+ n_val must be at most 60,000"),
        (lambda: psmnist.datasets(0, 10, seed=0), r"n_train must be an integer in \[1, 60000\], got 0"),
        (lambda: psmnist.datasets(10, 10, seed=0, validate_on="val"), "validate_on must be one of"),
        (lambda: psmnist.test_set(0, 10_001), r"n must be an integer in \[1, 10000\], got 10001"),
        (lambda: psmnist.PsMNISTTask(T=28), "T must be 784 for psMNIST"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_task_loss_baseline_and_metric():
    task = tasks.get_task("psmnist")
    assert "psmnist" in tasks.task_names()
    assert task.baseline == pytest.approx(math.log(10)) == psmnist.baseline()
    # a uniform guess scores exactly the baseline; success is below half of it
    y = torch.arange(10)
    assert task.loss(torch.zeros(10, 10), y).item() == pytest.approx(math.log(10))
    assert tasks.succeeded(0.5 * math.log(10) - 1e-6, task.baseline)
    assert not tasks.succeeded(0.5 * math.log(10) + 1e-6, task.baseline)
    logits = F.one_hot(torch.tensor([1, 2, 3, 0]), 10).float()
    assert task.metrics(logits, torch.tensor([1, 2, 0, 0]))["acc"] == pytest.approx(0.75)


def test_grids():
    g = sweep.grid("psmnist", "paper")
    assert len(g) == 2112 and g.runs_per_init() == {"identity": 594, "orthogonal": 594, "chain": 462, "fb_chain": 462}
    cfg = g.configs()[0]
    assert (cfg.hidden_size, cfg.seq_len, cfg.n_train + cfg.n_val) == (25, 784, 60_000)
    assert sweep.grid("psmnist", "paper", hidden_size=100).configs()[0].hidden_size == 100
    for profile in ("smoke", "demo"):
        c = sweep.grid("psmnist", profile).configs()[0]
        assert c.seq_len == 784 and c.hidden_size == 25  # the task itself is never shortened
    assert sweep.grid("psmnist", "demo").seeds == (1, 2, 3)
    assert sweep.grid("psmnist", "demo", base_seed=10).seeds == (11, 12, 13)


def test_sweep_store_and_test_metrics(mnist_env, tmp_path):
    g = sweep.grid("psmnist", "smoke", scales={"chain": (1.0,), "orthogonal": (1.0,)}, n_train=32, n_val=16)
    # a spawned worker process knows the task too (registered on first use)
    rep = sweep.run_sweep(g, root=tmp_path, executor="local", max_workers=1, progress=False)
    assert len(rep.ran) == 2
    runs = sweep.load_runs("psmnist", configs=g, root=tmp_path)
    assert set(runs["init"]) == {"chain", "orthogonal"} and np.allclose(runs["baseline"], math.log(10))
    scored = evaluate_psmnist_test_set(runs, n_test=40, profile="smoke", root=tmp_path)
    assert ((scored["test_acc"] >= 0) & (scored["test_acc"] <= 1)).all()
    assert np.isfinite(scored["test_loss"]).all()
    # the stored result is reused, and equals a fresh evaluation
    again = evaluate_psmnist_test_set(runs, n_test=40, profile="smoke", root=tmp_path, cache="require")
    fresh = evaluate_psmnist_test_set(runs, n_test=40, profile="smoke", root=tmp_path, cache="off")
    assert np.allclose(scored["test_acc"], again["test_acc"]) and np.allclose(scored["test_acc"], fresh["test_acc"])
    assert np.allclose(scored["test_loss"], fresh["test_loss"], rtol=1e-5)


# ----------------------------------------------------------------------------- the chapter
@pytest.mark.slow
def test_chapter_glue_matches_the_run_store(glued, smoke_book):
    """The numbers chapter 6 glues on smoke are those of the runs in the book's run store."""
    g = glued("06-psmnist")
    root = smoke_book / "store"
    assert g["nb06_profile"] == "smoke" and g["nb06_hidden"] == 25
    grid = sweep.grid("psmnist", "smoke")
    runs = sweep.load_runs("psmnist", configs=grid, root=root)
    assert len(runs) == len(grid) == g["nb06_n_runs"]
    counts = results.success_counts(runs)
    best = results.best_settings(runs)
    scored = evaluate_psmnist_test_set(runs, profile="smoke", root=root, cache="require")
    for init in grid.inits:
        assert g[f"nb06_success_{init}"] == counts.loc[init, "n_success"]
        assert g[f"nb06_runs_{init}"] == counts.loc[init, "n_runs"]
        assert g[f"nb06_best_val_{init}"] == pytest.approx(best.loc[init, "mean_final_val_loss"])
        at = scored[(scored["init"] == init) & np.isclose(scored["scale"], best.loc[init, "scale"])
                    & np.isclose(scored["lr"], best.loc[init, "lr"])]
        assert g[f"nb06_test_acc_{init}"] == pytest.approx(100 * at["test_acc"].mean())
