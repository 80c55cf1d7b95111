r"""The Elman engines: exact gradients, agreement with autograd and torch.nn.RNN, engine choice.

Sizes are tiny except where the issue asks for the copy size (T=500, B=16, N=100). The C++
engine is compiled on first use (cached afterwards); its tests are skipped, with the reason,
only where it cannot be built.

Tolerances. Two float32 implementations of the same recurrence differ by their rounding errors,
which depend on the CPU's BLAS kernels (AVX2 or AVX-512, FMA or not, blocking), so a float32 test
never compares two float32 results with a tolerance that happened to pass on one machine (the
60-step ``torch.nn.RNN`` comparison failed on an Intel Xeon at 1e-5). Each implementation is
compared instead with a float64 result of the same computation, within

.. math:: |x_{32} - x_{64}| \le u\, T \sqrt{k}\, \max|x_{64}|,

with :math:`u` the unit roundoff of the precision under test (:math:`2^{-24}` for float32,
:math:`2^{-53}` for float64), ``T`` the number of steps and ``k`` the longest inner product per step
(N + d + B: the pre-activation ``W h + U x + b`` and the batch sums of the weight gradients). The
error made at one step is carried forward (or, in the backward pass, backward) by the
recurrence, so in the worst case the errors of the T steps add up coherently: a factor T. Within
a step, the k rounding errors of an inner product are independent and add like a random walk:
:math:`\sqrt{k}\,u` (the probabilistic bound of Higham & Mary, SIAM J. Sci. Comput. 41, 2019).
The bound is normwise (relative to the largest reference value), as gradient elements near zero
carry the absolute error of their larger neighbours. Measured on an Intel Xeon, the errors use at
most 8 % of it (the 60-step ``torch.nn.RNN`` case, where the old 1e-5 test failed; 0.2 % at the
copy size), for ``torch.nn.RNN``'s own float32 result as for ours; float64 results meet the same
bound with :math:`u = 2^{-53}`, which pins the mathematics to ~1e-14 relative.
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import pytest
import torch
import torch.nn.functional as F

from nnrnn import bench, models
from nnrnn.models import ElmanRNN, elman

ACTS = ("elu", "relu", "tanh")


def rounding_bound(dtype: torch.dtype, steps: int, k: int) -> float:
    """``u T sqrt(k)``: the normwise error bound of a T-step recurrence with inner products of
    length k, in units of the largest reference value (see the module docstring)."""
    return torch.finfo(dtype).eps / 2 * steps * math.sqrt(k)


def assert_within_rounding(got, ref64, *, dtype: torch.dtype, steps: int, k: int, what: str = "") -> None:
    """``got`` (computed in ``dtype``) is within :func:`rounding_bound` of the float64 ``ref64``."""
    assert ref64.dtype == torch.float64
    ref64 = ref64.detach()
    scale = float(ref64.abs().max())
    bound = rounding_bound(dtype, steps, k) * scale
    err = float((got.detach().to(torch.float64) - ref64).abs().max())
    assert err <= bound, f"{what}: max error {err:.3g} > u T sqrt(k) max|ref| = {bound:.3g} (T={steps}, k={k})"


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


COPY_T, COPY_B, COPY_N, COPY_D = 500, 16, 100, 10


def _copy_size_grads(engine: str, act: str = "elu", dtype: torch.dtype = torch.float32):
    g = torch.Generator().manual_seed(0)
    model = models.model_for("copy", "orthogonal", 1.0, nonlinearity=act, generator=g, engine=engine)
    with torch.no_grad():
        model.rnn.bias.normal_(0.0, 0.1, generator=g)  # a nonzero bias is tested too
    x = torch.rand(COPY_B, COPY_T, COPY_D, generator=g)
    y = torch.randint(9, (COPY_B, COPY_T), generator=g)
    model = model.to(dtype)  # the same float32 weights, widened exactly for the float64 reference
    logits = model(x.to(dtype))
    F.cross_entropy(logits.reshape(-1, 9), y.reshape(-1)).backward()
    return [logits.detach()] + [p.grad for p in model.parameters()]


@pytest.fixture(scope="module")
def copy_reference():
    """The autograd loop in float64: the reference for every float32 result."""
    return _copy_size_grads("autograd", dtype=torch.float64)


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_copy_size_equals_float64_autograd_loop(engine, copy_reference, dtype):
    """Outputs and all parameter gradients at the copy size within u T sqrt(k) of the float64
    autograd loop; the float32 autograd loop is held to the same bound, so the bound is one
    any float32 implementation meets, not one tuned to ours."""
    names = ["logits"] + [n for n, _ in models.model_for("copy", "chain", 1.0).named_parameters()]
    k = COPY_N + COPY_D + COPY_B
    runs = {engine: _copy_size_grads(engine, dtype=dtype)}
    if dtype == torch.float32:
        runs["autograd"] = _copy_size_grads("autograd", dtype=dtype)
    for eng, got in runs.items():
        for name, a, b in zip(names, got, copy_reference):
            assert a.dtype == dtype
            assert_within_rounding(a, b, dtype=dtype, steps=COPY_T, k=k, what=f"{eng} {dtype} {name}")


def _torch_vs_ours(act: str, engine: str, dtype: torch.dtype, steps: int = 60):
    """torch.nn.RNN and ours on the same weights, inputs and output weighting, in ``dtype``:
    ``{"torch": [...], "ours": [...]}`` with outputs, last state and the three gradients."""
    g = torch.Generator().manual_seed(3)
    ref = torch.nn.RNN(4, 12, nonlinearity=act, batch_first=True)
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(0.4 * torch.randn(p.shape, generator=g))
        ref.bias_hh_l0.zero_()  # ours has a single bias, torch has two
    x = torch.randn(5, steps, 4, generator=g).to(dtype)
    h0 = torch.randn(5, 12, generator=g).to(dtype)
    w = torch.randn(5, steps, 12, generator=g).to(dtype)
    ref = ref.to(dtype)
    ours = ElmanRNN(4, 12, act, engine=engine).to(dtype)
    with torch.no_grad():
        ours.weight_ih.copy_(ref.weight_ih_l0)
        ours.weight_hh.copy_(ref.weight_hh_l0)
        ours.bias.copy_(ref.bias_ih_l0)
    out_r, h_r = ref(x, h0.unsqueeze(0))
    out_o, h_o = ours(x, h0)
    ((out_r * w).sum() + h_r.sum()).backward()
    ((out_o * w).sum() + h_o.sum()).backward()
    return {
        "torch": [out_r, h_r[0], ref.weight_ih_l0.grad, ref.weight_hh_l0.grad, ref.bias_ih_l0.grad],
        "ours": [out_o, h_o, ours.weight_ih.grad, ours.weight_hh.grad, ours.bias.grad],
    }


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
@pytest.mark.parametrize("act", ("relu", "tanh"))
def test_equals_torch_nn_rnn(act, engine, dtype):
    """Ours and torch.nn.RNN, both in ``dtype``, within u T sqrt(k) of torch.nn.RNN in float64
    (60 steps; the relu network grows to ~1e4, so the bound is relative to the largest value)."""
    steps, k = 60, 12 + 4 + 5  # N + d + B
    want = _torch_vs_ours(act, "python", torch.float64, steps)["torch"]
    got = _torch_vs_ours(act, engine, dtype, steps)
    names = ["outputs", "last state", "weight_ih grad", "weight_hh grad", "bias grad"]
    for who in ("ours", "torch"):
        for name, a, b in zip(names, got[who], want):
            assert_within_rounding(a, b, dtype=dtype, steps=steps, k=k, what=f"{who} {name}")


def _outputs_and_grads(engine: str, dtype: torch.dtype, problem, act: str, loss):
    params = [t.detach().to(dtype).requires_grad_() for t in problem]
    out, last = elman(*params, act, engine=engine)
    loss(out, last).backward()
    return [out.detach()] + [p.grad for p in params]


@pytest.mark.usefixtures("_needs_cpp")
@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
@pytest.mark.parametrize("act", ACTS)
def test_cpp_equals_python(act, dtype):
    """Both engines in ``dtype`` within u T sqrt(k) of the python engine in float64."""
    problem = _problem(steps=30, batch=5, d=3, n=17, dtype=torch.float64, seed=1)

    def loss(out, last):
        return out.sin().sum() + last.square().sum()

    want = _outputs_and_grads("python", torch.float64, problem, act, loss)
    names = ["out", "x grad", "h0 grad", "u grad", "w grad", "b grad"]
    for eng in ("python", "cpp"):
        got = _outputs_and_grads(eng, dtype, problem, act, loss)
        for name, a, b_ in zip(names, got, want):
            assert_within_rounding(a, b_, dtype=dtype, steps=30, k=17 + 3 + 5, what=f"{eng} {name}")


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
    ATen matmul fallback (used where no BLAS symbol is found) all give the float64 result to
    within rounding."""
    ops = models.extension_ops()
    if not ops.has_blas():
        pytest.skip("no BLAS symbol found: the ATen path is the only one")
    problem = _problem(steps=12, batch=4, n=9)

    def loss(out, last):
        return out.square().sum()

    want = _outputs_and_grads("python", torch.float64, problem, "elu", loss)
    try:
        for blas, macs in ((True, 1 << 20), (True, 0), (False, 1 << 20)):
            ops.set_blas(blas)
            ops.set_sequential_macs(macs)
            for dtype in (torch.float32, torch.float64):
                got = _outputs_and_grads("cpp", dtype, problem, "elu", loss)
                for a, b_ in zip(got, want):
                    assert_within_rounding(a, b_, dtype=dtype, steps=12, k=9 + 2 + 4, what=f"blas={blas} macs={macs}")
    finally:
        ops.set_blas(True)
        ops.set_sequential_macs(1 << 20)


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
    ops = models.extension_ops()
    assert ops.advise_hugepages(torch.empty(2, 1 << 20)) in (True, False)  # 8 MiB
    assert ops.advise_hugepages(torch.empty(3)) is False  # no whole huge page inside
    x, h0, u, w, b = _problem(steps=50, batch=64, n=100, dtype=torch.float32, requires_grad=False)
    want, _ = elman(x, h0, u, w, b, "elu", engine="cpp")
    monkeypatch.setattr(models, "HUGEPAGE_BYTES", 0)  # advise on every buffer
    got, _ = elman(x, h0, u, w, b, "elu", engine="cpp")
    assert torch.equal(got, want)


@pytest.mark.usefixtures("_needs_cpp")
@pytest.mark.parametrize("rows", (1, 3, 7, 4096))
def test_cpp_backward_chunking(monkeypatch, rows):
    """The chunked weight gradients do not depend on the chunk size (1 step, uneven, all)."""
    monkeypatch.setattr(models, "CHUNK_ROWS", rows)
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
