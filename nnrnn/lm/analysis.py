r"""Language-model results as tables, and the diagonal means of trained LSTMs' gate weights (Fig. 6).

* :func:`summarize` and :func:`results_table`: test bits per initializer over seeds, beside
  the paper's Table 1 or 3; :func:`best_scale` keeps, per corpus and initializer, the scale of
  a scale sweep with the lowest mean best-validation loss (how a sweep becomes one table row);
* :func:`lstm_pulse_response`, :func:`gate_diagonal_means` and :func:`diagonal_means_shape`: the paper's
  pulse-ordering analysis applied to each gate block of a trained LSTM layer (the mean weight on
  each diagonal ``i - j`` of the reordered block, as :func:`nnrnn.analysis.diagonal_means`).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from .. import analysis as _an
from .. import init as _init
from .. import validate
from .config import CORPORA, bits_to_perplexity
from .model import LanguageModel

__all__ = ["GATE_NAMES", "summarize", "best_scale", "results_table", "unigram_bits", "lstm_pulse_response",
           "gate_diagonal_means", "diagonal_means_shape"]

#: LSTM gate blocks in torch's stacking order, with the paper's names (Fig. 6).
GATE_NAMES = {"i": "input gate", "f": "forget gate", "g": "update (cell) gate", "o": "output gate"}


def summarize(results: pd.DataFrame, by: Sequence[str] = ("corpus", "init")) -> pd.DataFrame:
    """Mean, s.e.m. and count of ``test_bits`` over seeds for each ``by`` group.

    Examples:
        >>> df = pd.DataFrame({"corpus": ["ptb"] * 2, "init": ["chain"] * 2, "test_bits": [6.5, 6.6]})
        >>> s = summarize(df)
        >>> s[["mean", "n"]].round(3).values.tolist(), round(float(s["sem"].iloc[0]), 3)
        ([[6.55, 2.0]], 0.05)
    """
    g = results.groupby(list(by), sort=False)["test_bits"]
    out = g.agg(mean="mean", sd=lambda x: x.std(ddof=1) if len(x) > 1 else 0.0, n="count").reset_index()
    out["sem"] = out["sd"] / np.sqrt(out["n"].clip(lower=1))
    return out.drop(columns="sd")


def best_scale(
    results: pd.DataFrame, by: Sequence[str] = ("corpus", "init"), *, column: str = "best_val_bits"
) -> pd.DataFrame:
    """The rows of ``results`` at each ``by`` group's best setting of a scale sweep.

    A setting is a ``scale`` (and ``fb_alpha``, for feedback chains); the best is the one with
    the lowest mean of ``column`` over its seeds, by default the best validation loss (the paper
    does not say how it picked the scale behind Table 1; selecting on validation, not test, is
    our choice). A setting with a run whose ``test_bits`` is not finite (diverged) ranks last.
    Ties go to the first setting in ``results``' order. Results with one setting per group come
    back unchanged, so :func:`results_table` can take the output of a sweep and of a profile
    alike.

    Examples:
        >>> df = pd.DataFrame({"corpus": "ptb", "init": "chain", "scale": [0.5, 0.5, 1.0, 1.0],
        ...                    "fb_alpha": None, "best_val_bits": [6.6, 6.7, 6.5, 6.6],
        ...                    "test_bits": [6.61, 6.72, 6.52, 6.63]})
        >>> best_scale(df)["scale"].tolist()
        [1.0, 1.0]
    """
    missing = [c for c in (*by, "scale", column, "test_bits") if c not in results.columns]
    if missing:
        raise ValueError(f"best_scale needs the columns {missing} in results, got {list(results.columns)}")
    frame = results.reset_index(drop=True)
    setting = [c for c in ("scale", "fb_alpha") if c in frame.columns]

    def ids(cols: Sequence[str]) -> list[tuple]:  # hashable row keys; NaN and None read alike
        return list(zip(*(frame[c].astype(object).where(frame[c].notna(), None) for c in cols)))

    score = frame[column].astype(float).where(np.isfinite(frame["test_bits"].astype(float)), np.inf).fillna(np.inf)
    keys = ids([*by, *setting])
    scores: dict[tuple, list[float]] = {}
    for key, value in zip(keys, score):
        scores.setdefault(key, []).append(float(value))
    best: dict[tuple, tuple] = {}
    for key, values in scores.items():  # in order of first appearance: ties keep the first
        group = key[: len(by)]
        if group not in best or np.mean(values) < np.mean(scores[best[group]]):
            best[group] = key
    chosen = set(best.values())
    return frame[[key in chosen for key in keys]].reset_index(drop=True)


def results_table(
    results: pd.DataFrame,
    paper: dict[str, dict[str, tuple[float, float]]],
    *,
    corpora: Sequence[str] | None = None,
    inits: Sequence[str] | None = None,
    labels: dict[str, str] | None = None,
    extra_rows: dict[str, dict[str, float]] | None = None,
) -> pd.DataFrame:
    """Our test bits (mean ± s.e.m., n seeds) beside the paper's, one row per initializer.

    Columns: per corpus, ``"<corpus>: ours"`` and ``"<corpus>: paper"`` (and perplexities for
    word PTB). ``extra_rows`` adds rows with only a paper value (e.g. Table 1's LSTM row).

    Examples:
        >>> df = pd.DataFrame({"corpus": ["ptb"] * 2, "init": ["chain"] * 2, "test_bits": [6.5, 6.6]})
        >>> from nnrnn.lm import PAPER_TABLE1
        >>> t = results_table(df, PAPER_TABLE1)
        >>> t.loc["chain"].tolist()
        ['6.550 ± 0.050 (n=2)', '6.514 ± 0.001', '93.7', '91.4']
    """
    s = summarize(results)
    corpora = list(corpora or [c for c in CORPORA if c in set(s["corpus"])])
    inits = list(inits or list(dict.fromkeys(s["init"])))
    labels = labels or {}
    rows = {}
    for init in inits:
        row = {}
        for corpus in corpora:
            hit = s[(s["corpus"] == corpus) & (s["init"] == init)]
            if len(hit):
                m, e, n = float(hit["mean"].iloc[0]), float(hit["sem"].iloc[0]), int(hit["n"].iloc[0])
                row[f"{corpus}: ours"] = f"{m:.3f} ± {e:.3f} (n={n})" if math.isfinite(m) else "diverged"
            else:
                m = float("nan")
                row[f"{corpus}: ours"] = "—"
            pv = paper.get(init, {}).get(corpus)
            row[f"{corpus}: paper"] = f"{pv[0]:.3f} ± {pv[1]:.3f}" if pv else "—"
            if corpus == "ptb":
                row["ptb perplexity: ours"] = f"{bits_to_perplexity(m):.1f}" if math.isfinite(m) else "—"
                row["ptb perplexity: paper"] = f"{bits_to_perplexity(pv[0]):.1f}" if pv else "—"
        rows[labels.get(init, init)] = row
    for name, values in (extra_rows or {}).items():
        row = {}
        for corpus in corpora:
            row[f"{corpus}: ours"] = "—"
            row[f"{corpus}: paper"] = f"{values[corpus]:.3f}" if corpus in values else "—"
            if corpus == "ptb":
                row["ptb perplexity: ours"] = "—"
                row["ptb perplexity: paper"] = f"{bits_to_perplexity(values[corpus]):.1f}" if corpus in values else "—"
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "initializer"
    return table


def unigram_bits(train: Tensor, test: Tensor, ntoken: int) -> float:
    """The test loss (bits per token) of a model that knows the tokens' frequencies in ``train``
    and nothing of their order: the cross-entropy of ``test`` under the unigram distribution of
    ``train`` (maximum likelihood; infinite if a test token never occurs in ``train``).

    A language model whose test loss sits at this value has learned character frequencies only.

    Examples:
        >>> unigram_bits(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 0]), 2)
        1.0
        >>> unigram_bits(torch.tensor([0, 0, 0, 1]), torch.tensor([0]), 2) == -math.log2(0.75)
        True
    """
    validate.integer(ntoken, "ntoken", low=1)
    for name, t in (("train", train), ("test", test)):
        if t.dim() != 1 or t.numel() == 0 or t.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"{name} must be a non-empty 1-d tensor of token ids, got shape {tuple(t.shape)} "
                             f"and dtype {t.dtype}")
        if int(t.min()) < 0 or int(t.max()) >= ntoken:
            raise ValueError(f"{name} holds token ids outside [0, {ntoken}), got {int(t.min())}..{int(t.max())}")
    p = torch.bincount(train.long(), minlength=ntoken).double()
    q = torch.bincount(test.long(), minlength=ntoken).double()
    p, q = p / p.sum(), q / q.sum()
    seen = q > 0
    if bool((p[seen] == 0).any()):
        return math.inf
    return float(-(q[seen] * torch.log2(p[seen])).sum())


# ----------------------------------------------------------------------------- Fig. 6
@torch.no_grad()
def lstm_pulse_response(
    lstm: nn.LSTM, *, steps: int = 100, channel: int = 0, amplitude: float = 1.0
) -> Tensor:
    r"""How far one input pulse moves each unit's hidden state, step by step.

    The layer runs twice from :math:`h_{-1} = c_{-1} = 0` for ``steps + 1`` steps: once with
    ``amplitude`` on input ``channel`` at step 0 and zero input afterwards, once with zero
    input throughout. The response is :math:`|h_t^{\text{pulse}} - h_t^{\text{free}}|`, so the
    drift that the biases cause without any input is removed. (For a vanilla RNN the same
    analysis uses the hidden state itself, :func:`nnrnn.analysis.pulse_response`.)

    Returns:
        float64 tensor ``(steps + 1, N)``.

    Examples:
        >>> lstm = torch.nn.LSTM(3, 5)
        >>> tuple(lstm_pulse_response(lstm, steps=10).shape)
        (11, 5)
    """
    if not isinstance(lstm, nn.LSTM) or lstm.num_layers != 1 or lstm.bidirectional or lstm.proj_size:
        raise ValueError("lstm_pulse_response expects a one-layer, one-directional torch.nn.LSTM without projection")
    validate.integer(steps, "steps", low=0)
    if not 0 <= channel < lstm.input_size:
        raise ValueError(f"channel must be in [0, {lstm.input_size}), got {channel!r}")
    layer = nn.LSTM(lstm.input_size, lstm.hidden_size, dtype=torch.float64)
    layer.load_state_dict({k: v.detach().to("cpu", torch.float64) for k, v in lstm.state_dict().items()})
    x = torch.zeros(steps + 1, 1, lstm.input_size, dtype=torch.float64)
    x[0, 0, channel] = amplitude
    pulsed, _ = layer(x)
    free, _ = layer(torch.zeros_like(x))
    return (pulsed - free)[:, 0].abs()


def gate_diagonal_means(
    model: LanguageModel,
    layer: int = 1,
    *,
    steps: int = 100,
    channel: int = 0,
    amplitude: float = 1.0,
    jitter: float = 1e-3,
    generator: torch.Generator | None = None,
) -> pd.DataFrame:
    r"""Fig. 6: mean recurrent weight of each LSTM gate at each order difference ``i - j``.

    The units of layer ``layer`` (0-based; the paper shows the second of three layers, ``1``)
    are ordered once, by the step at which their hidden state responds most to one input pulse
    (:func:`lstm_pulse_response`; ties broken by ``U(0, jitter)`` noise,
    :func:`nnrnn.analysis.peak_order`). The same order is then applied to the rows and columns
    of each gate block of ``weight_hh`` (torch order i, f, g, o; row ``i`` of a block is the
    gate of unit ``i``, column ``j`` the hidden unit ``j`` it reads), and
    :func:`nnrnn.analysis.diagonal_means` averages :math:`W_{ij}` at each order difference.

    Returns:
        a long table with columns ``gate`` (``"i"``, ``"f"``, ``"g"``, ``"o"``), ``lag`` and
        ``weight``.

    Examples:
        >>> from nnrnn.lm import LMConfig, build_model
        >>> cfg = LMConfig(corpus="ptb-char", cell="lstm", init="chain", nlayers=1, emsize=6, nhid=6)
        >>> df = gate_diagonal_means(build_model(cfg, 10), layer=0, steps=10, generator=torch.Generator().manual_seed(0))
        >>> sorted(df["gate"].unique()), int(df["lag"].max())
        (['f', 'g', 'i', 'o'], 5)
    """
    if model.cfg.cell != "lstm":
        raise ValueError(f"gate_diagonal_means needs an LSTM language model, got cell {model.cfg.cell!r}")
    if not 0 <= layer < len(model.rnns):
        raise ValueError(f"layer must be in [0, {len(model.rnns)}), got {layer!r}")
    lstm = model.rnns[layer]
    resp = lstm_pulse_response(lstm, steps=steps, channel=channel, amplitude=amplitude)
    order = _an.peak_order(resp, jitter, generator=generator)
    w = lstm.weight_hh_l0.detach().to("cpu", torch.float64)
    n = lstm.hidden_size
    frames = []
    for k, gate in enumerate(_init.LSTM_GATES):
        lags, mean = _an.diagonal_means(w[k * n : (k + 1) * n], order)
        frames.append(pd.DataFrame({"gate": gate, "lag": lags, "weight": mean}))
    return pd.concat(frames, ignore_index=True)


def diagonal_means_shape(means: pd.DataFrame, *, near: int = 5, max_lag: int | None = None) -> pd.DataFrame:
    r"""Two numbers per gate that describe its Fig. 6 diagonal means.

    * ``monotonicity``: Spearman's rank correlation between the order difference ``i - j`` and
      the mean weight, over lags ``1 <= |i - j| <= max_lag`` (all by default): near ±1 for a
      monotone trend, near 0 for a flat or bump-shaped one;
    * ``forward_bump``: the mean weight at lags ``1..near`` minus that at ``-near..-1``: positive
      when connections from earlier- to later-peaking units are stronger (a chain-like motif).

    ``means`` is :func:`gate_diagonal_means`' table, or several stacked (they are averaged per gate and
    lag first).

    Examples:
        >>> lags = np.arange(-4, 5)
        >>> df = pd.DataFrame({"gate": "i", "lag": lags, "weight": 0.01 * lags})
        >>> diagonal_means_shape(df, near=2).round(3).to_dict("index")
        {'i': {'monotonicity': 1.0, 'forward_bump': 0.03}}
    """
    validate.integer(near, "near", low=1)
    rows = {}
    mean = means.groupby(["gate", "lag"], sort=False)["weight"].mean().reset_index()
    for gate, d in mean.groupby("gate", sort=False):
        d = d[d["lag"] != 0]
        if max_lag is not None:
            d = d[d["lag"].abs() <= max_lag]
        rho = float(d["lag"].rank().corr(d["weight"].rank())) if len(d) > 2 else float("nan")
        fwd = d[(d["lag"] >= 1) & (d["lag"] <= near)]["weight"].mean()
        bwd = d[(d["lag"] <= -1) & (d["lag"] >= -near)]["weight"].mean()
        rows[gate] = {"monotonicity": rho, "forward_bump": float(fwd - bwd)}
    return pd.DataFrame.from_dict(rows, orient="index")

