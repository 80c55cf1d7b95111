"""The fused training step (:mod:`nnrnn.fused`) against the autograd reference step.

Every comparison has a tolerance derived from the arithmetic, not tuned (:func:`_tolerances`):

* **Setting.** The recurrent matrix is scaled so that its absolute row and column sums are at
  most 0.8 and the readout's at most 1, and elu, relu and tanh are 1-Lipschitz: the forward map
  ``h -> W h`` and the backward map ``d -> W^T d`` are contractions in the max-norm, so a rounding
  error made at one step is not amplified at later ones; errors add up along the chain.
* **Error model** (first order, as for a dot product in Higham's *Accuracy and Stability of
  Numerical Algorithms*, §3.1): a value reached along a chain of at most ``K`` roundings of relative
  size ``u`` (unit roundoff, ``finfo.eps / 2``) lies within ``gamma_K = K u / (1 - K u)`` of the
  exact value, relative to the absolute sum ``M`` of the terms it is made of (computed in float64
  from the exact states with absolute values, :func:`_magnitudes`). ``K`` counts the forward chain
  (``T (N + d + 1 + 10)``: each step's dot products and its nonlinearity, counted as 10 roundings, as
  are each exp and log), the readout and loss (``N + O + 20``), the backward chain (``T (N + O + 12)``)
  and the sum of a weight gradient over all ``T B`` positions. Two more gains enter where an
  error is multiplied rather than added: the softmax turns an error in the logits into ``M_z``
  times that error in the probabilities, and ``f'`` (recomputed from the states) turns a state
  error into at most ``2 M_h^2`` times that error in the derivative, so ``G = (1 + M_z)(1 + 2 M_h^2)``.
  Each of the two results lies within ``gamma_K G M`` of the exact value, so they lie within twice
  that of each other. For relu, whose derivative jumps at 0, the bound needs every
  pre-activation to be farther than its own error from 0: the test checks that too.
* **RMSprop** (:func:`_rmsprop_bound`): the update ``g / (sqrt(s) + eps)`` is carried with interval
  bounds per element, from the gradient bound and the square average's own bound; after 50
  updates the per-update bounds add up. That sum assumes the trajectories do not separate: a
  difference in the weights changes the next gradient by far less than rounding does. It holds at
  the small learning rate used here (``lr = 1e-5``: 50 updates move a weight by at most
  ``50 lr / sqrt(1 - alpha) = 1.6e-3``), not in a chaotic training at a large one.

The same bounds in float64 (``u = 2^-53``) are some 10^9 times tighter: there they pin the step
to the reference to about 12 digits, which no sign or index error survives.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from nnrnn import fused, models, tasks

T_STEPS, HIDDEN = 21, 8  # the copy task's shortest length; a small network
LR, ALPHA, EPS = 1e-5, 0.9, 1e-7  # the Keras RMSprop constants, a small learning rate
HEAD_TASK = {"ce_steps": "copy", "ce_last": "psmnist", "mse_last": "addition"}
ACTS = ("elu", "relu", "tanh")


@pytest.fixture(autouse=True)
def _extension():
    if not fused.available():
        pytest.skip(f"fused step unavailable: {fused.unavailable_reason()}")


def _task(head: str) -> tasks.Task:
    name = HEAD_TASK[head]
    return tasks.get_task(name) if name == "psmnist" else tasks.get_task(name, T=T_STEPS)


def _batch(head: str, batch: int, seed: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of the head's task (psMNIST: random pixels and labels, ``T_STEPS`` long, no MNIST files)."""
    if head == "ce_last":
        g = torch.Generator().manual_seed(seed)
        return torch.rand(batch, T_STEPS, 1, generator=g, dtype=dtype), torch.randint(0, 10, (batch,), generator=g)
    x, y = _task(head).datasets(batch, 1, seed=seed)[0].batch(torch.arange(batch))
    return x.to(dtype), (y.to(dtype) if y.is_floating_point() else y)


def _model(head: str, act: str, dtype: torch.dtype, seed: int = 0) -> models.SequenceModel:
    """The run's model with random weights in the contracting setting of the module docstring."""
    g = torch.Generator().manual_seed(seed)
    m = models.model_for(_task(head), "orthogonal", 1.0, hidden_size=HIDDEN, nonlinearity=act, generator=g)
    m = m.to(dtype)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.rand(p.shape, generator=g, dtype=dtype) * 0.6 - 0.3)
        relu = act == "relu"  # pre-activations kept 0.2 or more from relu's kink: units on or off for good
        for w, bound in ((m.rnn.weight_hh, 0.2 if relu else 0.8), (m.readout.weight, 1.0)):
            a = w.abs()
            w.mul_(bound / max(a.sum(0).max(), a.sum(1).max()))
        if relu:  # |U x| <= 0.2 (at most two inputs of at most 1), |W h| <= 0.2 h_max <= 0.2, |b| = 0.6
            m.rnn.weight_ih.mul_(1 / 3)
            m.rnn.bias.copy_(0.6 * (1 - 2 * (torch.arange(HIDDEN) % 2)))
    return m


def _params(m: models.SequenceModel) -> list[torch.Tensor]:
    return [m.rnn.weight_ih, m.rnn.weight_hh, m.rnn.bias, m.readout.weight, m.readout.bias]


def _act(a: torch.Tensor, act: str) -> torch.Tensor:
    return {"elu": F.elu, "relu": torch.relu, "tanh": torch.tanh}[act](a)


def _magnitudes(m: models.SequenceModel, head: str, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Float64 states of ``m`` on ``(x, y)`` and the absolute sums that bound every computed value."""
    u, w, b, v, c = (p.detach().double() for p in _params(m))
    x = x.double()
    batch, steps, _ = x.shape
    h, hs, pre, abs_pre = torch.zeros(batch, w.shape[0], dtype=torch.float64), [], [], []
    for t in range(steps):
        a = (x[:, t] @ u.T + b + h @ w.T).requires_grad_(True)
        abs_pre.append(x[:, t].abs() @ u.abs().T + b.abs() + h.detach().abs() @ w.abs().T)
        pre.append(a)
        h = _act(a, m.rnn.nonlinearity)
        hs.append(h)
    H = torch.stack(hs)  # (T, B, N)
    z = (H if head == "ce_steps" else H[-1]) @ v.T + c
    if head == "ce_steps":
        loss = F.cross_entropy(z.reshape(-1, z.shape[-1]), y.T.reshape(-1))
    elif head == "ce_last":
        loss = F.cross_entropy(z, y)
    else:
        loss = F.mse_loss(z, y.double())
    grads = torch.autograd.grad(loss, [z, *pre])
    dz, D = grads[0].detach(), torch.stack(grads[1:]).detach()
    dz_steps = dz if head == "ce_steps" else torch.cat([torch.zeros(steps - 1, *dz.shape, dtype=dz.dtype), dz[None]])
    abs_back = [dz_steps[t].abs() @ v.abs() + (D[t + 1].abs() @ w.abs() if t + 1 < steps else 0) for t in range(steps)]
    H = H.detach()
    m_h, m_z = float(torch.stack(abs_pre).max()), float(((H.abs() @ v.abs().T) + c.abs()).max())
    rows = dz.numel() // dz.shape[-1]
    m_dz = 2.0 / rows if head != "mse_last" else 2.0 * (m_z + float(y.abs().max())) / dz.numel()
    return {"loss": float(loss.detach()), "pre": torch.stack([a.detach() for a in pre]), "m_h": m_h, "m_z": m_z,
            "m_dz": m_dz, "m_d": float(torch.stack(abs_back).max()), "m_x": float(x.abs().max()), "rows": rows}


def _tolerances(m: models.SequenceModel, head: str, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Bounds of |fused - reference| for the loss and each raw gradient (module docstring)."""
    mag = _magnitudes(m, head, x, y)
    batch, steps, d = x.shape
    n, o = HIDDEN, m.readout.weight.shape[0]
    u = torch.finfo(x.dtype).eps / 2
    k = steps * (n + d + 1 + 10) + (n + o + 20) + steps * (n + o + 12) + steps * batch
    gamma = k * u / (1 - k * u)
    gain = (1 + mag["m_z"]) * (1 + 2 * mag["m_h"] ** 2)
    rel = 2 * gamma * gain
    if m.rnn.nonlinearity == "relu":  # relu's derivative jumps at 0: no pre-activation within its error of 0
        closest, k_fwd = float(mag["pre"].abs().min()), steps * (n + d + 1 + 10)
        assert closest > 2 * k_fwd * u * mag["m_h"], f"a pre-activation ({closest:.3g}) lies within rounding of relu's kink"
    tb, rows = steps * batch, mag["rows"]
    m_loss = 2 * mag["m_z"] + math.log(o) if head != "mse_last" else (mag["m_z"] + float(y.abs().max())) ** 2
    return {"loss": rel * m_loss, "rnn.weight_ih": rel * tb * mag["m_d"] * mag["m_x"],
            "rnn.weight_hh": rel * tb * mag["m_d"] * mag["m_h"], "rnn.bias": rel * tb * mag["m_d"],
            "readout.weight": rel * rows * mag["m_dz"] * mag["m_h"], "readout.bias": rel * rows * mag["m_dz"],
            "u": u}


def _rmsprop_bound(g, dg, s_prev, ds_prev, p, dp_prev, u):
    """Bounds (per element) of |s_fused - s_ref| and |p_fused - p_ref| after one RMSprop update.

    ``g``: the reference's clipped gradient, ``dg``: the bound of its difference from the fused
    step's; ``s_prev``, ``p``: the reference's square average before and weights after the update,
    ``ds_prev``, ``dp_prev``: their bounds before it. Two roundings in each path for ``s``, four
    for the quotient and one for the subtraction from ``p``. Since ``s >= (1 - alpha) g^2``, an
    update never exceeds ``lr / sqrt(1 - alpha)``, which caps the bound of an element whose
    gradient is within its error of 0.
    """
    g, s_prev, p = g.double(), s_prev.double(), p.double()
    s = ALPHA * s_prev + (1 - ALPHA) * g * g
    ds = ALPHA * ds_prev + (1 - ALPHA) * (2 * g.abs() * dg + dg * dg) + 4 * u * s
    s_lo, s_hi = (s - ds).clamp(min=0), s + ds
    r_lo = s_lo.sqrt() + EPS
    du = dg / r_lo + g.abs() * (s_hi.sqrt() - s_lo.sqrt()) / r_lo**2
    du = du.clamp(max=2 / math.sqrt(1 - ALPHA)) + 8 * u / math.sqrt(1 - ALPHA)
    return ds, dp_prev + LR * du + 2 * u * p.abs()


def _clipped_bound(raw: torch.Tensor, tol: float, norm: float, dnorm: float, clip: float) -> torch.Tensor:
    """Bound of the clipped gradient's difference: ``coef tol + |raw| dcoef`` (``clip_grad_norm_``'s coef)."""
    coef = min(1.0, clip / (norm + 1e-6))
    dcoef = coef * dnorm / max(norm - dnorm, 1e-300) if norm + dnorm >= clip else 0.0
    return coef * tol + raw.abs().double() * dcoef


def _norm_bound(tol: dict[str, float], params: list[torch.Tensor], norm: float) -> float:
    k = sum(p.numel() for p in params)
    return math.sqrt(sum(p.numel() * tol[name] ** 2 for name, p in zip(fused.FusedStep.NAMES, params))) + \
        2 * k * tol["u"] * norm


def _pair(head, act, dtype, clip):
    m = _model(head, act, dtype)
    ref = copy.deepcopy(m)
    step = fused.FusedStep(m, _task(head), lr=LR, alpha=ALPHA, eps=EPS, clip_norm=clip)
    opt = torch.optim.RMSprop(ref.parameters(), lr=LR, alpha=ALPHA, eps=EPS)
    return m, ref, step, opt


def _compare_updates(head, act, batch, dtype, clip_active, updates):
    """Run ``updates`` updates of both steps on fresh batches and check every bound at every update."""
    task = _task(head)
    m, ref, step, opt = _pair(head, act, dtype, clip=1e9)
    rp = _params(ref)
    ds = dp = [torch.zeros(p.shape, dtype=torch.float64) for p in rp]
    for k in range(updates):
        x, y = _batch(head, batch, seed=k, dtype=dtype)
        tol = _tolerances(ref, head, x, y)
        raw = torch.autograd.grad(task.loss(ref(x), y), rp)
        if k == 0:  # clipping active: the clip is a quarter of the first norm; inactive: far above it
            clip = float(torch.cat([g.flatten() for g in raw]).norm()) / 4 if clip_active else 1e9
            step.clip_norm = clip
        s_prev = [opt.state[p]["square_avg"].clone() if p in opt.state else torch.zeros_like(p) for p in rp]
        loss_f, norm_f = step(x, y)
        loss_r, norm_r = fused.reference_step(ref, opt, task, x, y, clip, rp)
        dnorm = _norm_bound(tol, rp, norm_r)
        assert abs(loss_f - loss_r) <= tol["loss"], (k, loss_f, loss_r, tol["loss"])
        assert abs(norm_f - norm_r) <= dnorm, (k, norm_f, norm_r, dnorm)
        assert (norm_r > clip) == clip_active
        for name, gf, gr in zip(fused.FusedStep.NAMES, step.grads, raw):
            err = float((gf - gr).abs().max())
            assert err <= tol[name], f"update {k}: gradient of {name} differs by {err:.3g} > {tol[name]:.3g}"
            assert tol[name] < float(gr.abs().max()) or float(gr.abs().max()) == 0.0, "the bound must not be vacuous"
        new_ds, new_dp = [], []
        for i, (name, p, g) in enumerate(zip(fused.FusedStep.NAMES, rp, raw)):
            s_now = opt.state[p]["square_avg"].double()
            b_s, b_p = _rmsprop_bound(p.grad, _clipped_bound(g, tol[name], norm_r, dnorm, clip), s_prev[i], ds[i],
                                      p.detach(), dp[i], tol["u"])
            err_s = (step.square[i].double() - s_now).abs()
            err_p = (step.params[i].double() - p.detach().double()).abs()
            assert bool((err_s <= b_s).all()), f"update {k}: square average of {name} off by {float(err_s.max()):.3g}"
            assert bool((err_p <= b_p).all()), f"update {k}: {name} off by {float((err_p - b_p).max()):.3g} beyond its bound"
            new_ds.append(b_s)
            new_dp.append(b_p)
        ds, dp = new_ds, new_dp
    moved = max(float((p.detach() - q.detach()).abs().max()) for p, q in zip(_params(_model(head, act, dtype)), rp))
    assert moved > 0.0
    return dp, rp


@pytest.mark.parametrize("head", list(HEAD_TASK))
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("batch", [1, 16, 128])
@pytest.mark.parametrize("clip_active", [False, True], ids=["noclip", "clip"])
def test_one_update_equals_the_reference_in_float32(head, act, batch, clip_active):
    _compare_updates(head, act, batch, torch.float32, clip_active, updates=1)


@pytest.mark.parametrize("head", list(HEAD_TASK))
@pytest.mark.parametrize("act", ACTS)
def test_one_update_equals_the_reference_in_float64(head, act):
    for clip_active in (False, True):
        dp, rp = _compare_updates(head, act, 16, torch.float64, clip_active, updates=1)
        assert max(float((b / (p.detach().abs() + 1e-3)).max()) for b, p in zip(dp, rp)) < 1e-6


@pytest.mark.parametrize("head", list(HEAD_TASK))
@pytest.mark.parametrize("act", ACTS)
def test_fifty_updates_stay_with_the_reference(head, act):
    _compare_updates(head, act, 16, torch.float32, clip_active=(act == "elu"), updates=50)


@pytest.mark.parametrize("head", list(HEAD_TASK))
def test_chunk_boundaries_and_the_aten_fallback_change_nothing(head):
    """Small chunks (a boundary inside the batch's steps) and ATen's products instead of BLAS, in float64."""
    ops = fused._ops()
    try:
        for chunk, blas in ((1, True), (7 * 16 - 3, True), (5, False)):
            ops.set_chunk_rows(chunk)
            ops.set_blas(blas)
            _compare_updates(head, "tanh", 16, torch.float64, clip_active=False, updates=1)
    finally:
        ops.set_chunk_rows(1024)
        ops.set_blas(True)


def test_buffers_are_reused_across_updates():
    m, _, step, _ = _pair("ce_steps", "elu", torch.float32, clip=10.0)
    x, y = _batch("ce_steps", 16, 0, torch.float32)
    step(x, y)
    held, ptrs = step.buffer_bytes(), {k: v.data_ptr() for k, v in step._buffers.items()}
    for _ in range(3):
        step(x, y)
    assert step.buffer_bytes() == held and {k: v.data_ptr() for k, v in step._buffers.items()} == ptrs
    assert step.params[1].data_ptr() == m.rnn.weight_hh.data_ptr()  # the model's own weights, updated in place


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_nan_loss_diverges_before_any_change_as_in_the_reference(dtype):
    m, ref, step, opt = _pair("ce_steps", "elu", dtype, clip=10.0)
    x, y = _batch("ce_steps", 4, 0, dtype)
    x[1, 3, 0] = math.nan
    before = [p.detach().clone() for p in _params(m)]
    loss_f, norm_f = step(x, y)
    loss_r, norm_r = fused.reference_step(ref, opt, _task("ce_steps"), x, y, 10.0)
    assert math.isnan(loss_f) and math.isnan(norm_f) and math.isnan(loss_r) and math.isnan(norm_r)
    assert all(torch.equal(a, p) for a, p in zip(before, _params(m)))
    assert all(float(s.abs().max()) == 0.0 for s in step.square)


def test_a_norm_beyond_float32_diverges_before_any_change_as_in_the_reference():
    """Finite float32 gradients whose norm overflows float32: the reference's norm is inf, and so is the step's."""
    m, ref, step, opt = _pair("mse_last", "relu", torch.float32, clip=10.0)
    with torch.no_grad():
        for model in (m, ref):  # z = 1e18 (loss 1e36, finite); dV = dz h^T = 2e18 x 1e18 per entry
            model.rnn.weight_hh.zero_()
            model.rnn.weight_ih.zero_()
            model.rnn.bias.fill_(1e18)
            model.readout.weight.fill_(1.0 / HIDDEN)
            model.readout.bias.zero_()
    x, y = torch.zeros(1, 3, 2), torch.zeros(1, 1)
    before = [p.detach().clone() for p in _params(m)]
    loss_f, norm_f = step(x, y)
    loss_r, norm_r = fused.reference_step(ref, opt, _task("mse_last"), x, y, 10.0)
    assert math.isfinite(loss_r) and math.isinf(norm_r)
    assert loss_f == pytest.approx(loss_r, rel=1e-6) and math.isinf(norm_f)
    assert all(torch.equal(a, p) for a, p in zip(before, _params(m)))


def test_heads_of_the_tasks():
    assert [fused.head_of(tasks.get_task(t)) for t in ("copy", "psmnist", "addition")] == list(HEAD_TASK)

    class OwnLoss(tasks.synthetic.CopyTask):
        def loss(self, output, target):
            return super().loss(output, target) * 2

    assert fused.head_of(OwnLoss(T=T_STEPS)) is None
    assert "loss the fused step does not know" in fused.why_not_fused(_model("ce_steps", "elu", torch.float32),
                                                                     OwnLoss(T=T_STEPS))


def test_bad_input_is_refused_with_a_clear_error():
    m, _, step, _ = _pair("ce_steps", "elu", torch.float32, clip=10.0)
    x, y = _batch("ce_steps", 4, 0, torch.float32)
    with pytest.raises(ValueError, match=r"\(batch, steps, inputs\) tensor, got"):
        step(x[0], y)
    with pytest.raises(ValueError, match="has 3 input channels, the model expects 10"):
        step(x[..., :3], y)
    bad = y.clone()
    bad[2, 5] = 9
    with pytest.raises(ValueError, match=r"target class 9 is outside \[0, 9\)"):
        step(x, bad)
    with pytest.raises(ValueError, match="batch x steps class indices, got 4"):
        step(x, y[:, 0])
    with pytest.raises(ValueError, match="not an nnrnn.models.SequenceModel"):
        fused.FusedStep(torch.nn.Linear(2, 2), _task("ce_steps"), lr=LR, alpha=ALPHA, eps=EPS, clip_norm=1.0)
    with pytest.raises(ValueError, match="float32 or float64"):
        fused.FusedStep(copy.deepcopy(m).half(), _task("ce_steps"), lr=LR, alpha=ALPHA, eps=EPS, clip_norm=1.0)
    with pytest.raises(ValueError, match="per_step"):
        fused.FusedStep(m, _task("ce_last"), lr=LR, alpha=ALPHA, eps=EPS, clip_norm=1.0)
    with pytest.raises(ValueError, match="lr"):
        fused.FusedStep(m, _task("ce_steps"), lr=-1.0, alpha=ALPHA, eps=EPS, clip_norm=1.0)


def test_step_on_updates_slices_of_a_stack_in_place_as_a_lone_step_does():
    """What a lockstep group does (nnrnn.lockstep): one FusedStep, each run stepped on its own
    64-byte aligned slices of stacked parameters and square averages. The same C++ call on the
    same values and alignment: equal to each run's own FusedStep bit for bit (one process)."""
    models_ = [_model("ce_last", act, torch.float32) for act in ("elu", "elu", "elu")]
    for k, m in enumerate(models_[1:], 1):
        with torch.no_grad():
            for p in _params(m):
                p.mul_(1 + 0.1 * k)
    alone = [copy.deepcopy(m) for m in models_]
    lrs = (1e-3, 3e-4, 1e-4)
    steps = [fused.FusedStep(m, _task("ce_last"), lr=lr, alpha=ALPHA, eps=EPS, clip_norm=1.0) for m, lr in zip(alone, lrs)]
    stacks = [fused.aligned_stack(torch.stack([p.detach() for p in ps])) for ps in zip(*map(_params, models_))]
    square = [fused.aligned_stack(torch.zeros_like(s)) for s in stacks]
    assert all(s[k].data_ptr() % 64 == 0 for s in stacks + square for k in range(3))
    shared = fused.FusedStep(models_[0], _task("ce_last"), lr=1.0, alpha=ALPHA, eps=EPS, clip_norm=1.0)
    for i in range(3):
        x, y = _batch("ce_last", 16, i, torch.float32)
        for k in range(3):
            got = shared.step_on(x, y, [s[k] for s in stacks], [s[k] for s in square], lrs[k])
            assert got == steps[k](x, y)
    for k in range(3):
        assert all(torch.equal(s[k], p) for s, p in zip(stacks, steps[k].params))
        assert all(torch.equal(s[k], q) for s, q in zip(square, steps[k].square))
    with pytest.raises(ValueError, match=r"params must be tensors of shapes \[\(8, 1\), \(8, 8\)"):
        shared.step_on(x, y, [s[0] for s in stacks[:4]], [s[0] for s in square], 1e-3)
