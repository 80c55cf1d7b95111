"""Tests for nnrnn.decoding: the Eq. 5 / Fig. 2 linear-decoding experiment."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnrnn import decoding
from nnrnn.decoding import (
    chain_nonlinear_r2,
    decoding_curve,
    fit_readout,
    linear_decoding_r2,
    network,
    r2_score,
    run_fig2,
    sample_signal,
    simulate,
)
from nnrnn.init import chain_matrix
from nnrnn.memory import chain_memory_curve


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small float64 kernels run faster on one thread than on two contended ones."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- networks
def test_network_pairs_follow_the_paper():
    w, v = network("chain", 6, alpha=1.05)
    assert torch.equal(w, chain_matrix(6, 1.05))
    assert v.tolist() == [1.0, 0, 0, 0, 0, 0]
    w, v = network("identity", 5, lam=0.9)
    assert torch.allclose(w, 0.9 * torch.eye(5, dtype=torch.float64))
    assert v.tolist() == [1.0] * 5
    w, v = network("orthogonal", 8, lam=0.9, generator=gen())
    assert torch.allclose(w @ w.T, 0.81 * torch.eye(8, dtype=torch.float64), atol=1e-12)
    assert abs(float(v.norm()) - 1.0) < 1e-12
    w, v = network("fb_chain", 5, beta=0.04, fb_alpha=0.99)
    assert float(w[1, 0]) == 0.99 and float(w[0, 1]) == 0.04 and v[0] == 1.0


def test_simulate_chain_holds_one_input_per_unit():
    w, v = network("chain", 5)
    s = sample_signal(7, 5, generator=gen(1))
    h = simulate(w, v, s)
    assert torch.allclose(h, s.flip(1))  # unit k holds s_{T-k}
    h_elu = simulate(w, v, s, nonlinearity="elu")
    g = s.flip(1).clone()
    for k in range(5):  # unit k went through the nonlinearity k + 1 times
        for _ in range(k + 1):
            g[:, k] = torch.nn.functional.elu(g[:, k])
    assert torch.allclose(h_elu, g)


def test_simulate_return_sequence_ends_in_final_state():
    w, v = network("orthogonal", 6, generator=gen(2))
    s = sample_signal(3, 4, generator=gen(3))
    seq = simulate(w, v, s, nonlinearity="tanh", return_sequence=True)
    assert seq.shape == (3, 4, 6)
    assert torch.allclose(seq[:, -1], simulate(w, v, s, nonlinearity="tanh"))


# ----------------------------------------------------------------------------- readout
def test_fit_readout_recovers_linear_map_and_ridge_shrinks():
    x = torch.randn(200, 3, generator=gen(4), dtype=torch.float64)
    b_true = torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64)
    y = x @ b_true + 3.0
    b, c = fit_readout(x, y)
    assert torch.allclose(b, b_true) and torch.allclose(c, torch.tensor([3.0], dtype=torch.float64))
    b_ridge, _ = fit_readout(x, y, ridge=1.0)
    assert b_ridge.norm() < b.norm()
    assert torch.allclose(r2_score(y, x @ b + c), torch.ones(1, dtype=torch.float64))


# ----------------------------------------------------------------------------- the paper's claims
def test_linear_noiseless_chain_recovers_inputs_exactly():
    w, v = network("chain", 20)
    r2 = decoding_curve(w, v, n_train=200, n_test=100, generator=gen(5))
    assert r2.shape == (20,)
    assert (r2 > 1 - 1e-8).all()
    # ... also when simulated step by step, and s_{T-k} for k >= N is gone
    r2 = decoding_curve(w, v, steps=25, n_train=200, n_test=100, linear_shortcut=False, generator=gen(5))
    assert (r2[:20] > 1 - 1e-8).all() and (r2[20:] < 0.1).all()


def test_linear_noiseless_orthogonal_is_also_exact():
    w, v = network("orthogonal", 20, lam=1.0, generator=gen(6))
    r2 = decoding_curve(w, v, n_train=200, n_test=100, generator=gen(7))
    assert (r2 > 1 - 1e-6).all()


def test_noise_lowers_r2_and_matches_theory():
    w, v = network("chain", 20)
    clean = decoding_curve(w, v, n_train=3000, n_test=2000, generator=gen(8))
    noisy = decoding_curve(w, v, noise=1.0, n_train=3000, n_test=2000, generator=gen(8))
    assert (noisy < clean - 0.3).all()
    theory = linear_decoding_r2(w, v, noise=1.0)
    k = torch.arange(20, dtype=torch.float64)
    assert torch.allclose(theory, 1 / (k + 2), atol=1e-12)  # SNR/(1+SNR), SNR = J(k) = 1/(k+1)
    assert (noisy - theory).abs().max() < 0.06


def test_shortcut_and_simulation_agree_in_distribution():
    w, v = network("orthogonal", 15, lam=0.9, generator=gen(9))
    fast = decoding_curve(w, v, noise=1.0, n_train=3000, n_test=2000, generator=gen(10))
    slow = decoding_curve(w, v, noise=1.0, n_train=3000, n_test=2000, linear_shortcut=False, generator=gen(11))
    assert (fast - slow).abs().max() < 0.06
    theory = linear_decoding_r2(w, v, noise=1.0)
    assert (slow - theory).abs().max() < 0.06


def test_linear_decoding_r2_chain_general_alpha_matches_fisher_memory():
    alpha = 1.05
    w, v = network("chain", 12, alpha=alpha)
    j = chain_memory_curve(12, alpha, 11)
    for sigma, sig_s in [(1.0, 1.0), (0.5, 2.0)]:
        snr = sig_s**2 * j / sigma**2
        r2 = linear_decoding_r2(w, v, noise=sigma, signal_std=sig_s)
        assert torch.allclose(r2, snr / (1 + snr), atol=1e-10)


@pytest.mark.parametrize("setting", ["noisy", "elu"])
def test_chain_beats_orthogonal(setting):
    """The paper's Fig. 2b-c: under noise and under elu the chain keeps more decodable memory."""
    nonlin, noisy = decoding.SETTINGS[setting]
    g = gen(12)
    r2 = {}
    for name in ("chain", "orthogonal"):
        w, v = network(name, 50, lam=0.9, generator=g)
        r2[name] = decoding_curve(
            w, v, nonlinearity=nonlin, noise=1.0 if noisy else 0.0, n_train=1000, n_test=500, generator=g
        )
    if setting == "noisy":  # short lags: chain ~ 1/(k+2); orthogonal far lower
        assert r2["chain"][:10].mean() > r2["orthogonal"][:10].mean() + 0.08
    else:  # moderate-to-long lags: chain ~ 0.74; orthogonal has lost them
        assert r2["chain"][25:].mean() > 0.65
        assert r2["orthogonal"][25:].mean() < 0.1


def test_elu_chain_matches_single_unit_theory():
    w, v = network("chain", 30)
    r2 = decoding_curve(w, v, nonlinearity="elu", n_train=4000, n_test=3000, generator=gen(13))
    theory = chain_nonlinear_r2(30, nonlinearity="elu")
    assert (r2 - theory).abs().max() < 0.05
    assert 0.73 < float(theory[-1]) < float(theory[0]) < 0.95


def test_chain_nonlinear_r2_linear_and_relu_limits():
    lin = chain_nonlinear_r2(4, 6, nonlinearity="linear")
    assert torch.allclose(lin, torch.tensor([1.0] * 4 + [0.0] * 2, dtype=torch.float64), atol=1e-12)
    relu = chain_nonlinear_r2(3, nonlinearity="relu")
    assert torch.allclose(relu, torch.full((3,), np.pi / (2 * np.pi - 2), dtype=torch.float64), atol=1e-6)


def test_identity_with_all_ones_input_is_one_dimensional():
    w, v = network("identity", 10, lam=0.9)
    r2 = decoding_curve(w, v, n_train=500, n_test=500, generator=gen(14))  # rank-1 features
    theory = linear_decoding_r2(w, v)
    lam2 = 0.81
    expected = lam2 ** torch.arange(10) * (1 - lam2) / (1 - lam2**10)
    assert torch.allclose(theory, expected.to(torch.float64), atol=1e-10)
    assert (r2 - theory).abs().max() < 0.08


# ----------------------------------------------------------------------------- run_fig2
def test_run_fig2_keys_shapes_and_determinism():
    kw = dict(networks=("chain", "orthogonal"), settings=("linear", "elu"), n_train=60, n_test=30, repeats=2)
    a = run_fig2(10, generator=gen(15), **kw)
    b = run_fig2(10, generator=gen(15), **kw)
    c = run_fig2(10, generator=gen(16), **kw)
    assert set(a) == {
        "lags", "r2_linear_chain", "r2_elu_chain", "r2_linear_orthogonal", "r2_elu_orthogonal",
        "theory_linear_chain", "theory_elu_chain", "theory_linear_orthogonal",
    }
    assert a["r2_elu_chain"].shape == (2, 10) and a["lags"].tolist() == list(range(10))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["r2_elu_orthogonal"], c["r2_elu_orthogonal"])


def test_equal_generators_give_identical_curves():
    w, v = network("orthogonal", 12, generator=gen(17))
    for kw in ({"noise": 1.0}, {"noise": 1.0, "linear_shortcut": False}, {"nonlinearity": "elu"}):
        r1 = decoding_curve(w, v, n_train=50, n_test=20, generator=gen(18), **kw)
        r2 = decoding_curve(w, v, n_train=50, n_test=20, generator=gen(18), **kw)
        assert torch.equal(r1, r2)


def test_global_rng_untouched():
    state = torch.get_rng_state()
    run_fig2(6, networks=("orthogonal",), settings=("noisy",), n_train=20, n_test=10, generator=gen(19))
    assert torch.equal(state, torch.get_rng_state())


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: network("xavier", 5), r"name must be one of \['chain', 'fb_chain', 'orthogonal', 'identity'\], got 'xavier'"),
        (lambda: network("chain", 0), "n must be a positive integer, got 0"),
        (lambda: network("chain", 4, alpha=float("nan")), "alpha must be a finite number, got nan"),
        (lambda: simulate(torch.eye(3), torch.ones(3), torch.zeros(2, 4), nonlinearity="softplus"),
         "nonlinearity must be one of .* got 'softplus'"),
        (lambda: simulate(torch.eye(3), torch.ones(4), torch.zeros(2, 4)), r"v must be a vector of length 3, got shape \(4,\)"),
        (lambda: simulate(torch.ones(3, 2), torch.ones(3), torch.zeros(2, 4)), r"square matrix, got shape \(3, 2\)"),
        (lambda: simulate(torch.eye(3), torch.ones(3), torch.zeros(4)), r"signal must be a 2-D array, got shape \(4,\)"),
        (lambda: simulate(torch.eye(3), torch.ones(3), torch.zeros(2, 0)), r"signal must be non-empty, got shape \(2, 0\)"),
        (lambda: simulate(torch.eye(3), torch.ones(3), torch.zeros(2, 4), noise=-1.0), "noise must be >= 0.0, got -1.0"),
        (lambda: decoding_curve(torch.eye(3), torch.ones(3), n_train=1), "at least 2, got 1"),
        (lambda: decoding_curve(torch.eye(3), torch.ones(3), n_test=0), "n_test must be a positive integer, got 0"),
        (lambda: decoding_curve(torch.eye(3), torch.ones(3), steps=2.5), "steps must be a positive integer, got 2.5"),
        (lambda: sample_signal(2, 3, signal_std=0.0), "signal_std must be > 0.0, got 0.0"),
        (lambda: fit_readout(torch.zeros(5, 2), torch.zeros(4, 1)), r"got \(5, 2\) and \(4, 1\)"),
        (lambda: fit_readout(torch.zeros(5, 2), torch.zeros(5, 1), ridge=-0.1), "ridge must be >= 0.0, got -0.1"),
        (lambda: r2_score(torch.zeros(5, 2), torch.zeros(5, 3)), "same shape"),
        (lambda: run_fig2(5, settings=("dropout",)), r"setting must be one of \['linear', 'noisy', 'elu'\], got 'dropout'"),
        (lambda: run_fig2(5, repeats=0), "repeats must be a positive integer, got 0"),
        (lambda: chain_nonlinear_r2(5, grid=2), "grid must be at least 3, got 2"),
    ],
)
def test_errors_name_the_received_value(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- more bad inputs (issue 12, item 13)
NAN = float("nan")
E0 = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: simulate(1j * torch.eye(3), E0, torch.zeros(2, 3)), r"^w must be a real-valued array, got dtype torch.complex"),
        (lambda: simulate(torch.eye(3), E0, torch.tensor([[NAN, 0.0]])), r"^signal must be finite, got 1 non-finite entry"),
        (lambda: simulate(torch.eye(3), torch.tensor([NAN, 0.0, 0.0]), torch.zeros(1, 2)), r"^v must be finite"),
        (lambda: fit_readout(torch.tensor([[NAN], [1.0], [2.0]]), torch.zeros(3)), r"^x must be finite"),
        (lambda: fit_readout(torch.zeros(4, 0), torch.zeros(4)), r"^x and y must be of shapes .*, got \(4, 0\) and \(4, 1\)"),
        (lambda: r2_score(torch.ones(5), torch.zeros(5)), r"^y must be non-constant in every column .*, got constant column\(s\) \[0\]"),
        (lambda: r2_score(torch.arange(4.0), torch.arange(4.0)[None, :]), r"^y and y_hat must be of the same shape"),
        (lambda: r2_score(torch.tensor([1.0, NAN]), torch.zeros(2)), r"^y must be finite"),
        (lambda: sample_signal(-1, 3), r"^batch must be a positive integer, got -1$"),
        (lambda: network("identity", 3, lam=float("inf")), r"^lam must be a finite number, got inf$"),
        (lambda: linear_decoding_r2(torch.eye(3), E0, noise=NAN), r"^noise must be a finite number, got nan$"),
        (lambda: chain_nonlinear_r2(5, nonlinearity="gelu"), r"^nonlinearity must be one of \['linear', 'elu', 'relu', 'tanh'\], got 'gelu'$"),
        (lambda: run_fig2(4, networks="chain"), r"^networks and settings must be non-empty sequences of names, got 'chain'"),
        (lambda: run_fig2(4, n_train=1), r"^n_train and n_test must be at least 2, got 1 and 2000$"),
        (lambda: run_fig2(4, ridge=-1.0), r"^ridge must be >= 0.0, got -1.0$"),
        (lambda: run_fig2(4, lam=NAN), r"^lam must be a finite number, got nan$"),
        (lambda: simulate(torch.eye(3), E0, torch.zeros(1, 2), return_sequence="yes"), r"^return_sequence must be True or False"),
        (lambda: decoding_curve(torch.eye(3), E0, linear_shortcut="no"), r"^linear_shortcut must be True or False, got 'no'$"),
    ],
)
def test_more_bad_inputs_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
