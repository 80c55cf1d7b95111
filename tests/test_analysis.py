"""nnrnn.analysis: Henrici's index on known matrices, and the pulse-ordering controls."""

import math

import numpy as np
import pytest
import torch

from nnrnn import analysis, init


@pytest.mark.parametrize("n, alpha", [(10, 1.0), (100, 1.02), (100, 2.0)])
def test_henrici_of_chain_is_alpha_sqrt_n_minus_1(n, alpha):
    assert analysis.henrici(init.chain_matrix(n, alpha)) == pytest.approx(alpha * math.sqrt(n - 1), rel=1e-12)


def test_henrici_zero_for_normal_matrices():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(40, 40, generator=g, dtype=torch.float64)
    for w in (init.identity_matrix(40, 0.9), init.orthogonal_matrix(40, 1.0, generator=g), a + a.T, a - a.T):
        assert analysis.henrici(w) < 1e-6 * max(1.0, float(w.norm()))


@pytest.mark.parametrize("n, beta", [(100, 0.01), (100, 0.04), (100, 0.07), (400, 0.04)])
def test_henrici_feedback_chain_matches_closed_form_eigenvalues(n, beta):
    alpha = 0.99
    w = init.fb_chain_matrix(n, beta, alpha).numpy()
    lam = analysis.fb_chain_eigenvalues(n, beta, alpha)
    exact = math.sqrt(float((w**2).sum() - (lam**2).sum()))
    assert analysis.henrici(w) == pytest.approx(exact, rel=1e-9)
    got = np.sort(np.abs(analysis.eigenvalues(w)))
    assert np.allclose(got, np.sort(np.abs(lam)), atol=1e-8)


def test_naive_eigenvalues_show_the_pitfall():
    # the reason for balancing: LAPACK on the raw matrix reports rho ~ 0.74 instead of 0.398
    w = init.fb_chain_matrix(100, 0.04, 0.99).numpy()
    naive_rho = np.abs(np.linalg.eigvals(w)).max()
    assert naive_rho > 0.6
    assert analysis.henrici_naive(w) < 0.9 * analysis.henrici(w)


def test_balance_preserves_spectrum_of_generic_matrix():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(30, 30)) * np.exp(rng.normal(size=(30, 1)))  # badly scaled rows
    b = analysis.balance(w)
    assert np.allclose(np.sort_complex(np.linalg.eigvals(b)), np.sort_complex(np.linalg.eigvals(w)), atol=1e-8)
    assert np.linalg.norm(b) <= np.linalg.norm(w) + 1e-12
    assert analysis.henrici(w) == pytest.approx(analysis.henrici_naive(w), rel=1e-6)


def test_pulse_ordering_pure_chain_control_is_a_single_spike_at_lag_one():
    n = 50
    lags, prof = analysis.pulse_order_profile(
        init.chain_matrix(n, 1.0), init.source_(torch.empty(n, 1, dtype=torch.float64)), nonlinearity="elu",
        steps=100, generator=torch.Generator().manual_seed(0)
    )
    assert prof[lags == 1][0] == pytest.approx(1.0)
    assert np.abs(prof[lags != 1]).max() == 0.0


def test_pulse_ordering_orthogonal_control_is_flat():
    n = 100
    g = torch.Generator().manual_seed(1)
    q = init.orthogonal_matrix(n, 1.0, generator=g)
    lags, prof = analysis.pulse_order_profile(q, nonlinearity="elu", steps=100, generator=g)
    near = np.abs(lags) <= 10
    # mean weights near zero lag stay tiny compared with the chain's spike of 1
    assert np.abs(prof[near & (lags != 0)]).max() < 0.2


def test_peak_order_determinism_and_jitter():
    resp = torch.zeros(5, 6)  # every unit silent: the order is decided by jitter alone
    a = analysis.peak_order(resp, generator=torch.Generator().manual_seed(3))
    b = analysis.peak_order(resp, generator=torch.Generator().manual_seed(3))
    c = analysis.peak_order(resp, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert sorted(a.tolist()) == list(range(6))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: analysis.henrici(np.zeros((2, 3))), r"square matrix, got shape \(2, 3\)"),
        (lambda: analysis.pulse_response(np.eye(3), nonlinearity="gelu"), r"got 'gelu'"),
        (lambda: analysis.pulse_response(np.eye(3), channel=5), r"channel must be in \[0, 3\), got 5"),
        (lambda: analysis.order_profile(np.eye(3), [0, 0, 1]), r"permutation of range\(3\)"),
        (lambda: analysis.peak_order(torch.zeros(3, 3), jitter=-1.0), r"got -1.0"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
