"""Layout, baselines and determinism of the copy and addition tasks."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from nnrnn import tasks


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- copy layout
@pytest.mark.parametrize("T", [21, 30, 500])
def test_copy_layout(T):
    x, y = tasks.copy_sequences(64, T, generator=gen())
    assert x.shape == y.shape == (64, T)
    # ten symbols from 1..8 first
    assert int(x[:, :10].min()) >= 1 and int(x[:, :10].max()) <= 8
    # the cue 9 at position T-11 and nowhere else
    assert torch.all(x[:, T - 11] == 9)
    assert int((x == 9).sum()) == 64
    # zeros between the symbols and the cue, and during recall
    assert torch.all(x[:, 10 : T - 11] == 0)
    assert torch.all(x[:, T - 10 :] == 0)
    # target: T-10 zeros, then the ten symbols in order
    assert torch.all(y[:, : T - 10] == 0)
    assert torch.equal(y[:, T - 10 :], x[:, :10])


def test_copy_symbols_cover_one_to_eight():
    x, _ = tasks.copy_sequences(2000, 30, generator=gen())
    counts = torch.bincount(x[:, :10].reshape(-1), minlength=10)
    assert counts[0] == 0 and counts[9] == 0
    assert torch.all(counts[1:9] > 2000 * 10 / 8 * 0.9)


def test_copy_batch_encoding():
    data = tasks.CopyData.generate(8, 40, generator=gen(1))
    x, y = data.batch(torch.arange(8))
    assert x.shape == (8, 40, 10) and x.dtype == torch.float32
    assert torch.all(x.sum(-1) == 1)  # one-hot over 10 input symbols
    raw, target = tasks.copy_sequences(8, 40, generator=gen(1))
    assert torch.equal(x.argmax(-1), raw)
    assert torch.equal(y, target)
    assert int(y.max()) <= 8  # 9 target classes, 0..8
    task = tasks.get_task("copy", T=40)
    assert (task.input_size, task.output_size, task.per_step) == (10, 9, True)


# ----------------------------------------------------------------------------- addition layout
@pytest.mark.parametrize("T", [2, 11, 750])
def test_addition_layout(T):
    x, y = tasks.addition_sequences(256, T, generator=gen())
    assert x.shape == (256, T, 2) and y.shape == (256, 1)
    ind, val = x[..., 0], x[..., 1]
    # channel 0 is the indicator: exactly one 1 in each half
    assert set(ind.unique().tolist()) <= {0.0, 1.0}
    assert torch.all(ind[:, : T // 2].sum(1) == 1)
    assert torch.all(ind[:, T // 2 :].sum(1) == 1)
    # channel 1 holds U[0, 1] values; the target is the sum of the two marked ones
    assert float(val.min()) >= 0.0 and float(val.max()) < 1.0
    torch.testing.assert_close(y[:, 0], (ind * val).sum(1))


def test_addition_marker_positions_are_uniform_over_halves():
    data = tasks.AdditionData.generate(20000, 10, generator=gen(2))
    first = torch.bincount(data.marks[:, 0], minlength=10)
    second = torch.bincount(data.marks[:, 1], minlength=10)
    assert torch.all(first[:5] > 3600) and torch.all(first[5:] == 0)
    assert torch.all(second[5:] > 3600) and torch.all(second[:5] == 0)


# ----------------------------------------------------------------------------- baselines
def test_baseline_values():
    assert tasks.random_baseline("copy") == pytest.approx(10 * math.log(8) / 500)
    assert tasks.random_baseline("copy", T=100) == pytest.approx(10 * math.log(8) / 100)
    assert tasks.random_baseline("addition") == pytest.approx(1 / 6)
    assert tasks.random_baseline("copy") == pytest.approx(0.0416, abs=1e-4)


@pytest.mark.parametrize("T", [30, 500])
def test_copy_baseline_matches_memoryless_predictor(T):
    """Say '0' for T-10 steps, then uniform over the eight symbols: exactly the baseline."""
    task = tasks.get_task("copy", T=T)
    _, val = task.datasets(64, 256, seed=3)
    x, y = val.batch(torch.arange(len(val)))
    probs = torch.zeros(len(val), T, 9)
    probs[:, : T - 10, 0] = 1.0
    probs[:, T - 10 :, 1:] = 1.0 / 8
    logits = torch.log(probs.clamp_min(1e-30))
    assert task.loss(logits, y).item() == pytest.approx(task.baseline, rel=1e-5)
    # any other memoryless guess on the recall steps does worse
    worse = torch.log(torch.full((len(val), T, 9), 1.0 / 9))
    assert task.loss(worse, y).item() > task.baseline


def test_addition_baseline_matches_memoryless_predictor():
    """Always answer 1: the MSE estimates Var(U1 + U2) = 1/6."""
    task = tasks.get_task("addition", T=50)
    _, val = task.datasets(16, 40000, seed=4)
    x, y = val.batch(torch.arange(len(val)))
    mse = task.loss(torch.ones_like(y), y).item()
    assert mse == pytest.approx(task.baseline, rel=0.03)


def test_success_threshold():
    b = tasks.random_baseline("copy")
    assert tasks.succeeded(0.49 * b, b)
    assert not tasks.succeeded(0.51 * b, b)
    assert not tasks.succeeded(float("inf"), b)
    assert not tasks.succeeded(float("nan"), b)


# ----------------------------------------------------------------------------- determinism and streams
@pytest.mark.parametrize("name", ["copy", "addition"])
def test_datasets_deterministic_per_seed(name):
    task = tasks.get_task(name, T=40)
    a_train, a_val = task.datasets(32, 16, seed=5)
    b_train, b_val = task.datasets(32, 16, seed=5)
    c_train, _ = task.datasets(32, 16, seed=6)
    idx = torch.arange(16)
    for a, b in ((a_train, b_train), (a_val, b_val)):
        xa, ya = a.batch(idx)
        xb, yb = b.batch(idx)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(a_train.batch(idx)[0], c_train.batch(idx)[0])
    # train and validation sets are different draws
    assert not torch.equal(a_train.batch(idx)[0], a_val.batch(idx)[0])


def test_sequence_functions_use_only_the_generator():
    torch.manual_seed(0)
    a = tasks.copy_sequences(4, 30, generator=gen(9))[0]
    torch.manual_seed(1)
    b = tasks.copy_sequences(4, 30, generator=gen(9))[0]
    assert torch.equal(a, b)


def test_loss_shapes_and_metrics():
    task = tasks.get_task("copy", T=25)
    _, val = task.datasets(4, 8, seed=0)
    x, y = val.batch(torch.arange(8))
    perfect = F.one_hot(y, 9).float() * 50.0
    m = task.metrics(perfect, y)
    assert m == {"acc": 1.0, "recall_acc": 1.0}
    assert task.loss(perfect, y).item() < 1e-6
    add = tasks.get_task("addition", T=25)
    assert add.metrics(torch.zeros(3, 1), torch.zeros(3, 1)) == {}


# ----------------------------------------------------------------------------- errors
def test_bad_task_arguments():
    with pytest.raises(ValueError, match=r"task must be one of \['addition', 'copy', 'psmnist'\], got 'sorting'"):
        tasks.get_task("sorting")
    with pytest.raises(ValueError, match=r"T must be at least 21 for the copy task .*, got 20"):
        tasks.get_task("copy", T=20)
    with pytest.raises(ValueError, match="T must be a positive integer"):
        tasks.get_task("addition", T=0)
    with pytest.raises(ValueError, match="T must be at least 2 for the addition task"):
        tasks.AdditionData.generate(3, 1)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        tasks.copy_sequences(0, 30)
    with pytest.raises(ValueError, match="n_train must be a positive integer"):
        tasks.get_task("copy", T=30).datasets(-1, 4, seed=0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        tasks.stream_generator(-1, "train")
    with pytest.raises(ValueError, match="stream must be a string or None, got 3"):
        tasks.stream_generator(1, 3)
    with pytest.raises(ValueError, match="task name must be a non-empty string"):
        tasks.register_task("", tasks.CopyTask)


# ----------------------------------------------------------------------------- registry
def test_every_task_is_registered_without_plugins():
    """psMNIST is in the registry from the start: no string import, no register() call needed."""
    assert tasks.task_names() == tasks.known_tasks() == ["addition", "copy", "psmnist"]
    assert not hasattr(tasks, "_PLUGINS")
    assert isinstance(tasks.get_task("psmnist"), tasks.PsMNISTTask)
    assert tasks.get_task("psmnist").T == 784 and tasks.get_task("psmnist").default_hidden == 25


def test_register_task_adds_a_task(monkeypatch):
    monkeypatch.setattr(tasks, "_TASKS", dict(tasks._TASKS))
    tasks.register_task("toy", lambda T=None: tasks.CopyTask(T or 40))
    assert "toy" in tasks.task_names() and tasks.get_task("toy").T == 40 and tasks.get_task("toy", T=30).T == 30


def test_tasks_state_the_papers_models():
    """Sizes, lengths and nonlinearities come from nnrnn.paper (§4.1), one place for each."""
    from nnrnn import paper

    for name in ("copy", "addition", "psmnist"):
        t = tasks.get_task(name)
        assert (t.T, t.default_hidden, t.default_nonlinearity) == (
            paper.SEQUENCE_LENGTH[name], paper.HIDDEN_SIZE[name], paper.NONLINEARITY[name])
        assert t.description


def test_stream_generator_is_the_one_seeding_helper():
    """Without a stream name it is the plain seeded generator of the theory chapters and of the
    psMNIST permutation; with one, streams of one seed are independent."""
    from nnrnn import data, profiles

    plain = torch.rand(5, generator=torch.Generator().manual_seed(7))
    assert torch.equal(torch.rand(5, generator=tasks.stream_generator(7)), plain)
    assert torch.equal(torch.rand(5, generator=profiles.generator(7)), plain)
    assert torch.equal(data.permutation(7), torch.randperm(784, generator=tasks.stream_generator(7)))
    a = torch.rand(5, generator=tasks.stream_generator(7, "copy/train"))
    assert not torch.equal(a, plain)
