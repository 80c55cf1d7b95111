"""nnrnn.memory: the closed forms of the theory, exactly."""


import pytest
import torch

from nnrnn import init, memory


def e0(n):
    return torch.eye(n, dtype=torch.float64)[0]


def unit(n, seed):
    v = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return v / v.norm()


@pytest.mark.parametrize("n", [1, 5, 30])
def test_delay_line_memory_is_harmonic(n):
    j = memory.fisher_memory_curve(init.chain_matrix(n, 1.0), e0(n), k_max=n + 5)
    k = torch.arange(n + 6, dtype=torch.float64)
    expected = torch.where(k < n, 1.0 / (k + 1), torch.zeros_like(k))
    assert torch.allclose(j, expected, atol=1e-12)


@pytest.mark.parametrize("alpha", [0.5, 1.02, 1.5, 2.0])
def test_chain_curve_matches_closed_form(alpha):
    n = 40
    j = memory.fisher_memory_curve(init.chain_matrix(n, alpha), e0(n), k_max=2 * n)
    k = torch.arange(2 * n + 1, dtype=torch.float64)
    closed = torch.tensor(
        [alpha ** (2 * kk) / sum(alpha ** (2 * i) for i in range(kk + 1)) if kk < n else 0.0 for kk in range(2 * n + 1)],
        dtype=torch.float64,
    )
    assert torch.allclose(j, closed, rtol=1e-9, atol=1e-12)
    assert torch.allclose(memory.chain_memory_curve(n, alpha, 2 * n), closed, rtol=1e-12, atol=1e-15)
    assert memory.total_memory(init.chain_matrix(n, alpha), e0(n)) == pytest.approx(float(closed.sum()), rel=1e-9)
    del k


@pytest.mark.parametrize(
    "n, alpha, jtot",
    [(20, 1.0, 3.598), (100, 1.0, 5.187), (100, 1.05, 12.087), (100, 1.5, 56.23), (20, 2.0, 15.316), (100, 2.0, 75.32)],
)
def test_reference_table_of_paper_md(n, alpha, jtot):
    assert memory.total_memory(init.chain_matrix(n, alpha), e0(n)) == pytest.approx(jtot, abs=0.006)


def test_feedback_chain_reference_values():
    assert memory.total_memory(init.fb_chain_matrix(100, 0.04, 1.02), e0(100)) == pytest.approx(8.42, abs=0.006)
    assert memory.total_memory(init.fb_chain_matrix(100, 0.04, 0.99), e0(100)) == pytest.approx(5.35, abs=0.006)


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.9, 0.99])
def test_normal_networks_have_total_memory_one(lam):
    n = 30
    g = torch.Generator().manual_seed(0)
    for w in (init.identity_matrix(n, lam), init.orthogonal_matrix(n, lam, generator=g)):
        assert memory.total_memory(w, unit(n, 1)) == pytest.approx(1.0, abs=1e-8)
    # any normal matrix: a symmetric one with spectral radius < 1
    a = torch.randn(n, n, generator=g, dtype=torch.float64)
    s = (a + a.T) / 2
    s = 0.95 * s / torch.linalg.eigvalsh(s).abs().max()
    assert memory.total_memory(s, unit(n, 2)) == pytest.approx(1.0, abs=1e-8)


def test_normal_curve_closed_form():
    n, lam = 20, 0.9
    q = init.orthogonal_matrix(n, lam, generator=torch.Generator().manual_seed(4))
    j = memory.fisher_memory_curve(q, unit(n, 3), k_max=60)
    assert torch.allclose(j, memory.normal_memory_curve(lam, 60), atol=1e-10)


def test_total_memory_never_exceeds_n():
    g = torch.Generator().manual_seed(5)
    n = 12
    for trial in range(20):
        a = torch.randn(n, n, generator=g, dtype=torch.float64)
        a = torch.tril(a, -1) * 3 if trial % 2 else a  # strongly non-normal half of the time
        rho = torch.linalg.eigvals(a).abs().max().item()
        if rho > 0:
            a = a * (0.97 / rho)
        jt = memory.total_memory(a, unit(n, trial))
        assert 0 < jt <= n + 1e-8
    # the bound is approached by a strong chain
    assert memory.total_memory(init.chain_matrix(n, 20.0), e0(n)) == pytest.approx(n * (1 - 20.0**-2), rel=1e-3)


def test_curve_sums_to_total_memory():
    w = init.fb_chain_matrix(30, 0.04, 1.0)
    j = memory.fisher_memory_curve(w, e0(30), k_max=3000)
    assert float(j.sum()) == pytest.approx(memory.total_memory(w, e0(30)), rel=1e-8)


def test_lyapunov_and_exact_sum_agree_on_contracting_chain():
    w = init.chain_matrix(15, 0.8)
    a = memory.noise_covariance(w, method="exact")
    b = memory.noise_covariance(w, method="lyapunov")
    assert torch.allclose(a, b, rtol=1e-12)
    assert torch.allclose(a, w @ a @ w.T + torch.eye(15, dtype=torch.float64), rtol=1e-12)


def test_signal_norms_transient_amplification():
    n, alpha = 10, 1.2
    s = memory.signal_norms(init.chain_matrix(n, alpha), e0(n), 15)
    assert torch.allclose(s[:n], alpha ** torch.arange(n, dtype=torch.float64))
    assert not s[n:].any()
    q = init.orthogonal_matrix(n, 0.9, generator=torch.Generator().manual_seed(0))
    sq = memory.signal_norms(q, unit(n, 0), 15)
    assert torch.allclose(sq, 0.9 ** torch.arange(16, dtype=torch.float64))  # normal: no growth


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: memory.noise_covariance(torch.eye(3)), r"W must be a matrix of spectral radius below 1 .*, got spectral radius 1$"),
        (lambda: memory.fisher_memory_curve(torch.zeros(3, 4), torch.zeros(3)), r"square matrix, got shape \(3, 4\)"),
        (lambda: memory.fisher_memory_curve(torch.zeros(3, 3), torch.zeros(4)), r"length 3, got shape \(4,\)"),
        (lambda: memory.fisher_memory_curve(torch.zeros(3, 3), torch.zeros(3), k_max=-1), r"got -1"),
        (lambda: memory.noise_covariance(0.5 * torch.eye(2), method="svd"), r"got 'svd'"),
        (lambda: memory.noise_covariance(0.5 * torch.eye(2), method="exact"), r"nilpotent"),
        (lambda: memory.chain_memory_curve(0, 1.0), r"got 0"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- bad inputs (issue 12, item 13)
NAN = float("nan")
I3 = 0.5 * torch.eye(3, dtype=torch.float64)


@pytest.mark.parametrize(
    "call, match",
    [
        # the review's findings: silently accepted, or a raw torch error, or the wrong culprit
        (lambda: memory.chain_memory_curve(5, 1.0, 2.5), r"^k_max must be a non-negative integer, got 2.5$"),
        (lambda: memory.chain_memory_curve(5, 1.0, -1), r"^k_max must be a non-negative integer, got -1$"),
        (lambda: memory.fisher_memory_curve(0.5j * torch.eye(3), e0(3)), r"^W must be a real-valued array, got dtype"),
        (lambda: memory.total_memory(0.5j * torch.eye(3), e0(3)), r"^W must be a real-valued array, got dtype"),
        (lambda: memory.total_memory(I3, torch.tensor([NAN, 0.0, 0.0])), r"^v must be finite, got 1 non-finite entry"),
        (lambda: memory.fisher_memory_curve(I3, torch.tensor([0.0, float("inf"), 0.0])), r"^v must be finite"),
        # more of the same kinds
        (lambda: memory.noise_covariance(I3, 0.0), r"^sigma2 must be > 0.0, got 0.0$"),
        (lambda: memory.noise_covariance(I3, "1"), r"^sigma2 must be a finite number, got '1'$"),
        (lambda: memory.fisher_memory_curve(torch.tensor([[float("inf")]]), [1.0]), r"^W must be finite"),
        (lambda: memory.fisher_memory_curve(I3, e0(3), 3.0), r"^k_max must be a non-negative integer, got 3.0$"),
        (lambda: memory.total_memory(torch.zeros(0, 0), torch.zeros(0)), r"non-empty square matrix, got shape \(0, 0\)"),
        (lambda: memory.total_memory(I3, e0(3), method=1), r"^method must be one of .*, got 1$"),
        (lambda: memory.signal_norms(I3, e0(3), None), r"^k_max must be a non-negative integer, got None$"),
        (lambda: memory.chain_memory_curve(5, 0.0), r"^alpha must be > 0.0, got 0.0$"),
        (lambda: memory.chain_memory_curve(5, NAN), r"^alpha must be a finite number, got nan$"),
        (lambda: memory.normal_memory_curve(NAN, 5), r"^lam must be a finite number, got nan$"),
        (lambda: memory.normal_memory_curve(1.0, 5), r"^lam must be in \(-1.0, 1.0\), got 1.0$"),
        (lambda: memory.normal_memory_curve(0.5, -3), r"^k_max must be a non-negative integer, got -3$"),
        (lambda: memory.is_nilpotent(torch.ones(3)), r"square matrix, got shape \(3,\)"),
        # a nilpotent W whose covariance overflows float64 returned NaN; a contracting one blamed rho
        (lambda: memory.fisher_memory_curve(init.chain_matrix(50, 1e10), e0(50)),
         r"^W must be small enough .* overflows.*, got max \|W_ij\| = 1e\+10$"),
        (lambda: memory.noise_covariance(torch.tensor([[0.5, 1e200], [0.0, 0.5]], dtype=torch.float64)), r"overflows.*got max \|W_ij\| = 1e\+200$"),
    ],
)
def test_bad_inputs_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_large_gain_chain_has_its_closed_form():
    # where the covariance overflows, the closed form still answers (and does not overflow)
    j = memory.chain_memory_curve(50, 1e10)
    assert torch.isfinite(j).all() and j[0] == 1.0 and j[49] == pytest.approx(1.0) and j[50] == 0.0
