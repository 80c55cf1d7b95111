"""ElmanRNN, SequenceModel and model_for: shapes, defaults, validation, initializers, determinism."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nnrnn import init, models
from nnrnn import tasks
from nnrnn.models import ElmanRNN, SequenceModel, model_for


# ----------------------------------------------------------------------------- ElmanRNN
@pytest.mark.parametrize("batch_first", (True, False))
def test_shapes_and_last_state(batch_first):
    rnn = ElmanRNN(3, 7, "tanh", batch_first=batch_first)
    x = torch.randn(4, 11, 3) if batch_first else torch.randn(11, 4, 3)
    out, h = rnn(x)
    assert out.shape == x.shape[:2] + (7,)
    assert h.shape == (4, 7)
    last = out[:, -1] if batch_first else out[-1]
    assert torch.equal(h, last)


def test_recurrence_by_hand():
    """h_t = f(W h_{t-1} + U x_t + b), in torch's column convention, with a given h0."""
    g = torch.Generator().manual_seed(0)
    rnn = ElmanRNN(2, 3, "elu")
    with torch.no_grad():
        for p in rnn.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    x = torch.randn(2, 4, 2, generator=g)
    h = h0 = torch.randn(2, 3, generator=g)
    out, _ = rnn(x, h0)
    for t in range(4):
        h = torch.nn.functional.elu(h @ rnn.weight_hh.T + x[:, t] @ rnn.weight_ih.T + rnn.bias)
        torch.testing.assert_close(out[:, t], h)


def test_chain_impulse_runs_forward():
    """An impulse into unit 0 of a linear-regime alpha=1 chain reaches unit k after k steps."""
    rnn = ElmanRNN(1, 5, "relu", bias=False)
    init.init_rnn_(rnn.weight_hh, rnn.weight_ih, "chain", 1.0)
    x = torch.zeros(1, 5, 1)
    x[0, 0, 0] = 1.0
    out, _ = rnn(x)
    assert out[0].argmax(dim=1).tolist() == [0, 1, 2, 3, 4]
    assert torch.allclose(out[0].max(dim=1).values, torch.full((5,), 0.9))


def test_defaults_follow_torch_and_keras():
    rnn = ElmanRNN(10, 64)
    assert rnn.nonlinearity == "elu" and rnn.batch_first
    assert rnn.weight_ih.shape == (64, 10) and rnn.weight_hh.shape == (64, 64) and rnn.bias.shape == (64,)
    assert torch.count_nonzero(rnn.bias) == 0  # Keras' zero bias
    bound = 1 / math.sqrt(64)  # torch.nn.RNN's U(-1/sqrt(N), 1/sqrt(N))
    for w in (rnn.weight_ih, rnn.weight_hh):
        assert w.abs().max() <= bound and w.abs().max() > 0.8 * bound
    assert ElmanRNN(2, 3, bias=False).bias is None
    assert [n for n, _ in ElmanRNN(2, 3).named_parameters()] == ["weight_ih", "weight_hh", "bias"]


def test_reset_parameters_uses_generator():
    a, b = ElmanRNN(3, 5), ElmanRNN(3, 5)
    a.reset_parameters(torch.Generator().manual_seed(4))
    b.reset_parameters(torch.Generator().manual_seed(4))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_float64_and_no_bias():
    rnn = ElmanRNN(2, 4, "relu", bias=False, dtype=torch.float64)
    out, h = rnn(torch.randn(3, 5, 2, dtype=torch.float64))
    assert out.dtype == torch.float64
    out.sum().backward()
    assert rnn.weight_hh.grad is not None and rnn.weight_hh.grad.dtype == torch.float64


@pytest.mark.parametrize("engine", ("python", "auto"))
@pytest.mark.parametrize("batch_first", (True, False))
def test_input_and_h0_gradients_match_autograd(engine, batch_first):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(3, 7, 2, generator=g, dtype=torch.float64)
    x = x if batch_first else x.transpose(0, 1).contiguous()
    h0 = torch.randn(3, 4, generator=g, dtype=torch.float64)
    grads = []
    for eng in ("autograd", engine):
        rnn = ElmanRNN(2, 4, "elu", batch_first=batch_first, engine=eng, dtype=torch.float64)
        rnn.reset_parameters(torch.Generator().manual_seed(0))
        xi, hi = x.clone().requires_grad_(), h0.clone().requires_grad_()
        out, h = rnn(xi, hi)
        (out.square().sum() + h.sum()).backward()
        grads.append([xi.grad, hi.grad] + [p.grad for p in rnn.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_h0_gradient():
    rnn = ElmanRNN(2, 4, "tanh")
    h0 = torch.zeros(3, 4, requires_grad=True)
    _, h = rnn(torch.randn(3, 6, 2), h0)
    h.sum().backward()
    assert h0.grad.shape == (3, 4) and h0.grad.abs().sum() > 0


def test_repr_names_settings():
    assert repr(ElmanRNN(2, 3, "relu", bias=False, engine="python")) == (
        "ElmanRNN(2, 3, nonlinearity='relu', bias=False, engine='python')"
    )


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"nonlinearity": "sigmoid"}, r"nonlinearity must be one of \['elu', 'relu', 'tanh'\], got 'sigmoid'"),
        ({"nonlinearity": "ELU"}, r"got 'ELU'"),
        ({"input_size": 0}, r"input_size must be a positive integer, got 0"),
        ({"hidden_size": -3}, r"hidden_size must be a positive integer, got -3"),
        ({"hidden_size": 2.0}, r"hidden_size must be a positive integer, got 2.0"),
        ({"engine": "cuda"}, r"engine must be one of"),
    ],
)
def test_constructor_errors(kwargs, match):
    args = {"input_size": 2, "hidden_size": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        ElmanRNN(**args)


def test_input_errors():
    rnn = ElmanRNN(3, 4)
    with pytest.raises(ValueError, match=r"input_size=3 features in the last dimension, got 5"):
        rnn(torch.randn(2, 6, 5))
    with pytest.raises(ValueError, match=r"expects a 3-D input \(batch, time, features\), got shape \(6, 3\)"):
        rnn(torch.randn(6, 3))
    with pytest.raises(ValueError, match=r"3-D input \(time, batch, features\)"):
        ElmanRNN(3, 4, batch_first=False)(torch.randn(1, 2, 6, 3))
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 4\), got \(1, 2, 4\)"):
        rnn(torch.randn(2, 6, 3), torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match=r"at least one time step"):
        rnn(torch.randn(2, 0, 3))
    with pytest.raises(ValueError, match=r"dtype/device"):
        rnn(torch.randn(2, 6, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"expects a torch.Tensor input, got list"):
        rnn([[0.0]])


def test_elman_function_checks_nonlinearity():
    with pytest.raises(ValueError, match=r"nonlinearity must be one of"):
        models.elman(torch.zeros(1, 1, 1), torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1, 1), None, "gelu")


# ----------------------------------------------------------------------------- SequenceModel
def test_sequence_model_per_step_is_readout_of_every_state():
    rnn = ElmanRNN(4, 6)
    readout = nn.Linear(6, 3)
    x = torch.randn(2, 7, 4)
    per_step = SequenceModel(rnn, readout, per_step=True)(x)
    last = SequenceModel(rnn, readout, per_step=False)(x)
    states, h = rnn(x)
    torch.testing.assert_close(per_step, readout(states))
    torch.testing.assert_close(last, readout(h))
    assert per_step.shape == (2, 7, 3) and last.shape == (2, 3)


def test_sequence_model_needs_batch_first_elman():
    with pytest.raises(ValueError, match="batch-first"):
        SequenceModel(ElmanRNN(2, 3, batch_first=False), nn.Linear(3, 1), per_step=False)
    with pytest.raises(ValueError, match="rnn must be an ElmanRNN, got RNN"):
        SequenceModel(nn.RNN(2, 3), nn.Linear(3, 1), per_step=False)


# ----------------------------------------------------------------------------- model_for
@pytest.mark.parametrize(
    ("task", "d", "out", "act", "n", "per_step"),
    [("copy", 10, 9, "elu", 100, True), ("addition", 2, 1, "relu", 100, False), ("psmnist", 1, 10, "elu", 25, False)],
)
def test_task_specs_and_shapes(task, d, out, act, n, per_step):
    spec = tasks.get_task(task)
    assert (spec.input_size, spec.output_size, spec.default_nonlinearity, spec.default_hidden, spec.per_step) == (
        d,
        out,
        act,
        n,
        per_step,
    )
    m = model_for(task, "orthogonal", 1.0, generator=torch.Generator().manual_seed(0))
    assert m.rnn.nonlinearity == act and m.rnn.hidden_size == n and m.per_step == per_step
    y = m(torch.rand(3, 12, d))
    assert y.shape == ((3, 12, out) if per_step else (3, out))
    assert torch.count_nonzero(m.rnn.bias) == 0


def test_model_for_builds_from_a_task_object():
    """A Task (registered or not) defines the model: sizes, nonlinearity, readout."""

    class Toy(tasks.Task):
        name, T, input_size, output_size, per_step = "toy", 7, 3, 4, True
        default_hidden, default_nonlinearity = 6, "tanh"

    m = model_for(Toy(), "chain", 1.0, generator=torch.Generator().manual_seed(0))
    assert (m.rnn.input_size, m.rnn.hidden_size, m.rnn.nonlinearity, m.per_step) == (3, 6, "tanh", True)
    assert m(torch.zeros(2, 7, 3)).shape == (2, 7, 4)
    # a name and its task give the same model
    a = model_for("addition", "orthogonal", 1.0, generator=torch.Generator().manual_seed(3))
    b = model_for(tasks.get_task("addition"), "orthogonal", 1.0, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_task_specs_is_a_deprecated_alias_computed_from_the_tasks():
    from nnrnn import models

    with pytest.warns(DeprecationWarning, match="TASK_SPECS is deprecated"):
        specs = models.TASK_SPECS
    assert sorted(specs) == tasks.task_names()
    assert (specs["psmnist"].hidden_size, specs["addition"].nonlinearity, specs["copy"].seq_len) == (25, "relu", 500)


@pytest.mark.parametrize("name", ["identity", "orthogonal", "chain", "fb_chain"])
def test_initializers_applied(name):
    g = torch.Generator().manual_seed(1)
    m = model_for("addition", name, 1.02 if name != "fb_chain" else 0.05, generator=g)
    w, u = m.rnn.weight_hh.detach().double(), m.rnn.weight_ih.detach()
    if name == "identity":
        assert torch.allclose(w, 1.02 * torch.eye(100, dtype=torch.float64), atol=1e-6)
    elif name == "orthogonal":
        assert torch.allclose(w @ w.T, 1.02**2 * torch.eye(100, dtype=torch.float64), atol=1e-4)
    elif name == "chain":
        assert torch.allclose(w, init.chain_matrix(100, 1.02), atol=1e-6)
    else:
        assert torch.allclose(w, init.fb_chain_matrix(100, 0.05), atol=1e-6)
    if name in ("chain", "fb_chain"):
        assert torch.equal(u, 0.9 * torch.eye(100, 2))  # source input
    else:
        assert 0.05 < float(u.std()) < 0.13  # N(0, (0.9 / sqrt(100))^2)
    bound = 1 / math.sqrt(100)
    assert m.readout.weight.abs().max() <= bound and m.readout.bias.abs().max() <= bound


def test_same_generator_same_model_and_different_seeds_differ():
    a = model_for("copy", "orthogonal", 1.0, generator=torch.Generator().manual_seed(7))
    b = model_for("copy", "orthogonal", 1.0, generator=torch.Generator().manual_seed(7))
    c = model_for("copy", "orthogonal", 1.0, generator=torch.Generator().manual_seed(8))
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["rnn.weight_hh"], sc["rnn.weight_hh"])
    assert not torch.equal(sa["readout.weight"], sc["readout.weight"])


def test_global_rng_untouched():
    state = torch.get_rng_state()
    model_for("psmnist", "orthogonal", 1.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(state, torch.get_rng_state())


def test_overrides_dtype_and_orientation():
    m = model_for("psmnist", "chain", 1.0, hidden_size=8, nonlinearity="tanh", dtype=torch.float64)
    assert m.rnn.hidden_size == 8 and m.rnn.nonlinearity == "tanh"
    assert all(p.dtype == torch.float64 for p in m.parameters())
    r = model_for("psmnist", "chain", 1.0, hidden_size=8, orientation="reversed")
    assert r.rnn.weight_hh[0, 1] == 1.0 and r.rnn.weight_hh[1, 0] == 0.0  # runs N-1 -> 0: the ablation
    f = model_for("psmnist", "fb_chain", 0.04, hidden_size=8, orientation="reversed")
    assert torch.allclose(f.rnn.weight_hh.double(), init.fb_chain_matrix(8, 0.04, orientation="reversed"))
    o1 = model_for("psmnist", "orthogonal", 1.0, generator=torch.Generator().manual_seed(0))
    o2 = model_for("psmnist", "orthogonal", 1.0, orientation="reversed", generator=torch.Generator().manual_seed(0))
    assert torch.equal(o1.rnn.weight_hh, o2.rnn.weight_hh)  # normal inits ignore the orientation


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("mnist", "chain", 1.0), {}, r"task must be one of \['addition', 'copy', 'psmnist'\], got 'mnist'"),
        (
            ("copy", "ramp", 1.0),
            {},
            r"unknown initializer 'ramp'; expected one of \['chain', 'fb_chain', 'identity', 'orthogonal'\]",
        ),
        (("copy", "chain", 1.0), {"orientation": "backward"}, r"orientation must be one of \['forward', 'reversed'\]"),
        (("copy", "chain", 1.0), {"nonlinearity": "sigmoid"}, r"nonlinearity must be one of"),
        (("copy", "chain", 1.0), {"hidden_size": 0}, r"hidden_size must be a positive integer"),
        (("copy", "chain", 1.0), {"dtype": torch.int64}, r"dtype must be a floating-point"),
        (("copy", "chain", 1.0), {"device": "tpu"}, r"device must be one of"),
    ],
)
def test_model_for_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        model_for(*args, **kwargs)


def test_model_trains():
    """A few RMSprop steps lower the addition loss (the engine's gradient points downhill)."""
    g = torch.Generator().manual_seed(0)
    m = model_for("addition", "chain", 1.0, hidden_size=16, generator=g)
    x = torch.rand(32, 20, 2, generator=g)
    y = x[..., 1].mean(1, keepdim=True)
    opt = torch.optim.RMSprop(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.mse_loss(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
