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
    lags, prof = analysis.pulse_diagonal_means(
        init.chain_matrix(n, 1.0), init.source_(torch.empty(n, 1, dtype=torch.float64)), nonlinearity="elu",
        steps=100, generator=torch.Generator().manual_seed(0)
    )
    assert prof[lags == 1][0] == pytest.approx(1.0)
    assert np.abs(prof[lags != 1]).max() == 0.0


def test_pulse_ordering_orthogonal_control_is_flat():
    n = 100
    g = torch.Generator().manual_seed(1)
    q = init.orthogonal_matrix(n, 1.0, generator=g)
    lags, prof = analysis.pulse_diagonal_means(q, nonlinearity="elu", steps=100, generator=g)
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
        (lambda: analysis.diagonal_means(np.eye(3), [0, 0, 1]), r"permutation of range\(3\)"),
        (lambda: analysis.peak_order(torch.zeros(3, 3), jitter=-1.0), r"got -1.0"),
        # issue 12 item 13: these returned NaN
        (lambda: analysis.fb_chain_eigenvalues(5, 0.04, float("nan")), r"^alpha must be a finite number, got nan$"),
        (lambda: analysis.fb_chain_eigenvalues(5, float("inf")), r"^beta must be a finite number, got inf$"),
        (lambda: analysis.pulse_response(np.eye(3), amplitude=float("nan")), r"^amplitude must be a finite number, got nan$"),
        (lambda: analysis.pulse_response(np.eye(3), amplitude=float("nan"), subtract_free=True), r"^amplitude must be a finite"),
        # more bad inputs
        (lambda: analysis.henrici(np.eye(3) * (1 + 1j)), r"^W must be a real-valued array, got dtype complex128$"),
        (lambda: analysis.henrici([[1.0, 2.0], [3.0]]), r"^W must be a real-valued array, got list$"),
        (lambda: analysis.eigenvalues(np.full((2, 2), np.nan)), r"^W must be finite, got 4 non-finite entries"),
        (lambda: analysis.balance(np.eye(3), max_iter=-1), r"^max_iter must be a non-negative integer, got -1$"),
        (lambda: analysis.fb_chain_eigenvalues(5, -0.04, 0.99), r"^alpha \* beta must be non-negative"),
        (lambda: analysis.pulse_response(np.eye(3), channel=1.5), r"^channel must be a non-negative integer, got 1.5$"),
        (lambda: analysis.pulse_response(np.eye(3), bias=np.ones(2)), r"^bias must be a vector of length 3, got shape \(2,\)$"),
        (lambda: analysis.pulse_response(np.eye(3), bias=[np.nan, 0, 0]), r"^bias must be finite"),
        (lambda: analysis.pulse_response(np.eye(3), np.ones((2, 1))), r"^weight_ih must be of shape \(3, d\), got shape \(2, 1\)$"),
        (lambda: analysis.pulse_response(np.eye(3), steps=-1), r"^steps must be a non-negative integer, got -1$"),
        (lambda: analysis.peak_order(torch.zeros(5)), r"^response must be a 2-D array, got shape \(5,\)$"),
        (lambda: analysis.diagonal_means(np.eye(3), [0.2, 1.7, 2.1]), r"^order must be a permutation of range\(3\) \(integers\), got \[0.2"),
        (lambda: analysis.diagonal_means(np.eye(3), [[0, 1, 2]]), r"^order must be a permutation"),
        (lambda: analysis.henrici_noise_floor(np.eye(3), torch.int32), r"^dtype must be one of .*, got torch.int32$"),
        (lambda: analysis.exceeds_noise_floor(np.eye(3), -1.0), r"^d must be >= 0.0, got -1.0$"),
        (lambda: analysis.evoked_response(lambda x: [0], 1, steps=2), r"^run\(pulse\) must be a tensor of shape \(3, N\), got list$"),
        (lambda: analysis.evoked_response(lambda x: x, 2, channel=2), r"^channel must be in \[0, 2\), got 2$"),
        (lambda: analysis.henrici(np.eye(3), balance="no"), r"^balance must be True or False, got 'no'$"),
        (lambda: analysis.eigenvalues(np.eye(3), balance=0), r"^balance must be True or False, got 0$"),
        (lambda: analysis.pulse_response(np.eye(3), subtract_free="yes"), r"^subtract_free must be True or False, got 'yes'$"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- scale (issue 12, item 13)
@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-20, 3.0, 1e20, 1e200, 1e300])
def test_henrici_is_scale_equivariant_far_from_one(scale):
    """Entries of 1e200 overflowed w**2 (NaN); of 1e-200 underflowed (0). W is scaled by a power of two first."""
    g = torch.Generator().manual_seed(0)
    for w in (init.chain_matrix(10, 1.0), init.fb_chain_matrix(60, 0.04, 0.99), torch.randn(8, 8, generator=g, dtype=torch.float64)):
        w = w.numpy()
        d = analysis.henrici(w)
        assert analysis.henrici(w * scale) == pytest.approx(d * scale, rel=1e-9)
        if w.shape[0] == 8:  # naive eigenvalues are well-conditioned only for the random matrix
            assert analysis.henrici_naive(w * scale) == pytest.approx(analysis.henrici_naive(w) * scale, rel=1e-6)
        lam = np.sort(np.abs(analysis.eigenvalues(w * scale)))
        assert np.allclose(lam, np.sort(np.abs(analysis.eigenvalues(w))) * scale, rtol=1e-9, atol=1e-12 * scale)
    assert analysis.henrici(np.zeros((3, 3))) == 0.0


# ----------------------------------------------------------------------------- noise floor (issue 12, item 4)
def _normal_matrices(n, g):
    a = torch.randn(n, n, generator=g, dtype=torch.float64)
    q = init.orthogonal_matrix(n, 1.0, generator=g)
    lam = torch.randn(n, generator=g, dtype=torch.float64)
    return {"orthogonal": 1.7 * q, "symmetric": a + a.T, "skew": a - a.T, "identity": init.identity_matrix(n, 0.9),
            "q diag q^T": q @ torch.diag(lam) @ q.T, "orthogonal 1e5": 1e5 * q}


@pytest.mark.parametrize("n", [2, 3, 5, 10, 30, 100, 250])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_normal_matrices_stay_below_the_noise_floor(n, dtype):
    """Rounded to dtype and analysed in float64, a normal matrix never exceeds half the floor
    (the docstring's claim); the float32 floor is what ch. 08 compares trained networks with."""
    g = torch.Generator().manual_seed(n)
    for rep in range(3 if n <= 30 else 1):
        for name, w in _normal_matrices(n, g).items():
            w = w.to(dtype)
            d, floor = analysis.henrici(w), analysis.henrici_noise_floor(w, dtype)
            assert d <= 0.5 * floor, (name, d, floor)
            assert not analysis.exceeds_noise_floor(w, dtype=dtype)


@pytest.mark.parametrize("n", [3, 25, 100])
def test_departures_above_the_floor_are_detected(n):
    """A non-normal part three times the floor (an exact d) is always seen, far below 1."""
    g = torch.Generator().manual_seed(1)
    q = init.orthogonal_matrix(n, 1.0, generator=g)
    lam = torch.rand(n, generator=g, dtype=torch.float64) + 0.5
    upper = torch.triu(torch.randn(n, n, generator=g, dtype=torch.float64), 1)
    floor = analysis.henrici_noise_floor(q @ torch.diag(lam) @ q.T)
    eps = 3 * floor / float(upper.norm())
    w = q @ (torch.diag(lam) + eps * upper) @ q.T  # Schur form known: d(W) = eps * ||upper||_F = 3 floor
    assert analysis.henrici(w) == pytest.approx(3 * floor, rel=0.2)
    assert analysis.exceeds_noise_floor(w.float())
    assert floor < 1e-4  # still far below the d ~ 1 of trained networks (Table 2)


def test_noise_floor_is_the_fix_for_the_ch08_check():
    """d of a float32 orthogonal matrix is positive (so 'd > 0' passed on rounding alone) but
    below the floor; a 1e-6 perturbation per entry is well above it."""
    q = init.orthogonal_matrix(100, 1.0, generator=torch.Generator().manual_seed(5)).float()
    assert not analysis.exceeds_noise_floor(q)
    g = torch.Generator().manual_seed(6)
    w = q + 1e-6 * torch.randn(100, 100, generator=g)
    assert analysis.exceeds_noise_floor(w)
    floor = analysis.henrici_noise_floor(q)
    assert analysis.henrici_noise_floor(3.0 * q) == pytest.approx(3.0 * floor)  # scales with ||W||_F
    assert analysis.henrici_noise_floor(q, torch.float64) < floor  # float64 storage: only the computation
    assert analysis.exceeds_noise_floor(q, d=2 * floor) and not analysis.exceeds_noise_floor(q, d=floor)


# ----------------------------------------------------------------------------- Fig. 5 ordering (issue 12, item 2)
def _biased_chain(n=20, seed=0):
    w = init.chain_matrix(n, 1.0)
    u = init.source_(torch.empty(n, 1, dtype=torch.float64))
    b = 0.5 * torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return w, u, b


@pytest.mark.parametrize("nonlinearity", ["linear", "elu", "tanh"])
def test_subtracting_the_free_run_removes_bias_drift(nonlinearity):
    """In a chain the pulse reaches unit k at step k and nowhere else, whatever the biases, so
    the evoked order is the chain order; the raw state, drifting with the biases, is not."""
    w, u, b = _biased_chain()
    gen = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    lags, evoked = analysis.pulse_diagonal_means(w, u, b, nonlinearity=nonlinearity, steps=40, generator=gen())
    assert evoked[lags == 1][0] == 1.0 and np.abs(evoked[lags != 1]).max() == 0.0
    lags, raw = analysis.pulse_diagonal_means(w, u, b, nonlinearity=nonlinearity, steps=40, subtract_free=False,
                                              generator=gen())
    assert raw[lags == 1][0] < 0.9 or np.abs(raw[lags != 1]).max() > 0.0
    # without biases the two procedures order a chain alike
    lags, raw0 = analysis.pulse_diagonal_means(w, u, None, nonlinearity=nonlinearity, steps=40, subtract_free=False,
                                               generator=gen())
    assert raw0[lags == 1][0] == 1.0


def test_evoked_response_is_bias_free_for_linear_networks():
    g = torch.Generator().manual_seed(2)
    q = init.orthogonal_matrix(30, 0.9, generator=g)
    u = torch.randn(30, 2, generator=g, dtype=torch.float64)
    b = torch.randn(30, generator=g, dtype=torch.float64)
    with_b = analysis.pulse_response(q, u, b, nonlinearity="linear", steps=25, channel=1, subtract_free=True)
    without = analysis.pulse_response(q, u, None, nonlinearity="linear", steps=25, channel=1)
    torch.testing.assert_close(with_b, without.abs(), rtol=0, atol=1e-12)
    raw = analysis.pulse_response(q, u, b, nonlinearity="linear", steps=25, channel=1)
    assert not torch.equal(raw.argmax(0), with_b.argmax(0))  # the raw state peaks where the bias drives it


@pytest.mark.parametrize("nonlinearity", ["elu", "relu"])
def test_no_pulse_control(nonlinearity):
    """The control: amplitude 0. The evoked procedure then has nothing to order by (the order is
    the tie-break alone, a random permutation), whereas the raw procedure still orders ~40-60 %
    of the units of a biased orthogonal network exactly as with the pulse (the review's finding):
    the raw order was the biases', not the pulse's."""
    g = torch.Generator().manual_seed(3)
    n = 100
    q = init.orthogonal_matrix(n, 1.0, generator=g)
    u = init.scaled_normal_(torch.empty(n, 1, dtype=torch.float64), generator=g)
    b = 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
    kw = dict(nonlinearity=nonlinearity, steps=100)
    raw_on = analysis.pulse_response(q, u, b, **kw).argmax(0)
    raw_off = analysis.pulse_response(q, u, b, amplitude=0.0, **kw).argmax(0)
    assert (raw_on == raw_off).double().mean() > 0.25
    assert not analysis.pulse_response(q, u, b, amplitude=0.0, subtract_free=True, **kw).any()
    # the control's profile is that of the tie-break permutation alone
    lags, ctrl = analysis.pulse_diagonal_means(q, u, b, amplitude=0.0, generator=torch.Generator().manual_seed(4), **kw)
    perm = torch.argsort(torch.rand(n, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 1e-3, stable=True)
    np.testing.assert_array_equal(ctrl, analysis.diagonal_means(q, perm)[1])
    # on a chain the pulse finds the spike of 1 at lag 1; the control does not
    w, uc, bc = _biased_chain(n)
    bc = bc.abs()  # relu passes the pulse on only where the pre-activation stays positive
    lags, on = analysis.pulse_diagonal_means(w, uc, bc, generator=torch.Generator().manual_seed(4), **kw)
    lags, off = analysis.pulse_diagonal_means(w, uc, bc, amplitude=0.0, generator=torch.Generator().manual_seed(4), **kw)
    assert on[lags == 1][0] == 1.0 and off[lags == 1][0] < 0.2


def test_evoked_response_serves_an_lstm():
    """One procedure for both network types: the LSTM analysis passes its layer as ``run``."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 5, dtype=torch.float64)

    def run(x):
        return lstm(x[:, None])[0][:, 0]

    resp = analysis.evoked_response(run, 3, steps=10, channel=2, amplitude=0.5)
    x = torch.zeros(11, 1, 3, dtype=torch.float64)
    x[0, 0, 2] = 0.5
    want = (lstm(x)[0] - lstm(torch.zeros_like(x))[0])[:, 0].abs()
    torch.testing.assert_close(resp, want.detach(), rtol=0, atol=0)
    assert resp.shape == (11, 5) and resp[0].abs().sum() > 0
