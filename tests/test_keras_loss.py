"""TrainConfig.loss (issue 24): Keras's clipped cross-entropy as a training option, out of the hash at
its default; and train's on_update hook."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from nnrnn import train as T

TINY = dict(task="copy", T=25, hidden_size=8, n_train=64, n_val=32, epochs=1, evals_per_epoch=1)


def test_the_default_loss_leaves_every_hash_unchanged():
    cfg = T.TrainConfig(**TINY)
    assert "loss" not in cfg.key() and cfg.replace(loss="torch").hash() == cfg.hash()
    keras = cfg.replace(loss="keras")
    assert keras.key()["loss"] == "keras" and keras.hash() != cfg.hash()
    assert T.TrainConfig.from_dict(cfg.key()) == cfg  # a stored config without the field loads as torch


def test_keras_cross_entropy_is_pytorchs_where_nothing_is_clipped():
    logits, target = torch.randn(50, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64), torch.arange(50) % 9
    assert torch.allclose(T.keras_cross_entropy(logits, target), F.cross_entropy(logits, target), rtol=1e-12)


def test_where_keras_clips_there_is_no_gradient_and_the_loss_is_capped():
    """A target with probability below 1e-7 contributes -log(1e-7) and no gradient (the clip)."""
    logits = torch.tensor([[0.0, 40.0]], requires_grad=True)
    loss = T.keras_cross_entropy(logits, torch.tensor([0]))
    loss.backward()
    assert float(loss.detach()) == pytest.approx(-math.log(T.KERAS_EPSILON), rel=1e-6)
    assert torch.all(logits.grad == 0)
    assert float(F.cross_entropy(logits.detach(), torch.tensor([0]))) == pytest.approx(40.0, rel=1e-6)  # PyTorch's keeps growing


def test_a_keras_run_trains_with_the_reference_step_and_validates_with_pytorchs_loss():
    cfg = T.TrainConfig(**TINY, loss="keras")
    r = T.train(cfg, progress=False)
    assert r.extra["step"] == "reference"
    torch_run = T.train(cfg.replace(loss="torch"), progress=False, step="reference")
    assert r.history["val_loss"].iloc[0] == torch_run.history["val_loss"].iloc[0]  # same start, same measure
    with pytest.raises(ValueError, match="step='fused' cannot train this run: it computes PyTorch's loss, not loss='keras'"):
        T.train(cfg, progress=False, step="fused")


def test_bad_losses_are_refused():
    with pytest.raises(ValueError, match=r"loss must be one of \['torch', 'keras'\], got 'mse'"):
        T.TrainConfig(**TINY, loss="mse")
    with pytest.raises(ValueError, match="cross-entropy, for copy or psmnist; task 'addition' trains on mean squared error"):
        T.TrainConfig(task="addition", T=30, loss="keras")


def test_on_update_sees_every_update_and_the_current_weights():
    seen = []
    r = T.train(T.TrainConfig(**TINY), progress=False,
                on_update=lambda u, m: seen.append((u, m.rnn.weight_hh.detach().clone())))
    assert [u for u, _ in seen] == list(range(1, r.n_updates + 1))
    assert torch.equal(seen[-1][1], r.state_dict["rnn.weight_hh"]) and not torch.equal(seen[0][1], seen[-1][1])
