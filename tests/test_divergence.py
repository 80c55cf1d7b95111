"""The divergence chapter's analysis (nnrnn.divergence): outcome classes, trajectories, survival and
pseudospectra, on inputs whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nnrnn import divergence as dv


@pytest.mark.parametrize("status, loss, success, want", [
    ("diverged", math.nan, False, "diverged"),
    ("finished", math.nan, False, "diverged"),  # a NaN loss is a divergence whatever the status says
    ("finished", 0.2, False, "at baseline"),  # above the baseline
    ("finished", 0.0951, False, "at baseline"),  # within 5 % of it
    ("finished", 0.0949, False, "below baseline"),
    ("early_stopped", 0.0001, True, "success"),
])
def test_outcome_classes(status, loss, success, want):
    assert dv.outcome(status, loss, 0.1, success) == want


def test_survival_counts_divergences_and_censors_the_rest():
    runs = pd.DataFrame({"init": ["chain"] * 3 + ["orthogonal"] * 2, "n_updates": [100, 300, 1000, 1000, 1000],
                         "diverged": [True, True, False, False, False]})
    km = dv.survival(runs)
    assert km["chain"]["survival"].round(4).tolist() == [0.6667, 0.3333, 0.3333]
    assert km["orthogonal"]["survival"].tolist() == [1.0] and km["orthogonal"]["censored"].tolist() == [2]


def test_trajectories_leave_out_the_divergence_row(monkeypatch):
    runs = pd.DataFrame({"hash": ["a", "b"], "init": ["chain", "orthogonal"], "seed": [1, 1],
                         "outcome": ["diverged", "at baseline"], "diverged_at": [20.0, math.nan]})
    hist = pd.DataFrame({"hash": ["a", "a", "a", "b", "b"], "init": ["chain"] * 3 + ["orthogonal"] * 2, "seed": [1] * 5,
                         "update": [0, 10, 20, 0, 10], "w_spectral_radius": [0.0, 1.2, math.nan, 1.0, 1.0],
                         "w_henrici": [1.0, 1.1, math.nan, 0.0, 0.01]})
    monkeypatch.setattr(dv, "load_history", lambda r, root=None: hist)
    t = dv.trajectories(runs)
    assert t["update"].tolist() == [0, 10, 0, 10] and t.loc[t["hash"] == "a", "diverged_at"].tolist() == [20.0, 20.0]
    assert dv.trajectories(runs.iloc[:0]).empty


def test_the_pseudospectrum_of_a_normal_matrix_is_the_distance_to_its_spectrum():
    """For normal W, sigma_min(zI - W) = min |z - lambda| (closed form)."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    lam = np.array([0.9, -0.5, 0.3, 0.0, 1.1, -1.0])
    w = q @ np.diag(lam) @ q.T
    re, im = np.linspace(-1.5, 1.5, 7), np.array([-0.4, 0.0, 0.7])
    got = dv.pseudospectrum(w, re, im)
    want = np.abs((re[None, :, None] + 1j * im[:, None, None]) - lam[None, None, :]).min(axis=-1)
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_a_chain_has_pseudospectra_far_larger_than_its_spectrum():
    """A nilpotent chain (every eigenvalue 0) of length n: sigma_min(zI - W) <= |z|^n for |z| < 1 (so the
    epsilon-pseudospectrum holds the disc of radius epsilon^(1/n)), while a normal matrix with the same
    spectrum gives |z|."""
    n = 20
    w = np.diag(np.ones(n - 1), -1)
    z = np.array([0.3, 0.6, 0.9])
    s = dv.pseudospectrum(w, z, [0.0])[0]
    assert np.all(s <= z**n * (1 + 1e-9)) and np.all(s < 0.1 * z)  # the normal matrix: |z|


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"w must be a square matrix, got an array of shape \(2, 3\)"):
        dv.pseudospectrum(np.zeros((2, 3)), [0.0], [0.0])


def test_an_experiment_run_records_w_every_k_updates_and_is_kept(tmp_path):
    from nnrnn.train import TrainConfig

    cfg = TrainConfig(task="copy", T=25, hidden_size=8, n_train=96, n_val=32, epochs=1, evals_per_epoch=2)
    run = dv.experiment_run(cfg, 2, root=tmp_path)
    assert run["w_updates"].tolist() == [2, 4, 6] and run["w"].shape == (3, 8, 8) and int(run["n_updates"]) == 6
    assert str(run["status"]) == "finished" and run["update"].tolist() == [0, 3, 6]
    again = dv.experiment_run(cfg, 2, root=tmp_path, cache="require")  # stored with its sidecar, loaded as is
    assert (again["w"] == run["w"]).all() and len(list(tmp_path.rglob("*.json"))) == 1


def test_the_arms_are_the_stated_settings():
    ex = dv.arm_configs("chain (paper's settings)")
    assert [(c.init, c.scale, c.lr, c.seed, c.T, c.clip_norm, c.loss) for c in ex] == \
        [("chain", 1.02, 5e-5, s, None, 10.0, "torch") for s in (1, 2, 3)]
    assert {c.loss for c in dv.arm_configs("chain, Keras's loss")} == {"keras"}
    assert {c.clip_norm for c in dv.arm_configs("chain, clip norm 1")} == {1.0}
    with pytest.raises(ValueError, match="arm must be one of"):
        dv.arm_configs("chain, warm-up")
