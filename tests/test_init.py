"""nnrnn.init: orientation, closed forms, determinism, errors."""

import math

import pytest
import torch

from nnrnn import init


def test_chain_is_subdiagonal_and_impulse_travels_from_source():
    n = 8
    w = init.chain_(torch.empty(n, n), alpha=1.0)
    assert torch.equal(w, torch.diag(torch.ones(n - 1), -1))
    u = init.source_(torch.empty(n, 1))
    h = torch.zeros(n)
    for k in range(n):
        h = w @ h + (u[:, 0] if k == 0 else 0)  # linear network, impulse at t = 0
        assert h.argmax().item() == k and h[k].item() == pytest.approx(0.9)
        assert torch.count_nonzero(h) == 1


def test_reversed_orientation_runs_backwards():
    w = init.chain_matrix(5, 1.0, orientation="reversed")
    assert torch.equal(w, torch.diag(torch.ones(4, dtype=torch.float64), 1))
    h = torch.zeros(5, dtype=torch.float64)
    h[0] = 1.0
    assert not (w @ h).any()  # an input at unit 0 goes nowhere: unit 0 is the chain's sink


def test_fb_chain_bands():
    w = init.fb_chain_matrix(6, beta=0.05, alpha=0.99)
    assert torch.allclose(torch.diagonal(w, -1), torch.full((5,), 0.99, dtype=torch.float64))
    assert torch.allclose(torch.diagonal(w, 1), torch.full((5,), 0.05, dtype=torch.float64))
    assert torch.count_nonzero(w) == 10


def test_identity_and_inplace_semantics():
    w = torch.empty(4, 4, dtype=torch.float64)
    out = init.identity_(w, 0.5)
    assert out is w and torch.equal(w, 0.5 * torch.eye(4, dtype=torch.float64))
    p = torch.nn.Parameter(torch.empty(3, 3))
    assert init.chain_(p, 2.0) is p and p.requires_grad


@pytest.mark.parametrize("group", ["O", "SO"])
def test_orthogonal_is_orthogonal_and_scaled(group):
    g = torch.Generator().manual_seed(1)
    w = init.orthogonal_(torch.empty(50, 50, dtype=torch.float64), 0.9, group=group, generator=g)
    assert torch.allclose(w @ w.T, 0.81 * torch.eye(50, dtype=torch.float64), atol=1e-12)
    if group == "SO":
        assert torch.linalg.det(w / 0.9).item() == pytest.approx(1.0)


def test_orthogonal_haar_sign_fix_gives_unbiased_diagonal():
    # without the sign fix, QR of a Gaussian matrix has a positively biased diagonal
    g = torch.Generator().manual_seed(0)
    diag = torch.stack([torch.diagonal(init.orthogonal_matrix(4, generator=g)) for _ in range(400)])
    assert abs(diag.mean().item()) < 0.05


@pytest.mark.parametrize(
    "fill",
    [
        lambda t, g: init.orthogonal_(t, generator=g),
        lambda t, g: init.scaled_normal_(t, generator=g),
        lambda t, g: init.plain_(t, generator=g),
    ],
)
def test_equal_generators_give_identical_tensors(fill):
    a = fill(torch.empty(20, 20), torch.Generator().manual_seed(7))
    b = fill(torch.empty(20, 20), torch.Generator().manual_seed(7))
    c = fill(torch.empty(20, 20), torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_lstm_random_schemes_deterministic():
    for scheme in ("orthogonal", "plain"):
        a = init.lstm_(torch.empty(16, 4), scheme, weight_ih=torch.empty(16, 3), generator=torch.Generator().manual_seed(3))
        b = init.lstm_(torch.empty(16, 4), scheme, weight_ih=torch.empty(16, 3), generator=torch.Generator().manual_seed(3))
        assert torch.equal(a, b)


def test_scaled_normal_std():
    g = torch.Generator().manual_seed(0)
    u = init.scaled_normal_(torch.empty(400, 250, dtype=torch.float64), generator=g)
    assert u.std().item() == pytest.approx(0.9 / math.sqrt(400), rel=0.01)


def test_source_injects_each_channel_into_its_unit():
    u = init.source_(torch.empty(5, 3), gain=0.9)
    assert torch.allclose(u, 0.9 * torch.eye(5, 3))


def test_ramp_antisymmetric_and_aligned_with_chain():
    n = 6
    r = init.ramp_matrix(n, 0.01)
    assert torch.allclose(r, -r.T)
    assert r[n - 1, 0].item() == pytest.approx(0.01) and r[0, n - 1].item() == pytest.approx(-0.01)
    chain = init.chain_matrix(n, 1.0)
    # forward links of the chain (i = j + 1) all get positive ramp weight
    assert (r[chain != 0] > 0).all()


def test_mixed_lstm_puts_chain_in_g_and_ramp_elsewhere():
    n = 5
    w = init.lstm_(torch.empty(4 * n, n), "mixed", weight_ih=torch.empty(4 * n, 2))
    blocks = dict(zip(init.LSTM_GATES, w.split(n)))
    assert torch.allclose(blocks["g"], init.chain_matrix(n, 1.02).float())
    for gate in "ifo":
        assert torch.allclose(blocks[gate], init.ramp_matrix(n, 0.01).float())


@pytest.mark.parametrize("scheme", ["chain", "fb_chain"])
def test_lstm_chain_schemes_fill_every_gate(scheme):
    n = 4
    ih = torch.empty(4 * n, 3)
    w = init.lstm_(torch.empty(4 * n, n), scheme, weight_ih=ih)
    ref = init.chain_matrix(n, 1.02) if scheme == "chain" else init.fb_chain_matrix(n, 0.04)
    for block, u in zip(w.split(n), ih.split(n)):
        assert torch.allclose(block, ref.float())
        assert torch.allclose(u, 0.9 * torch.eye(n, 3))


def test_lstm_fb_chain_takes_its_forward_gain():
    n = 5
    w = init.lstm_(torch.empty(4 * n, n), "fb_chain", beta=0.06, fb_alpha=0.9)
    for block in w.split(n):
        assert torch.allclose(block, init.fb_chain_matrix(n, 0.06, 0.9).float())
    # the default stays the authors' 0.99, and equals filling each gate block by hand (bit for bit)
    ref = torch.empty(4 * n, n)
    for block in ref.split(n):
        init.fb_chain_(block, 0.06, 0.99)
    assert torch.equal(init.lstm_(torch.empty(4 * n, n), "fb_chain", beta=0.06), ref)


def test_registry_and_init_rnn():
    rnn = torch.nn.RNN(2, 6)
    init.init_rnn_(rnn.weight_hh_l0, rnn.weight_ih_l0, "fb_chain", 0.03)
    assert rnn.weight_hh_l0[0, 1].item() == pytest.approx(0.03)
    assert rnn.weight_hh_l0[1, 0].item() == pytest.approx(0.99)
    assert sorted(init.INITIALIZERS) == ["chain", "fb_chain", "identity", "orthogonal"]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: init.chain_(torch.empty(3, 5)), r"w must be a non-empty square 2-D real floating-point tensor, got shape \(3, 5\)"),
        (lambda: init.identity_(torch.empty(4)), r"got shape \(4,\)"),
        (lambda: init.orthogonal_(torch.empty(3, 3), group="U"), r"group must be one of \['O', 'SO'\], got 'U'"),
        (lambda: init.chain_(torch.empty(3, 3), orientation="up"), r"orientation must be one of .* got 'up'"),
        (lambda: init.chain_(torch.empty(3, 3), alpha=float("nan")), r"alpha must be a finite number, got nan"),
        (lambda: init.get("xavier"), r"unknown initializer 'xavier'; expected one of \['chain'"),
        (lambda: init.chain_matrix(-2), r"n must be a positive integer, got -2"),
        (lambda: init.lstm_(torch.empty(10, 4), "mixed"), r"\(4N, N\), got \(10, 4\)"),
        (lambda: init.lstm_(torch.empty(16, 4), "banana"), r"unknown LSTM scheme 'banana'"),
        (lambda: init.lstm_(torch.empty(16, 4), "chain", weight_ih=torch.empty(15, 2)), r"got \(15, 2\)"),
        (lambda: init.lstm_(torch.empty(16, 4), "fb_chain", fb_alpha=float("inf")), r"fb_alpha must be (a )?finite.*got inf"),
        (lambda: init.scaled_normal_(torch.empty(3, 3), std=-1.0), r"std must be >= 0.0, got -1.0"),
        (lambda: init.init_rnn_(torch.empty(4, 4), torch.empty(3, 2), "chain", 1.0), r"got shape \(3, 2\)"),
    ],
)
def test_bad_input_raises_value_error_naming_it(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- bad inputs (issue 12, item 13)
_FILLS = {
    "identity_": lambda t: init.identity_(t, 1.5),
    "orthogonal_": lambda t: init.orthogonal_(t, 1.5),
    "chain_": lambda t: init.chain_(t, 1.5),
    "fb_chain_": lambda t: init.fb_chain_(t, 0.5, 1.5),
    "ramp_": lambda t: init.ramp_(t, 1.5),
    "plain_": lambda t: init.plain_(t),
    "source_": lambda t: init.source_(t, 1.5),
    "scaled_normal_": lambda t: init.scaled_normal_(t),
}


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool, torch.complex64])
@pytest.mark.parametrize("fill", sorted(_FILLS))
def test_fills_refuse_non_floating_tensors(fill, dtype):
    """An integer tensor would silently truncate the gain (chain_ with alpha 1.5 wrote 1)."""
    t = torch.zeros(3, 3, dtype=dtype)
    with pytest.raises(ValueError, match=rf"real floating-point tensor, got dtype {dtype}$"):
        _FILLS[fill](t)
    assert not t.any()  # untouched


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (3, 0)])
@pytest.mark.parametrize("fill", sorted(_FILLS))
def test_fills_refuse_empty_tensors(fill, shape):
    """scaled_normal_ and plain_ raised ZeroDivisionError on empty shapes; all fills now say why."""
    if fill not in ("plain_", "source_", "scaled_normal_") and shape[0] != shape[1]:
        match = r"square 2-D real floating-point tensor, got shape"
    else:
        match = rf"must be a non-empty .*tensor, got shape \({shape[0]}, {shape[1]}\)"
    with pytest.raises(ValueError, match=match):
        _FILLS[fill](torch.empty(shape))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: init.identity_(torch.empty(3, 3), "1.5"), r"gain must be a finite number, got '1.5'"),
        (lambda: init.identity_(torch.empty(3, 3), True), r"gain must be a finite number, got True"),
        (lambda: init.source_(torch.empty(3, 1), None), r"gain must be a finite number, got None"),
        (lambda: init.fb_chain_(torch.empty(3, 3), float("inf")), r"beta must be a finite number, got inf"),
        (lambda: init.orthogonal_(torch.empty(2, 3, 3)), r"got shape \(2, 3, 3\)"),
        (lambda: init.plain_(torch.empty(3, 3), 0), r"hidden_size must be a positive integer, got 0"),
        (lambda: init.scaled_normal_(torch.empty(3, 2), std=float("nan")), r"std must be a finite number, got nan"),
        (lambda: init.chain_matrix(2.0), r"n must be a positive integer, got 2.0"),
        (lambda: init.orthogonal_matrix(True), r"n must be a positive integer, got True"),
        (lambda: init.ramp_matrix(4, float("nan")), r"end_gain must be a finite number, got nan"),
        (lambda: init.init_rnn_([[1.0]], torch.empty(1, 1), "chain", 1.0), r"weight_hh must be .*, got list"),
        (lambda: init.init_rnn_(torch.empty(3, 3), torch.empty(3, 1), "identity", float("nan")),
         r"scale must be a finite number, got nan"),
        (lambda: init.init_rnn_(torch.empty(3, 3), torch.empty(3, 1, dtype=torch.long), "chain", 1.0),
         r"weight_ih must be .*, got dtype torch.int64"),
    ],
)
def test_more_bad_inputs_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_fills_accept_every_float_dtype():
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        w = init.chain_(torch.empty(3, 3, dtype=dtype), 1.5)
        assert w.dtype == dtype and float(w[1, 0]) == 1.5
