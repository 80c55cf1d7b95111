r"""Training and evaluating one language model, awd-lstm-lm style.

* :func:`train_lm`: truncated BPTT over :func:`nnrnn.data.batchify` columns, awd-lstm-lm's
  random window lengths (``bptt`` with probability 0.95, else ``bptt/2``, then Gaussian jitter
  of s.d. 5, at least 5, with the learning rate scaled by ``seq_len/bptt``), hidden state
  carried across windows, Adam with weight decay, activation (``ar_alpha``) and temporal
  activation (``tar_beta``) regularization, gradient-norm clipping, the learning rate divided
  by 10 after each epoch in ``when`` (as awd-lstm-lm's ``main.py``: after that epoch's
  validation, so epoch ``e + 1`` is the first at the lower rate), a resumable checkpoint per
  epoch (:mod:`nnrnn.checkpoints`: SHA-256 record and code version of :data:`CODE`; a damaged
  one or one of other code is refused and set aside, a save the disk refuses is a warning) and
  a final one kept after training (the caller removes it once the run is stored), and the
  weights of the best validation point kept for the test.
* :func:`evaluate`: the mean negative log-likelihood of every next token of a split, with
  the hidden state carried across windows as awd-lstm-lm evaluates. We divide by the number
  of predicted tokens; awd-lstm-lm's ``evaluate`` divides by ``batch × rows`` of the
  batchified split, one row more, so its value is ours times ``1 - 1/rows`` (a relative
  difference near 10⁻⁵ on the test splits at batch 1).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from .. import checkpoints as _ckpt
from ..data import batchify, get_batch, load_corpus
from ..profiles import resolve_device
from .config import LMConfig, bits_to_perplexity, nats_to_bits
from .model import LanguageModel, stream, build_model

__all__ = ["evaluate", "train_lm", "LMResult", "CODE", "inspect_checkpoint", "get_corpus", "split_corpus"]

#: the package sources whose code determines a language model's training: a checkpoint written by
#: other code is refused (:func:`nnrnn.checkpoints.code_version`).
CODE = ("lm/train.py", "lm/model.py", "models.py", "init.py", "csrc/*.cpp")

#: what a language-model checkpoint must hold.
_KEYS = ("hash", "epoch", "update", "model", "optimizer", "history", "best_val", "best_epoch", "best_state",
         "batch_gen", "dropout_gen", "wall_s")


def _repackage(h):
    """Detach a hidden state (tensor, tuple or list of them) from its history."""
    if isinstance(h, Tensor):
        return h.detach()
    return type(h)(_repackage(v) for v in h)


# ----------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate(model: LanguageModel, tokens: Tensor, *, batch_size: int, bptt: int) -> float:
    """Mean negative log-likelihood (nats) of every next token of ``tokens``, awd-lstm-lm style.

    ``tokens`` (1-D) is cut into ``batch_size`` columns with :func:`nnrnn.data.batchify`; the
    model reads them in windows of ``bptt`` rows, carrying its hidden state from window to
    window, from a zero state at the start. Every token but the first of each column is
    predicted once. Dropout is off.

    Examples:
        >>> cfg = LMConfig(corpus="ptb-char", nlayers=1, emsize=4, nhid=4, init="chain")
        >>> m = build_model(cfg, ntoken=7)
        >>> _ = torch.nn.init.zeros_(m.decoder.weight), torch.nn.init.zeros_(m.decoder.bias)  # uniform predictions
        >>> round(evaluate(m, torch.arange(100) % 7, batch_size=4, bptt=10) / math.log(7), 6)
        1.0
    """
    was_training = model.training
    model.eval()
    device = model.encoder.weight.device
    source = batchify(tokens, batch_size).to(device)
    hidden = model.init_hidden(batch_size)
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    for i in range(0, source.shape[0] - 1, bptt):
        data, targets = get_batch(source, i, bptt)
        logits, hidden = model(data, hidden)
        total += F.cross_entropy(logits.reshape(-1, model.ntoken), targets, reduction="sum").double()
        count += targets.numel()
    model.train(was_training)
    return float(total) / count


# ----------------------------------------------------------------------------- training
@lru_cache(maxsize=3)
def get_corpus(name: str, data_dir: str | None, download: bool):
    """The corpus ``name``, loaded once per process (see :func:`nnrnn.data.load_corpus`)."""
    return load_corpus(name, data_dir=data_dir, download=download)


def split_corpus(cfg: LMConfig, corpus) -> tuple[Tensor, Tensor, Tensor]:
    """The training, validation and test tokens of ``corpus`` that ``cfg`` uses (its ``*_tokens`` caps)."""

    def cut(t: Tensor, n: int | None) -> Tensor:
        return t if n is None else t[:n]

    return cut(corpus.train, cfg.train_tokens), cut(corpus.valid, cfg.valid_tokens), cut(corpus.test, cfg.test_tokens)


@dataclass
class LMResult:
    """What one language-model run produced.

    Attributes:
        config: the :class:`LMConfig`.
        history: one row per validation point: ``point`` (its index), ``epoch`` (fractional),
            ``update``,
            ``train_bits`` (mean training loss since the previous point, without AR/TAR),
            ``val_bits``, ``lr`` and ``wall_s``. Row 0 is the untrained model.
        test_bits: test loss in bits of the best-validation weights (NaN if diverged).
        best_val_bits, best_epoch: the best validation point.
        state_dict: the best-validation weights, on the CPU.
        status: ``"finished"`` or ``"diverged"``.
    """

    config: LMConfig
    history: pd.DataFrame
    test_bits: float
    best_val_bits: float
    best_epoch: float
    state_dict: dict[str, Tensor]
    status: str
    wall_s: float
    n_params: int
    ntoken: int
    device: str
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        s = {
            "status": self.status,
            "test_bits": self.test_bits,
            "best_val_bits": self.best_val_bits,
            "best_epoch": self.best_epoch,
            "final_val_bits": float(self.history["val_bits"].iloc[-1]),
            "wall_s": self.wall_s,
            "n_params": self.n_params,
            "ntoken": self.ntoken,
            "device": self.device,
        }
        if self.config.corpus == "ptb":
            s["test_perplexity"] = bits_to_perplexity(self.test_bits) if math.isfinite(self.test_bits) else float("nan")
        s.update(self.extra)
        return s


def _eval_rows(nrows: int, k: int) -> list[int]:
    """Row offsets after which to validate inside an epoch: ``k - 1`` evenly spaced points
    (the ``k``-th is the end of the epoch)."""
    last = nrows - 1
    return sorted({max(1, round(j * last / k)) for j in range(1, k)})


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Save a checkpoint (:func:`nnrnn.checkpoints.save`); a refused write is a warning, and training goes on."""
    try:
        _ckpt.save(path, state, code=_ckpt.code_version(CODE))
    except _ckpt.CheckpointWriteError as exc:
        warnings.warn(f"{exc}; training goes on", _ckpt.CheckpointWarning, stacklevel=2)


def inspect_checkpoint(path: str | os.PathLike) -> tuple[dict | None, tuple[str, str] | None]:
    """``(state, problem)`` of a language-model checkpoint, as :func:`nnrnn.checkpoints.inspect` (nothing moved)."""
    return _ckpt.inspect(path, code=_ckpt.code_version(CODE), keys=_KEYS)


def train_lm(
    cfg: LMConfig,
    *,
    corpus=None,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    checkpoint: str | os.PathLike | None = None,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
) -> LMResult:
    """Train the language model of ``cfg`` and test its best-validation weights.

    Args:
        cfg: the run's :class:`LMConfig`.
        corpus: a loaded :class:`nnrnn.data.Corpus`; default: load ``cfg.corpus`` (cached per
            process) from ``data_dir`` (see :func:`nnrnn.data.load_corpus`).
        download: allow a download of missing data files.
        device: overrides ``cfg.device``.
        progress: a tqdm bar over windows; ``None`` (default) shows it only on a terminal.
        checkpoint: a file to save a resumable state to at the end of every epoch and, once
            more, when training ends (kept: the caller removes it once the run is stored); if it
            exists, training resumes from it (same config required); from a finished run's
            final checkpoint, the result returns without training. A damaged checkpoint, or one written by other training code, is
            refused with a warning naming it, set aside, and training starts afresh.
        on_eval: called with each history row.

    Determinism: the initial weights, the window lengths and the dropout masks come from
    three generators seeded from ``cfg.seed``; torch's global RNG is not used. On a GPU some
    kernels are not bitwise deterministic.
    """
    t0 = time.perf_counter()
    dev = resolve_device(str(device) if device is not None else cfg.device)
    if corpus is None:
        corpus = get_corpus(cfg.corpus, None if data_dir is None else str(data_dir), download)
    ntoken = len(corpus.dictionary)
    train_tok, valid_tok, test_tok = split_corpus(cfg, corpus)
    train_data = batchify(train_tok, cfg.batch_size).to(dev)
    nrows = train_data.shape[0]
    if nrows < 3:
        raise ValueError(f"{len(train_tok)} training tokens are too few for batch_size={cfg.batch_size}")

    model = build_model(cfg, ntoken, device=dev)
    model.dropout_generator = stream(cfg.seed, "dropout", dev)
    batch_gen = stream(cfg.seed, "bptt")
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.wdecay)
    n_params = sum(p.numel() for p in params)

    def val_bits() -> float:
        return nats_to_bits(evaluate(model, valid_tok, batch_size=cfg.eval_batch_size, bptt=cfg.bptt))

    rows: list[dict[str, Any]] = []
    best: dict[str, Any] = {"val": math.inf, "epoch": 0.0, "state": None}
    start_epoch, update, status = 1, 0, "finished"
    ckpt = Path(checkpoint) if checkpoint is not None else None
    st = None if ckpt is None else _ckpt.load(ckpt, code=_ckpt.code_version(CODE), keys=_KEYS)
    if st is not None:
        if st.get("hash") != cfg.hash():
            raise ValueError(f"checkpoint {ckpt} belongs to config {st.get('hash')}, not {cfg.hash()}")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        rows = list(st["history"])
        best = {"val": st["best_val"], "epoch": st["best_epoch"], "state": st["best_state"]}
        start_epoch, update = int(st["epoch"]) + 1, int(st["update"])
        status = str(st.get("status", "finished"))
        if status != "finished":  # a diverged run's final checkpoint: nothing left to train
            start_epoch = cfg.epochs + 1
        batch_gen.set_state(st["batch_gen"])
        model.dropout_generator.set_state(st["dropout_gen"])
        t0 -= float(st["wall_s"])
    done_before = start_epoch > cfg.epochs  # a finished run's checkpoint

    def snapshot(epoch: int) -> dict[str, Any]:
        return {"hash": cfg.hash(), "epoch": epoch, "update": update, "model": model.state_dict(),
                "optimizer": opt.state_dict(), "history": rows, "best_val": best["val"], "best_epoch": best["epoch"],
                "best_state": best["state"], "batch_gen": batch_gen.get_state(),
                "dropout_gen": model.dropout_generator.get_state(), "wall_s": time.perf_counter() - t0, "status": status}

    def record(epoch: float, train_bits: float) -> dict[str, Any]:
        v = val_bits()
        row = {"point": len(rows), "epoch": epoch, "update": update, "train_bits": train_bits, "val_bits": v,
               "lr": opt.param_groups[0]["lr"], "wall_s": time.perf_counter() - t0}
        rows.append(row)
        if v < best["val"]:
            best.update(val=v, epoch=epoch, state={k: t.detach().to("cpu").clone() for k, t in model.state_dict().items()})
        if on_eval is not None:
            on_eval(row)
        return row

    if not rows:
        record(0.0, float("nan"))
    points = _eval_rows(nrows, cfg.evals_per_epoch)
    bar = tqdm(total=(cfg.epochs - start_epoch + 1) * (nrows - 1), disable=(not progress) if progress is not None else None,
               leave=False, desc=f"{cfg.corpus} {cfg.cell} {cfg.init} seed={cfg.seed}", unit="row")
    model.train()
    try:
        for epoch in range(start_epoch, cfg.epochs + 1):
            hidden = model.init_hidden(cfg.batch_size)
            i, run_nats, run_tokens, next_point = 0, 0.0, 0, 0
            while i < nrows - 2:
                seq_len = cfg.bptt
                if cfg.variable_bptt:
                    b = cfg.bptt if float(torch.rand((), generator=batch_gen)) < 0.95 else cfg.bptt / 2.0
                    seq_len = max(5, int(b + 5.0 * float(torch.randn((), generator=batch_gen))))
                lr = opt.param_groups[0]["lr"]
                opt.param_groups[0]["lr"] = lr * seq_len / cfg.bptt
                data, targets = get_batch(train_data, i, seq_len)
                hidden = _repackage(hidden)
                opt.zero_grad(set_to_none=True)
                logits, hidden, raw, dropped = model(data, hidden, return_h=True)
                raw_loss = F.cross_entropy(logits.reshape(-1, ntoken), targets)
                loss = raw_loss
                if cfg.ar_alpha:
                    loss = loss + cfg.ar_alpha * dropped.pow(2).mean()
                if cfg.tar_beta:
                    loss = loss + cfg.tar_beta * (raw[1:] - raw[:-1]).pow(2).mean()
                lv = raw_loss.item()
                if not math.isfinite(loss.item()):
                    status = "diverged"
                    break
                loss.backward()
                if cfg.clip:
                    torch.nn.utils.clip_grad_norm_(params, cfg.clip)
                opt.step()
                opt.param_groups[0]["lr"] = lr
                update += 1
                run_nats += lv * targets.numel()
                run_tokens += targets.numel()
                i += data.shape[0]
                bar.update(data.shape[0])
                while next_point < len(points) and i >= points[next_point]:
                    next_point += 1
                    frac = (epoch - 1) + min(i, nrows - 1) / (nrows - 1)
                    row = record(frac, nats_to_bits(run_nats / max(run_tokens, 1)))
                    run_nats, run_tokens = 0.0, 0
                    bar.set_postfix(val_bits=f"{row['val_bits']:.4f}")
                    if not math.isfinite(row["val_bits"]):
                        status = "diverged"
                if status != "finished":
                    break
            if status != "finished":
                break
            record(float(epoch), nats_to_bits(run_nats / run_tokens) if run_tokens else float("nan"))
            if epoch in cfg.when:  # as awd-lstm-lm: after validating epoch `epoch`, so epoch + 1 is the first at lr/10
                for group in opt.param_groups:
                    group["lr"] /= 10.0
            if ckpt is not None and epoch < cfg.epochs:
                _save_checkpoint(ckpt, snapshot(epoch))
    finally:
        bar.close()
    if ckpt is not None and not done_before:  # the finished run, until the caller has stored it
        _save_checkpoint(ckpt, snapshot(cfg.epochs))

    if status == "diverged" or best["state"] is None:
        test = float("nan")
        state = {k: t.detach().to("cpu").clone() for k, t in model.state_dict().items()}
    else:
        state = best["state"]
        model.load_state_dict(state)
        test = nats_to_bits(evaluate(model, test_tok, batch_size=cfg.test_batch_size, bptt=cfg.bptt))
    history = pd.DataFrame(rows)
    extra = {"train_tokens_used": int(train_data.numel()), "valid_tokens_used": int(len(valid_tok)),
             "test_tokens_used": int(len(test_tok))}
    return LMResult(cfg, history, test, float(best["val"]), float(best["epoch"]), state, status,
                    time.perf_counter() - t0, n_params, ntoken, str(dev), extra)

