r"""The language model: embedding → recurrent layers → (tied) decoder, and its initializers.

:class:`LanguageModel` follows awd-lstm-lm's ``RNNModel`` (Merity et al., 2018a,b): layer ``l``
maps ``emsize`` (l = 0) or ``nhid`` to ``nhid``, and the last layer to ``emsize`` when the
decoder is **tied** to the embedding. Vanilla layers are :class:`nnrnn.models.ElmanRNN` (our
engine); LSTM layers are ``torch.nn.LSTM``, one per layer. Its regularization is
awd-lstm-lm's: variational ("locked") dropout on the embedding output (``dropouti``), between
layers (``dropouth``) and on the last output (``dropout``); embedding dropout of whole words
(``dropoute``); DropConnect on the recurrent matrices (``wdrop``). Every mask is drawn from
the model's ``dropout_generator``.

:func:`build_model` builds a model and draws its initial weights from the run's ``init``
stream (see the table of initializers in :mod:`nnrnn.lm`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import init as _init
from .. import validate
from ..models import ElmanRNN
from ..tasks import stream_generator
from .config import LMConfig

__all__ = ["LanguageModel", "build_model", "stream"]


def _locked_dropout(x: Tensor, p: float, generator: torch.Generator | None) -> Tensor:
    """Variational dropout: one mask per sequence, shared by every step of ``x (T, B, H)``."""
    mask = x.new_empty(1, x.shape[1], x.shape[2]).bernoulli_(1 - p, generator=generator).div_(1 - p)
    return x * mask


def _uniform_(t: Tensor, bound: float, generator: torch.Generator | None) -> None:
    with torch.no_grad():
        t.copy_((2 * torch.rand(t.shape, generator=generator, dtype=torch.float64) - 1) * bound)


class LanguageModel(nn.Module):
    """Embedding → recurrent layers → (tied) decoder, as in awd-lstm-lm's ``RNNModel``.

    Build it with :func:`build_model` (which also initializes it); the constructor leaves the
    weights as the layer classes make them. Inputs are time-major token ids ``(T, B)``.

    Args:
        ntoken: vocabulary size.
        cfg: the :class:`LMConfig` (cell, sizes, dropouts, tying).

    ``forward(tokens, hidden)`` returns ``(logits (T, B, ntoken), hidden)``; with
    ``return_h=True`` also the last layer's raw and dropped outputs (for AR/TAR).
    ``dropout_generator`` (default ``None``: torch's global RNG) supplies every dropout mask.
    """

    def __init__(self, ntoken: int, cfg: LMConfig) -> None:
        super().__init__()
        validate.integer(ntoken, "ntoken", low=1)
        self.cfg = cfg
        self.ntoken = int(ntoken)
        # construction draws torch's default init from the global RNG; fork it so the
        # caller's global random state is left untouched (the weights are re-drawn anyway)
        with torch.random.fork_rng(devices=[]):
            self.encoder = nn.Embedding(ntoken, cfg.emsize)
            layers: list[nn.Module] = []
            for n_in, n_out in cfg.layer_sizes:
                if cfg.cell == "rnn":
                    layers.append(ElmanRNN(n_in, n_out, cfg.nonlinearity, bias=True, batch_first=False))
                else:
                    layers.append(nn.LSTM(n_in, n_out))
            self.rnns = nn.ModuleList(layers)
            self.decoder = nn.Linear(cfg.layer_sizes[-1][1], ntoken)
        if cfg.tied:
            self.decoder.weight = self.encoder.weight
        self.dropout_generator: torch.Generator | None = None

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Initialize every weight by the config's initializer, drawing from ``generator``."""
        cfg = self.cfg
        with torch.no_grad():
            _uniform_(self.encoder.weight, 0.1, generator)
            if not cfg.tied:
                _uniform_(self.decoder.weight, 0.1, generator)
            self.decoder.bias.zero_()
            for layer in self.rnns:
                if cfg.cell == "rnn":
                    _init_rnn_layer(layer, cfg, generator)
                else:
                    _init_lstm_layer(layer, cfg, generator)

    def init_hidden(self, bsz: int) -> list:
        """Zero initial state: per layer a ``(B, N)`` tensor (vanilla) or an ``(h, c)`` pair (LSTM)."""
        w = self.encoder.weight
        hidden = []
        for _, n in self.cfg.layer_sizes:
            if self.cfg.cell == "rnn":
                hidden.append(w.new_zeros(bsz, n))
            else:
                hidden.append((w.new_zeros(1, bsz, n), w.new_zeros(1, bsz, n)))
        return hidden

    def _embed(self, tokens: Tensor) -> Tensor:
        w = self.encoder.weight
        p = self.cfg.dropoute
        if self.training and p > 0:
            mask = w.new_empty(w.shape[0], 1).bernoulli_(1 - p, generator=self.dropout_generator).div_(1 - p)
            w = w * mask
        return F.embedding(tokens, w)

    def _layer(self, layer: nn.Module, x: Tensor, h):
        """Run one recurrent layer; in training, with DropConnect on its recurrent matrix."""
        p = self.cfg.wdrop
        if self.training and p > 0:
            name = "weight_hh" if self.cfg.cell == "rnn" else "weight_hh_l0"
            w = getattr(layer, name)
            wd = w * w.new_empty(w.shape).bernoulli_(1 - p, generator=self.dropout_generator).div_(1 - p)
            return torch.func.functional_call(layer, {name: wd}, (x, h))
        return layer(x, h)

    def forward(self, tokens: Tensor, hidden: list, return_h: bool = False):
        g = self.dropout_generator
        x = self._embed(tokens)
        if self.training and self.cfg.dropouti > 0:
            x = _locked_dropout(x, self.cfg.dropouti, g)
        new_hidden = []
        raw = dropped = x
        last = len(self.rnns) - 1
        for k, (layer, h) in enumerate(zip(self.rnns, hidden)):
            raw, h_new = self._layer(layer, x, h)
            new_hidden.append(h_new)
            p = self.cfg.dropout if k == last else self.cfg.dropouth
            dropped = _locked_dropout(raw, p, g) if (self.training and p > 0) else raw
            x = dropped
        logits = self.decoder(dropped)
        if return_h:
            return logits, new_hidden, raw, dropped
        return logits, new_hidden


def _init_rnn_layer(layer: nn.Module, cfg: LMConfig, g: torch.Generator | None) -> None:
    if cfg.init == "plain":
        layer.reset_parameters(generator=g)  # torch's U(-1/sqrt(N), 1/sqrt(N)), zero bias
        return
    if cfg.init == "fb_chain":
        _init.fb_chain_(layer.weight_hh, cfg.scale, cfg.fb_alpha)
        _init.source_(layer.weight_ih)
    else:
        _init.init_rnn_(layer.weight_hh, layer.weight_ih, cfg.init, cfg.scale, generator=g)
    if layer.bias is not None:
        layer.bias.zero_()


def _init_lstm_layer(layer: nn.LSTM, cfg: LMConfig, g: torch.Generator | None) -> None:
    n = layer.hidden_size
    w_hh, w_ih = layer.weight_hh_l0, layer.weight_ih_l0
    if cfg.init == "plain":
        _init.lstm_(w_hh, "plain", weight_ih=w_ih, generator=g)
    elif cfg.init == "orthogonal":
        _init.lstm_(w_hh, "orthogonal", weight_ih=w_ih, gain=cfg.scale, generator=g)
    elif cfg.init == "chain":
        _init.lstm_(w_hh, "chain", weight_ih=w_ih, alpha=cfg.scale, generator=g)
    elif cfg.init == "mixed":
        _init.lstm_(w_hh, "mixed", weight_ih=w_ih, alpha=cfg.scale, end_gain=cfg.ramp_gain, generator=g)
    else:
        _init.lstm_(w_hh, "fb_chain", weight_ih=w_ih, beta=cfg.scale, fb_alpha=cfg.fb_alpha, generator=g)
    bound = 1.0 / math.sqrt(n)
    _uniform_(layer.bias_ih_l0, bound, g)
    _uniform_(layer.bias_hh_l0, bound, g)


def stream(seed: int, name: str, device: str | torch.device = "cpu") -> torch.Generator:
    """The run's random stream ``name`` (``"init"``, ``"dropout"`` or ``"bptt"``)."""
    return stream_generator(seed, f"lm:{name}", device)


def build_model(cfg: LMConfig, ntoken: int, *, device: str | torch.device = "cpu") -> LanguageModel:
    """Build and initialize the model of ``cfg`` (weights drawn from the run's ``init`` stream).

    Examples:
        >>> cfg = LMConfig(corpus="ptb-char", cell="lstm", init="mixed", nlayers=2, emsize=4, nhid=6)
        >>> m = build_model(cfg, ntoken=50)
        >>> g = m.rnns[0].weight_hh_l0[12:18].detach()      # update gate g of layer 0: a 1.02 chain
        >>> round(float(g[1, 0]), 2), float(g[0, 1]), m.decoder.weight is m.encoder.weight
        (1.02, 0.0, True)
        >>> logits, h = m(torch.zeros(5, 3, dtype=torch.long), m.init_hidden(3))
        >>> tuple(logits.shape)
        (5, 3, 50)
    """
    model = LanguageModel(ntoken, cfg)
    model.reset_parameters(stream(cfg.seed, "init"))
    return model.to(device)
