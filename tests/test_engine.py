"""The Elman engines: exact gradients, agreement with autograd and torch.nn.RNN, engine choice.

Sizes are tiny except where the issue asks for the copy size (T=500, B=16, N=100). The C++
engine is compiled on first use (cached afterwards); its tests are skipped, with the reason,
only where it cannot be built.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import torch
import torch.nn.functional as F

from nnrnn import bench, models
from nnrnn.models import ElmanRNN, elman

ACTS = ("elu", "relu", "tanh")


def _cpp_or_skip() -> None:
    if not models.engine_available("cpp"):
        pytest.skip(f"C++ engine unavailable: {models._ext_state['error']}")


@pytest.fixture(params=["python", "cpp"])
def engine(request):
    """The two fast engines (the C++ one skipped where it cannot be built)."""
    if request.param == "cpp":
        _cpp_or_skip()
    return request.param


@pytest.fixture
def _needs_cpp():
    _cpp_or_skip()


def _problem(steps=6, batch=3, d=2, n=5, dtype=torch.float64, seed=0, requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, batch, d, generator=g, dtype=dtype)
    h0 = 0.5 * torch.randn(batch, n, generator=g, dtype=dtype)
    u = torch.randn(n, d, generator=g, dtype=dtype)
    w = 0.6 * torch.randn(n, n, generator=g, dtype=dtype) / n**0.5
    b = 0.3 * torch.randn(n, generator=g, dtype=dtype)
    return [t.requires_grad_(requires_grad) for t in (x, h0, u, w, b)]


# ----------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("act", ACTS)
def test_gradcheck_float64(act, engine):
    x, h0, u, w, b = _problem(steps=5, batch=2, d=2, n=4)
    assert torch.autograd.gradcheck(lambda *a: elman(*a, act, engine=engine), (x, h0, u, w, b))


def test_gradcheck_without_bias_single_step(engine):
    x, h0, u, w, _ = _problem(steps=1, batch=2, n=3)
    assert torch.autograd.gradcheck(lambda *a: elman(*a, None, "elu", engine=engine), (x, h0, u, w))


@pytest.mark.parametrize("act", ACTS)
def test_fast_engines_equal_autograd_float64(act, engine):
    x, h0, u, w, b = _problem(steps=9, batch=4, n=7)
    results = {}
    for eng in ("autograd", engine):
        params = [t.detach().clone().requires_grad_() for t in (x, h0, u, w, b)]
        out, last = elman(*params, act, engine=eng)
        ((out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum() + last.sum()).backward()
        results[eng] = [out.detach()] + [p.grad for p in params]
    for got, want in zip(results[engine], results["autograd"]):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def _copy_size_grads(engine: str, act: str = "elu"):
    g = torch.Generator().manual_seed(0)
    model = models.model_for("copy", "orthogonal", 1.0, nonlinearity=act, generator=g, engine=engine)
    with torch.no_grad():
        model.rnn.bias.normal_(0.0, 0.1, generator=g)  # a nonzero bias is tested too
    x = torch.rand(16, 500, 10, generator=g)
    y = torch.randint(9, (16, 500), generator=g)
    logits = model(x)
    F.cross_entropy(logits.reshape(-1, 9), y.reshape(-1)).backward()
    return [logits.detach()] + [p.grad for p in model.parameters()]


@pytest.fixture(scope="module")
def copy_reference():
    return _copy_size_grads("autograd")


def test_copy_size_float32_equals_autograd_loop(engine, copy_reference):
    """Outputs and all parameter gradients within 1e-5 of the largest reference value."""
    got = _copy_size_grads(engine)
    names = ["logits"] + [n for n, _ in models.model_for("copy", "chain", 1.0).named_parameters()]
    for name, a, b in zip(names, got, copy_reference):
        scale = float(b.abs().max())
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * scale, msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("act", ("relu", "tanh"))
def test_equals_torch_nn_rnn(act, engine):
    g = torch.Generator().manual_seed(3)
    ref = torch.nn.RNN(4, 12, nonlinearity=act, batch_first=True)
    ours = ElmanRNN(4, 12, act, engine=engine)
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(0.4 * torch.randn(p.shape, generator=g))
        ref.bias_hh_l0.zero_()  # ours has a single bias, torch has two
        ours.weight_ih.copy_(ref.weight_ih_l0)
        ours.weight_hh.copy_(ref.weight_hh_l0)
        ours.bias.copy_(ref.bias_ih_l0)
    x = torch.randn(5, 60, 4, generator=g)
    h0 = torch.randn(5, 12, generator=g)
    out_r, h_r = ref(x, h0.unsqueeze(0))
    out_o, h_o = ours(x, h0)
    torch.testing.assert_close(out_o, out_r, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h_o, h_r[0], rtol=1e-5, atol=1e-6)
    w = torch.randn(out_r.shape, generator=g)
    ((out_r * w).sum() + h_r.sum()).backward()
    ((out_o * w).sum() + h_o.sum()).backward()
    pairs = [
        (ours.weight_ih.grad, ref.weight_ih_l0.grad),
        (ours.weight_hh.grad, ref.weight_hh_l0.grad),
        (ours.bias.grad, ref.bias_ih_l0.grad),
    ]
    for a, b in pairs:
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.usefixtures("_needs_cpp")
@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
@pytest.mark.parametrize("act", ACTS)
def test_cpp_equals_python(act, dtype):
    x, h0, u, w, b = _problem(steps=30, batch=5, d=3, n=17, dtype=dtype, seed=1)
    results = {}
    for eng in ("python", "cpp"):
        params = [t.detach().clone().requires_grad_() for t in (x, h0, u, w, b)]
        out, last = elman(*params, act, engine=eng)
        (out.sin().sum() + last.square().sum()).backward()
        results[eng] = [out.detach()] + [p.grad for p in params]
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    for a, b_ in zip(results["cpp"], results["python"]):
        torch.testing.assert_close(a, b_, rtol=tol, atol=tol * float(b_.abs().max()))


@pytest.mark.usefixtures("_needs_cpp")
@pytest.mark.parametrize("act", ("elu", "tanh"))
def test_cpp_float32_nonlinearity_accuracy(act):
    """The C++ float kernels (own expm1) match float64 torch to float precision."""
    a = torch.cat([torch.linspace(-100.0, 30.0, 20001), torch.tensor([0.0, -1e-30, -1e-8, 1e-8, -87.5, -88.0])])
    x = a.view(1, -1, 1)  # one step, one unit, a batch of pre-activations
    one, zero = torch.ones(1, 1), torch.zeros(1, 1)
    h, _ = elman(x, torch.zeros(a.numel(), 1), one, zero, None, act, engine="cpp")
    want = (F.elu if act == "elu" else torch.tanh)(a.double()).float()
    torch.testing.assert_close(h.view(-1), want, rtol=4e-7, atol=1e-30)


@pytest.mark.usefixtures("_needs_cpp")
@pytest.mark.parametrize("act", ACTS)
def test_cpp_propagates_nan(act):
    x = torch.tensor([float("nan"), 1.0]).view(1, 2, 1)
    h, _ = elman(x, torch.zeros(2, 1), torch.ones(1, 1), torch.zeros(1, 1), None, act, engine="cpp")
    assert torch.isnan(h[0, 0, 0]) and not torch.isnan(h[0, 1, 0])


@pytest.mark.usefixtures("_needs_cpp")
def test_cpp_inner_paths_agree():
    """BLAS on one thread (small steps, the default here), BLAS on torch's threads, and the
    ATen matmul fallback (used where no BLAS symbol is found) give the same result."""
    ops = models._load_extension()
    if not ops.has_blas():
        pytest.skip("no BLAS symbol found: the ATen path is the only one")
    x, h0, u, w, b = _problem(steps=12, batch=4, n=9, dtype=torch.float32)
    outs = []
    try:
        for blas, macs in ((True, 1 << 20), (True, 0), (False, 1 << 20)):
            ops.set_blas(blas)
            ops.set_sequential_macs(macs)
            params = [t.detach().clone().requires_grad_() for t in (x, h0, u, w, b)]
            out, _ = elman(*params, "elu", engine="cpp")
            out.square().sum().backward()
            outs.append([out.detach()] + [p.grad for p in params])
    finally:
        ops.set_blas(True)
        ops.set_sequential_macs(1 << 20)
    for a, b_ in zip(outs[0], outs[1]):
        torch.testing.assert_close(a, b_, rtol=1e-5, atol=1e-5 * float(b_.abs().max()))
    for a, b_ in zip(outs[0], outs[2]):
        torch.testing.assert_close(a, b_, rtol=1e-5, atol=1e-5 * float(b_.abs().max()))


@pytest.mark.parametrize("which", ("last", "states[-1]", "both"))
def test_gradient_through_last_state_only(which, engine):
    """A last-step readout (addition, psMNIST) back-propagates through all steps."""
    x, h0, u, w, b = _problem(steps=8)
    grads = {}
    for eng in ("autograd", engine):
        params = [t.detach().clone().requires_grad_() for t in (x, h0, u, w, b)]
        states, last = elman(*params, "elu", engine=eng)
        loss = {"last": last.sum(), "states[-1]": states[-1].sum(), "both": last.sum() + states[-1].sum()}[which]
        loss.backward()
        grads[eng] = [p.grad for p in params]
    for a, b_ in zip(grads[engine], grads["autograd"]):
        torch.testing.assert_close(a, b_, rtol=1e-12, atol=1e-12)
    assert grads[engine][0][0].abs().sum() > 0  # the first input matters


def test_strided_inputs(engine):
    """Non-contiguous inputs (a strided view of a wider tensor) give the reference gradients."""
    x, h0, u, w, b = _problem(steps=6, batch=3, d=2, n=5)
    wide = torch.randn(6, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    xs = wide[..., ::2].detach().requires_grad_()  # last-dim stride 2
    got = torch.autograd.grad(elman(xs, h0, u, w.T, b, "relu", engine=engine)[0].sum(), (xs, u, w))
    want = torch.autograd.grad(elman(xs, h0, u, w.T, b, "relu", engine="autograd")[0].sum(), (xs, u, w))
    for a, b_ in zip(got, want):
        torch.testing.assert_close(a, b_, rtol=1e-12, atol=1e-12)


def test_only_needed_gradients_are_computed(engine):
    x, h0, u, w, b = _problem(steps=4)
    x.requires_grad_(False)
    h0.requires_grad_(False)
    out, _ = elman(x, h0, u, w, b, "tanh", engine=engine)
    out.sum().backward()
    assert x.grad is None and h0.grad is None
    assert all(p.grad is not None for p in (u, w, b))


@pytest.mark.usefixtures("_needs_cpp")
def test_cpp_restores_the_denormal_mode():
    """Subnormals are flushed inside the C++ loops only; the caller's mode comes back."""
    tiny = torch.tensor([1e-39])  # subnormal in float32
    assert float(tiny * 1.0) > 0
    x, h0, u, w, b = _problem(steps=5, batch=2, n=4, dtype=torch.float32)
    out, _ = elman(x, h0, u, w, b, "tanh", engine="cpp")
    out.sum().backward()
    assert float(tiny * 1.0) > 0


@pytest.mark.usefixtures("_needs_cpp")
def test_cpp_hugepage_advice_changes_nothing(monkeypatch):
    ops = models._load_extension()
    assert ops.advise_hugepages(torch.empty(2, 1 << 20)) in (True, False)  # 8 MiB
    assert ops.advise_hugepages(torch.empty(3)) is False  # no whole huge page inside
    x, h0, u, w, b = _problem(steps=50, batch=64, n=100, dtype=torch.float32, requires_grad=False)
    want, _ = elman(x, h0, u, w, b, "elu", engine="cpp")
    monkeypatch.setattr(models, "_HUGEPAGE_BYTES", 0)  # advise on every buffer
    got, _ = elman(x, h0, u, w, b, "elu", engine="cpp")
    assert torch.equal(got, want)


@pytest.mark.usefixtures("_needs_cpp")
@pytest.mark.parametrize("rows", (1, 3, 7, 4096))
def test_cpp_backward_chunking(monkeypatch, rows):
    """The chunked weight gradients do not depend on the chunk size (1 step, uneven, all)."""
    monkeypatch.setattr(models, "_CHUNK_ROWS", rows)
    x, h0, u, w, b = _problem(steps=10, batch=3)
    out, _ = elman(x, h0, u, w, b, "elu", engine="cpp")
    got = torch.autograd.grad(out.cos().sum(), (x, h0, u, w, b))
    out, _ = elman(x, h0, u, w, b, "elu", engine="autograd")
    want = torch.autograd.grad(out.cos().sum(), (x, h0, u, w, b))
    for a, b_ in zip(got, want):
        torch.testing.assert_close(a, b_, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("act", ACTS)
def test_cuda_matches_cpu(act):
    x, h0, u, w, b = _problem(steps=20, batch=4, n=16, dtype=torch.float64)
    cpu, _ = elman(x, h0, u, w, b, act, engine="python")
    gpu, _ = elman(*(t.detach().cuda() for t in (x, h0, u, w, b)), act)  # auto -> python on CUDA
    torch.testing.assert_close(gpu.cpu(), cpu.detach())


# ----------------------------------------------------------------------------- engine choice
def test_env_var_selects_engine(monkeypatch):
    monkeypatch.setenv("NNRNN_ENGINE", "autograd")
    assert models.resolve_engine(None, torch.device("cpu"), torch.float32) == "autograd"
    rnn = ElmanRNN(2, 3)
    out, _ = rnn(torch.randn(2, 4, 2))
    assert out.grad_fn.next_functions[0][0].name().startswith("StackBackward")  # the autograd loop
    monkeypatch.setenv("NNRNN_ENGINE", "python")
    out, _ = rnn(torch.randn(2, 4, 2))
    assert out.grad_fn.next_functions[0][0].name() == "_ElmanFunctionBackward"


def test_bad_env_var_is_named(monkeypatch):
    monkeypatch.setenv("NNRNN_ENGINE", "fortran")
    with pytest.raises(ValueError, match=r"NNRNN_ENGINE must be one of .*'cpp'.*got 'fortran'"):
        ElmanRNN(2, 3)(torch.randn(1, 2, 2))


def test_unknown_engine_argument():
    with pytest.raises(ValueError, match=r"engine must be one of \['auto', 'cpp', 'python', 'autograd'\], got 'jit'"):
        ElmanRNN(2, 3, engine="jit")


def test_failed_build_falls_back_with_one_warning(monkeypatch):
    monkeypatch.setattr(models, "_ext_state", {"module": None, "error": "simulated: no compiler", "warned": False})
    x = torch.randn(2, 5, 3)
    rnn = ElmanRNN(3, 4)
    with pytest.warns(RuntimeWarning, match="could not be built.*simulated: no compiler"):
        out_auto, _ = rnn(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rnn(x)  # no second warning
    ref = ElmanRNN(3, 4, engine="python")
    ref.load_state_dict(rnn.state_dict())
    torch.testing.assert_close(out_auto, ref(x)[0])
    with pytest.raises(RuntimeError, match="engine 'cpp' is unavailable.*simulated"):
        ElmanRNN(3, 4, engine="cpp")(x)


def test_cpp_refuses_other_dtypes():
    with pytest.raises(RuntimeError, match="CPU float32/float64 tensors only"):
        models.resolve_engine("cpp", torch.device("cpu"), torch.bfloat16)
    assert models.resolve_engine("auto", torch.device("cpu"), torch.bfloat16) == "python"


def test_import_neither_compiles_nor_warns():
    code = (
        "import warnings; warnings.simplefilter('error')\n"
        "import nnrnn.models as m\n"
        "assert m._ext_state == {'module': None, 'error': None, 'warned': False}, m._ext_state\n"
        "print('ok')"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


# ----------------------------------------------------------------------------- benchmark
def test_bench_quick_prints_table(capsys):
    assert bench.main(["rnn", "--quick", "--sizes", "copy,psmnist-b16"]) == 0
    text = capsys.readouterr().out
    assert "device: CPU" in text and "peak" in text
    rows = [line.split() for line in text.splitlines() if line.startswith(("copy ", "psmnist-b16 "))]
    assert len(rows) == 2 * len(bench.CANDIDATES)
    labels = {" ".join(r[4:6]) for r in rows}
    assert {"ours elu", "ours relu", "nn.RNN relu", "autograd elu"} <= labels
    base = [r for r in rows if r[4] == "nn.RNN"]
    assert all(float(r[7]) == 1.0 for r in base)  # ratios are relative to nn.RNN(relu)


def test_bench_rejects_unknown_size():
    with pytest.raises(SystemExit, match="unknown size"):
        bench.main(["rnn", "--quick", "--sizes", "copy,mnist"])
