r"""Vanilla (Elman) RNNs with a fast hand-written backward through time, and task models.

The recurrence, in ``torch.nn.RNN``'s column convention (see :mod:`nnrnn.init`):

.. math:: h_t = f(W h_{t-1} + U x_t + b), \qquad f \in \{\mathrm{elu}, \mathrm{relu}, \tanh\}

with ``W = weight_hh`` of shape ``(N, N)``, ``U = weight_ih`` of shape ``(N, d)`` and a single
bias ``b`` of shape ``(N,)``. ``elu`` (the paper's choice for copy and psMNIST) is missing from
``torch.nn.RNN``, so :class:`ElmanRNN` brings its own engine:

* the inputs of all steps are projected with one matmul before the loop;
* the loop writes each step into the output buffer in place, so only the hidden states are kept
  (the derivative of each nonlinearity is recomputed from its output:
  elu' = min(h, 0) + 1, relu' = [h > 0], tanh' = 1 - h^2);
* the backward loop needs one matmul per step for the hidden gradient; the weight gradients
  are a few large matmuls over many steps at once (over all steps in the Python engine, over
  chunks of about 4096 rows of steps x batch in the C++ one, which keeps its buffer in cache);
* a last-step readout (``h_last`` only) sends no ``(T, B, N)`` gradient of zeros back.

Four engines compute the same function (``engine=`` or the ``NNRNN_ENGINE`` environment
variable, read at every call):

* ``"cpp"``: the loops in a C++ extension (``nnrnn/csrc/elman.cpp``), compiled on first use
  and cached (:mod:`nnrnn.cpp_build`: a folder per source hash, a build lock with a timeout);
  CPU, float32/float64.
* ``"python"``: the same algorithm in pure PyTorch; any device.
* ``"autograd"``: a plain loop differentiated by autograd, the reference for the tests.
* ``"auto"`` (default): ``"cpp"`` on the CPU when the extension builds, else ``"python"``. If the
  build fails, or another process holds its build lock past ``NNRNN_BUILD_TIMEOUT_S``, a single
  warning says so (and why) at first use, never at import.

Task models (:func:`model_for`) follow the paper (§4.1) and the authors' Keras code: an
``ElmanRNN`` with zero bias, initialized by name (:func:`nnrnn.init.get`), then a linear readout
at every step (copy) or at the last step (addition, psMNIST). Their sizes, nonlinearity and
readout come from the :class:`nnrnn.tasks.Task` (:func:`nnrnn.tasks.get_task`).
"""

from __future__ import annotations

import math
import os
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import init as _init
from . import tasks as _tasks
from . import validate
from .cpp_build import CSRC, build_error, load_cpp_extension
from .profiles import resolve_device

__all__ = [
    "Nonlinearity",
    "Engine",
    "NONLINEARITIES",
    "ENGINES",
    "ElmanRNN",
    "SequenceModel",
    "TaskSpec",
    "model_for",
    "elman",
    "engine_available",
    "resolve_engine",
    "extension_ops",
    "ACT_CODE",
    "CHUNK_ROWS",
    "HUGEPAGE_BYTES",
    "act_",
    "act_grad",
]

Nonlinearity = Literal["elu", "relu", "tanh"]
Engine = Literal["auto", "cpp", "python", "autograd"]
#: the names of :data:`nnrnn.validate.NONLINEARITIES`, the package's one nonlinearity table.
NONLINEARITIES: tuple[str, ...] = tuple(validate.NONLINEARITIES)
ENGINES: tuple[str, ...] = ("auto", "cpp", "python", "autograd")
#: the C++ kernels' code of each nonlinearity (``nnrnn/csrc``: 0 = elu, 1 = relu, 2 = tanh).
ACT_CODE = {"elu": 0, "relu": 1, "tanh": 2}
_ENV = "NNRNN_ENGINE"
#: the C++ engine's build (:func:`nnrnn.cpp_build.load_cpp_extension`).
_EXTENSION: dict[str, Any] = {"name": "nnrnn_elman", "sources": [CSRC / "elman.cpp"],
                              "extra_cflags": ["-O3", "-fno-math-errno", "-fno-trapping-math"]}


# ----------------------------------------------------------------------------- validation


# ----------------------------------------------------------------------------- C++ extension
_ext_lock = threading.Lock()
_ext_state: dict[str, object] = {"module": None, "error": None, "warned": False}


def extension_ops():
    """Compile (first time) or load (cached) the C++ engine; return its ops, or None on failure.

    The library registers ``torch.ops.nnrnn_elman.*``; it includes no Python headers, so the
    first build takes seconds rather than a minute. It is built by
    :func:`nnrnn.cpp_build.load_cpp_extension`: one folder per source hash under
    ``TORCH_EXTENSIONS_DIR`` (default ``~/.cache/torch_extensions``), under a file lock that a
    process waits for at most ``NNRNN_BUILD_TIMEOUT_S`` seconds before it falls back.
    """
    with _ext_lock:
        if _ext_state["module"] is None and _ext_state["error"] is None:
            ops = load_cpp_extension(**_EXTENSION)
            _ext_state["module"] = ops
            if ops is None:
                _ext_state["error"] = build_error(_EXTENSION["name"]) or "unknown error"
        return _ext_state["module"]


def engine_available(engine: str = "cpp") -> bool:
    """Whether ``engine`` can run here; for ``"cpp"`` this compiles the extension if needed.

    Examples:
        >>> engine_available("python")
        True
    """
    validate.choice(engine, "engine", ENGINES)
    if engine == "cpp":
        return extension_ops() is not None
    return True


def resolve_engine(engine: str | None, device: torch.device, dtype: torch.dtype) -> str:
    """The concrete engine (``"cpp"``, ``"python"`` or ``"autograd"``) for one call.

    ``None`` reads ``NNRNN_ENGINE`` (default ``"auto"``). ``"auto"`` picks ``"cpp"`` for CPU
    float32/float64 tensors when the extension builds, else ``"python"``, warning once if the
    build failed. An explicit ``"cpp"`` that cannot run raises a ``RuntimeError``.

    Examples:
        >>> resolve_engine("python", torch.device("cpu"), torch.float32)
        'python'
    """
    if engine is None:
        engine = os.environ.get(_ENV, "auto") or "auto"
        validate.choice(engine, f"environment variable {_ENV}", ENGINES)
    else:
        validate.choice(engine, "engine", ENGINES)
    cpp_ok_here = device.type == "cpu" and dtype in (torch.float32, torch.float64)
    if engine == "cpp":
        if not cpp_ok_here:
            raise RuntimeError(
                f"engine 'cpp' runs on CPU float32/float64 tensors only, got {device.type} {dtype}; "
                "use engine='python' or 'auto'"
            )
        if extension_ops() is None:
            raise RuntimeError(
                f"engine 'cpp' is unavailable: the C++ extension failed to build ({_ext_state['error']})"
            )
        return "cpp"
    if engine == "auto":
        if not cpp_ok_here:
            return "python"
        if extension_ops() is not None:
            return "cpp"
        if not _ext_state["warned"]:
            _ext_state["warned"] = True
            reason = str(_ext_state["error"])
            if len(reason) > 600:
                reason = reason[:300] + " ... " + reason[-300:]
            warnings.warn(
                "nnrnn: the C++ RNN engine could not be built; using the pure-PyTorch engine "
                "(slower on CPU, same results; NNRNN_ENGINE=python silences this). "
                f"Reason: {reason}",
                RuntimeWarning,
                stacklevel=3,
            )
        return "python"
    return engine


# ----------------------------------------------------------------------------- the engine
def act_(a: Tensor, act: str) -> Tensor:
    """Apply the nonlinearity in place."""
    if act == "elu":
        return F.elu_(a)
    if act == "relu":
        return torch.relu_(a)
    return torch.tanh_(a)


def act_grad(dh: Tensor, h: Tensor, act: str, out: Tensor) -> Tensor:
    """``out = dh * f'(a)`` with ``f'`` computed from the output ``h = f(a)``."""
    if act == "elu":
        return torch.mul(dh, h.clamp(max=0.0).add_(1.0), out=out)
    if act == "relu":
        return torch.mul(dh, h > 0, out=out)
    return torch.mul(dh, torch.addcmul(torch.ones_like(h), h, h, value=-1.0), out=out)


def _py_forward_(out: Tensor, h0: Tensor, w: Tensor, act: str) -> None:
    """Run the recurrence in place: ``out[t] <- f(out[t] + out[t-1] @ W^T)``."""
    wt = w.t()
    prev = h0
    for t in range(out.shape[0]):
        cur = out[t]
        cur.addmm_(prev, wt)
        act_(cur, act)
        prev = cur


def _py_backward(
    grad: Tensor | None, grad_last: Tensor | None, out: Tensor, w: Tensor, act: str, need_h0: bool
) -> tuple[Tensor, Tensor | None]:
    """Gradients w.r.t. the pre-activations (T, B, N) and w.r.t. h0 (B, N) (None if not needed)."""
    steps = out.shape[0]
    da = torch.empty_like(out)
    if grad_last is not None:
        dh = grad_last.clone() if grad is None else grad_last + grad[steps - 1]
    elif grad is not None:
        dh = grad[steps - 1].clone()
    else:
        dh = torch.zeros_like(out[0])
    for t in range(steps - 1, -1, -1):
        act_grad(dh, out[t], act, da[t])
        if t > 0:
            if grad is None:
                torch.mm(da[t], w, out=dh)
            else:
                torch.addmm(grad[t - 1], da[t], w, out=dh)
    return da, (da[0] @ w if need_h0 else None)


#: rows (steps x batch) per chunk of the C++ backward; its da buffer is rows x N values.
CHUNK_ROWS = 4096
#: state buffers at least this large get transparent huge pages (Linux, C++ engine).
HUGEPAGE_BYTES = 8 << 20


class _ElmanFunction(torch.autograd.Function):
    """Hand-written BPTT; inputs are time-major ``x (T, B, d)``; returns (all states, last state)."""

    @staticmethod
    def forward(ctx, x, h0, weight_ih, weight_hh, bias, act: str, use_cpp: bool):
        steps, batch, d = x.shape
        n = weight_hh.shape[0]
        out = torch.empty(steps, batch, n, dtype=x.dtype, device=x.device)
        if use_cpp and out.nbytes >= HUGEPAGE_BYTES:
            _ext_state["module"].advise_hugepages(out)  # before the first touch
        x2 = x.reshape(steps * batch, d).contiguous()  # a copy when x is a batch-first view
        if bias is None:
            torch.mm(x2, weight_ih.t(), out=out.view(steps * batch, n))
        else:
            torch.addmm(bias, x2, weight_ih.t(), out=out.view(steps * batch, n))
        h0c = h0.contiguous()
        if use_cpp:
            _ext_state["module"].forward_(out, h0c, weight_hh.contiguous(), ACT_CODE[act])
        else:
            _py_forward_(out, h0c, weight_hh, act)
        ctx.set_materialize_grads(False)  # a last-step readout then sends no (T, B, N) zeros back
        ctx.save_for_backward(x2.view(steps, batch, d), h0c, weight_ih, weight_hh, out)
        ctx.act = act
        ctx.use_cpp = use_cpp
        ctx.has_bias = bias is not None
        return out, out[-1].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad, grad_last):
        x, h0, weight_ih, weight_hh, out = ctx.saved_tensors
        need_x, need_h0, need_u, need_w, need_b = ctx.needs_input_grad[:5]
        need_b = need_b and ctx.has_bias
        if grad is None and grad_last is None:
            return (None,) * 7
        steps, batch, n = out.shape
        d = x.shape[-1]
        if ctx.use_cpp:
            chunk = max(1, -(-CHUNK_ROWS // batch))
            dx, dh0, du, dw, db = _ext_state["module"].backward(
                None if grad is None else grad.contiguous(),
                None if grad_last is None else grad_last.contiguous(),
                out, x, h0, weight_ih.contiguous(), weight_hh.contiguous(), ACT_CODE[ctx.act],
                need_x, need_h0, need_u, need_w, need_b, chunk,
            )  # fmt: skip
            return dx, dh0, du, dw, db, None, None
        da, dh0 = _py_backward(grad, grad_last, out, weight_hh, ctx.act, need_h0)
        da2 = da.view(steps * batch, n)
        dx = (da2 @ weight_ih).view(steps, batch, d) if need_x else None
        du = da2.t() @ x.reshape(steps * batch, d) if need_u else None
        dw = None
        if need_w:
            dw = da[0].t() @ h0
            if steps > 1:
                dw.addmm_(da[1:].reshape(-1, n).t(), out[:-1].reshape(-1, n))
        db = da2.sum(0) if need_b else None
        return dx, dh0, du, dw, db, None, None


def _autograd_loop(
    x: Tensor, h0: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias: Tensor | None, act: str
) -> Tensor:
    """The plain reference: a step-by-step loop differentiated by autograd."""
    f = validate.NONLINEARITIES[act]
    h = h0
    hs = []
    for t in range(x.shape[0]):
        a = x[t] @ weight_ih.t() + h @ weight_hh.t()
        if bias is not None:
            a = a + bias
        h = f(a)
        hs.append(h)
    return torch.stack(hs)


def elman(
    x: Tensor,
    h0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias: Tensor | None,
    nonlinearity: str = "elu",
    engine: str | None = None,
) -> tuple[Tensor, Tensor]:
    r"""All hidden states of :math:`h_t = f(W h_{t-1} + U x_t + b)` for time-major ``x``, and the last.

    Args:
        x: inputs, shape ``(T, B, d)``.
        h0: initial state, shape ``(B, N)``.
        weight_ih: ``U``, shape ``(N, d)``.
        weight_hh: ``W``, shape ``(N, N)``.
        bias: ``b``, shape ``(N,)``, or ``None``.
        nonlinearity: ``"elu"``, ``"relu"`` or ``"tanh"``. Default: ``"elu"``.
        engine: see the module docstring. Default: ``NNRNN_ENGINE`` or ``"auto"``.

    Returns:
        ``(states, last)``: all hidden states, shape ``(T, B, N)``, and the last one, ``(B, N)``.
        When only ``last`` is used (a last-step readout), the backward pass allocates no
        ``(T, B, N)`` gradient for ``states``.

    Examples:
        >>> x = torch.zeros(3, 1, 1)
        >>> x[0, 0, 0] = 1.0                            # an impulse into unit 0
        >>> w = _init.chain_(torch.empty(3, 3))        # unit 0 -> 1 -> 2
        >>> u = _init.source_(torch.empty(3, 1), 1.0)
        >>> h, last = elman(x, torch.zeros(1, 3), u, w, None, "relu", engine="python")
        >>> h[:, 0].tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    validate.choice(nonlinearity, "nonlinearity", NONLINEARITIES)
    kind = resolve_engine(engine, x.device, x.dtype)
    if kind == "autograd":
        out = _autograd_loop(x, h0, weight_ih, weight_hh, bias, nonlinearity)
        return out, out[-1]
    return _ElmanFunction.apply(x, h0, weight_ih, weight_hh, bias, nonlinearity, kind == "cpp")


# ----------------------------------------------------------------------------- modules
class ElmanRNN(nn.Module):
    r"""Fill a sequence with the hidden states of a vanilla RNN (Elman, 1990).

    .. math:: h_t = f(W h_{t-1} + U x_t + b), \qquad h_0 = 0 \text{ unless given}

    ``weight_ih`` ``U`` (N, d) and ``weight_hh`` ``W`` (N, N) start from PyTorch's RNN default
    :math:`U(-1/\sqrt{N}, 1/\sqrt{N})`; the single ``bias`` (N,) starts at zero, the Keras
    default the paper's code used. Use :func:`nnrnn.init.init_rnn_` or :func:`model_for` for the
    paper's initializers.

    Args:
        input_size: ``d``, the number of input channels.
        hidden_size: ``N``, the number of units.
        nonlinearity: ``"elu"`` (default), ``"relu"`` or ``"tanh"``.
        bias: whether to learn ``b``. Default: ``True``.
        batch_first: inputs and outputs are ``(B, T, ·)`` if ``True`` (default), else ``(T, B, ·)``.
        engine: ``"auto"``, ``"cpp"``, ``"python"`` or ``"autograd"``; ``None`` (default) reads
            ``NNRNN_ENGINE`` at every call (see the module docstring).

    Shapes:
        ``forward(x, h0=None)`` takes ``x`` of shape ``(B, T, d)`` (batch first) and an optional
        ``h0`` of shape ``(B, N)``; it returns ``(output, h_last)``: all hidden states
        ``(B, T, N)`` (``(T, B, N)`` if not batch first) and the last one ``(B, N)``.

    Examples:
        >>> rnn = ElmanRNN(10, 100)
        >>> out, h = rnn(torch.zeros(16, 500, 10))
        >>> tuple(out.shape), tuple(h.shape), rnn.nonlinearity
        ((16, 500, 100), (16, 100), 'elu')
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        nonlinearity: Nonlinearity = "elu",
        bias: bool = True,
        batch_first: bool = True,
        engine: Engine | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.input_size = validate.positive_int(input_size, "input_size", plain=True)
        self.hidden_size = validate.positive_int(hidden_size, "hidden_size", plain=True)
        self.nonlinearity = validate.choice(nonlinearity, "nonlinearity", NONLINEARITIES)
        if engine is not None:
            validate.choice(engine, "engine", ENGINES)
        self.engine = engine
        self.batch_first = bool(batch_first)
        kw = {"device": device, "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size, **kw))
        if bias:
            self.bias = nn.Parameter(torch.empty(hidden_size, **kw))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Weights from :math:`U(-1/\\sqrt{N}, 1/\\sqrt{N})` (drawn from ``generator``), bias zero."""
        if self.weight_hh.is_meta:  # torch.nn.utils.skip_init: nothing to fill, nothing drawn
            return
        _init.plain_(self.weight_ih, self.hidden_size, generator=generator)
        _init.plain_(self.weight_hh, self.hidden_size, generator=generator)
        if self.bias is not None:
            with torch.no_grad():
                self.bias.zero_()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"
        if self.bias is None:
            s += ", bias=False"
        if not self.batch_first:
            s += ", batch_first=False"
        if self.engine is not None:
            s += f", engine={self.engine!r}"
        return s

    def _check_input(self, x: Tensor, h0: Tensor | None) -> None:
        if not isinstance(x, Tensor):
            raise ValueError(f"ElmanRNN expects a torch.Tensor input, got {type(x).__name__}")
        layout = "(batch, time, features)" if self.batch_first else "(time, batch, features)"
        if x.ndim != 3:
            raise ValueError(f"ElmanRNN expects a 3-D input {layout}, got shape {tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"ElmanRNN expects input_size={self.input_size} features in the last dimension, "
                f"got {x.shape[-1]} (input shape {tuple(x.shape)})"
            )
        steps = x.shape[1] if self.batch_first else x.shape[0]
        if steps < 1 or x.numel() == 0:
            raise ValueError(f"ElmanRNN expects at least one time step and one sequence, got shape {tuple(x.shape)}")
        if x.dtype != self.weight_hh.dtype or x.device != self.weight_hh.device:
            raise ValueError(
                f"input dtype/device {x.dtype}/{x.device} differ from the weights' "
                f"{self.weight_hh.dtype}/{self.weight_hh.device}"
            )
        if h0 is not None:
            batch = x.shape[0] if self.batch_first else x.shape[1]
            if not isinstance(h0, Tensor) or tuple(h0.shape) != (batch, self.hidden_size):
                got = tuple(h0.shape) if isinstance(h0, Tensor) else type(h0).__name__
                raise ValueError(f"h0 must have shape {(batch, self.hidden_size)}, got {got}")

    def forward_time_major(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """All hidden states ``(T, B, N)`` and the last ``(B, N)`` for ``x`` in this module's layout.

        No input checks (see :meth:`forward`).
        """
        xt = x.transpose(0, 1) if self.batch_first else x
        if h0 is None:
            h0 = torch.zeros(xt.shape[1], self.hidden_size, dtype=x.dtype, device=x.device)
        return elman(xt, h0, self.weight_ih, self.weight_hh, self.bias, self.nonlinearity, self.engine)

    def forward(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self._check_input(x, h0)
        out, last = self.forward_time_major(x, h0)
        return (out.transpose(0, 1) if self.batch_first else out), last


class SequenceModel(nn.Module):
    """An :class:`ElmanRNN` followed by a linear readout at every step or at the last step.

    Args:
        rnn: the recurrent layer (batch first).
        readout: a module mapping ``(..., N)`` to ``(..., out)``, usually ``nn.Linear``.
        per_step: readout at every step (``(B, T, out)`` logits, the copy task) if ``True``,
            else at the last step only (``(B, out)``, addition and psMNIST).

    The per-step readout is one matmul over all steps after the loop.

    Examples:
        >>> m = SequenceModel(ElmanRNN(10, 8), nn.Linear(8, 9), per_step=True)
        >>> tuple(m(torch.zeros(2, 5, 10)).shape)
        (2, 5, 9)
    """

    def __init__(self, rnn: ElmanRNN, readout: nn.Module, per_step: bool) -> None:
        super().__init__()
        if not isinstance(rnn, ElmanRNN):
            raise ValueError(f"rnn must be an ElmanRNN, got {type(rnn).__name__}")
        if not rnn.batch_first:
            raise ValueError("SequenceModel expects a batch-first ElmanRNN (batch_first=True)")
        self.rnn = rnn
        self.readout = readout
        self.per_step = bool(per_step)

    def extra_repr(self) -> str:
        return f"per_step={self.per_step}"

    def forward(self, x: Tensor) -> Tensor:
        self.rnn._check_input(x, None)
        out, last = self.rnn.forward_time_major(x)
        if self.per_step:
            return self.readout(out).transpose(0, 1)
        return self.readout(last)


# ----------------------------------------------------------------------------- task models
@dataclass(frozen=True)
class TaskSpec:
    """Deprecated: the sizes of a task's model; use the :class:`nnrnn.tasks.Task` itself
    (:func:`nnrnn.tasks.get_task`), from which :data:`TASK_SPECS` is computed."""

    name: str
    input_size: int
    output_size: int
    per_step: bool
    nonlinearity: str
    hidden_size: int
    seq_len: int
    description: str


def _task_spec(task: _tasks.Task) -> TaskSpec:
    return TaskSpec(task.name, task.input_size, task.output_size, task.per_step, task.default_nonlinearity,
                    task.default_hidden, task.T, task.description)


def __getattr__(name: str) -> Any:
    """``TASK_SPECS``, deprecated: computed from the task registry on each access, with a warning."""
    if name == "TASK_SPECS":
        warnings.warn("nnrnn.models.TASK_SPECS is deprecated; use nnrnn.tasks.get_task(name) (its input_size, "
                      "output_size, per_step, default_hidden, default_nonlinearity, T)", DeprecationWarning, stacklevel=2)
        return {t: _task_spec(_tasks.get_task(t)) for t in _tasks.task_names()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _uniform_(t: Tensor, bound: float, generator: torch.Generator | None) -> None:
    with torch.no_grad():
        t.copy_((2 * torch.rand(t.shape, generator=generator, dtype=torch.float64) - 1) * bound)


def model_for(
    task: str | _tasks.Task,
    init: str,
    scale: float,
    *,
    hidden_size: int | None = None,
    nonlinearity: str | None = None,
    orientation: str = "forward",
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    engine: Engine | None = None,
) -> SequenceModel:
    r"""Build the paper's model for ``task`` (a name or a :class:`nnrnn.tasks.Task`) with a named initializer.

    The recurrent and input weights are set by :func:`nnrnn.init.get` ``(init)`` with ``scale``
    (λ for identity/orthogonal, α for chain, β for fb_chain); the RNN bias is zero; the readout
    is ``nn.Linear`` with PyTorch's default :math:`U(-1/\sqrt{N}, 1/\sqrt{N})` weights and bias.
    Every draw comes from ``generator`` (on the CPU, in float64, then cast), so equal
    generators give identical models on every device.

    Args:
        task: ``"copy"``, ``"addition"``, ``"psmnist"`` (:func:`nnrnn.tasks.get_task`) or a
            :class:`nnrnn.tasks.Task`, whose ``input_size``, ``output_size``, ``per_step``,
            ``default_hidden`` and ``default_nonlinearity`` define the model.
        init: ``"identity"``, ``"orthogonal"``, ``"chain"`` or ``"fb_chain"``.
        scale: the initializer's scale.
        hidden_size: ``N``. Default: the task's (100, 100, 25).
        nonlinearity: default: the task's (elu, relu, elu).
        orientation: ``"forward"`` (default; the chain runs 0 -> N-1) or ``"reversed"`` (the
            recurrent matrix transposed, the authors' PyTorch layout; an ablation). Identity
            and orthogonal ignore it.
        generator: source of randomness. Default: torch's global generator.
        dtype: parameter dtype. Default: ``torch.float32``.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"auto"`` or a ``torch.device``.
        engine: the RNN engine (see :class:`ElmanRNN`). Default: ``NNRNN_ENGINE`` or ``"auto"``.

    Examples:
        >>> m = model_for("copy", "chain", 1.0, generator=torch.Generator().manual_seed(0))
        >>> m.rnn.weight_hh[1, 0].item(), tuple(m(torch.zeros(2, 30, 10)).shape)
        (1.0, (2, 30, 9))
        >>> tuple(model_for("psmnist", "orthogonal", 1.0)(torch.zeros(2, 7, 1)).shape)
        (2, 10)
    """
    spec = task if isinstance(task, _tasks.Task) else _tasks.get_task(task)
    init_spec = _init.get(init)
    validate.choice(orientation, "orientation", ("forward", "reversed"))
    n = spec.default_hidden if hidden_size is None else validate.positive_int(hidden_size, "hidden_size", plain=True)
    act = spec.default_nonlinearity if nonlinearity is None else validate.choice(nonlinearity, "nonlinearity", NONLINEARITIES)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise validate.error("dtype", "a floating-point torch.dtype", dtype)
    dev = device if isinstance(device, torch.device) else resolve_device(device)

    # skip_init: no draws from the global RNG; every value is set below from ``generator``.
    rnn = nn.utils.skip_init(ElmanRNN, spec.input_size, n, act, True, True, engine, dtype=torch.float64)
    with torch.no_grad():
        init_spec.recurrent(rnn.weight_hh, scale, generator)
        init_spec.input(rnn.weight_ih, generator)
        if orientation == "reversed" and init in ("chain", "fb_chain"):
            rnn.weight_hh.copy_(rnn.weight_hh.T.clone())
        rnn.bias.zero_()
    readout = nn.utils.skip_init(nn.Linear, n, spec.output_size, dtype=torch.float64)
    bound = 1.0 / math.sqrt(n)
    _uniform_(readout.weight, bound, generator)
    _uniform_(readout.bias, bound, generator)
    return SequenceModel(rnn, readout, spec.per_step).to(device=dev, dtype=dtype)
