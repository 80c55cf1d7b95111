"""Tests of the language-modelling code (nnrnn.lm): metric, models, initializers, training, store."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from nnrnn import analysis, data, init, lm, profiles, store

REPO = Path(__file__).resolve().parent.parent

DATA_DIR = os.environ.get("NNRNN_DATA_DIR") or str(Path(__file__).resolve().parents[2] / "shared" / "data")
HAVE_PTB = all((Path(DATA_DIR) / p).is_file() for p in data.FILES if p.startswith("ptb"))
needs_ptb = pytest.mark.skipif(not HAVE_PTB, reason=f"no PTB files under {DATA_DIR}")


# ----------------------------------------------------------------------------- helpers
@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy machine they lose a lot."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def toy_corpus(n_train: int = 6000, n_valid: int = 1000, n_test: int = 1000, vocab: int = 6, seed: int = 0):
    """A learnable stream: token k+1 follows token k (mod 5), with 10% random tokens."""

    def stream(n: int, s: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(s)
        x = torch.arange(n) % (vocab - 1)
        noise = torch.rand(n, generator=g) < 0.1
        return torch.where(noise, torch.randint(vocab, (n,), generator=g), x)

    return types.SimpleNamespace(dictionary=list(range(vocab)), train=stream(n_train, seed),
                                 valid=stream(n_valid, seed + 1), test=stream(n_test, seed + 2))


def tiny(cell: str = "rnn", init_name: str | None = None, **kw) -> lm.LMConfig:
    base = dict(corpus="ptb-char", cell=cell, init=init_name or ("chain" if cell == "rnn" else "mixed"),
                nlayers=1, emsize=12, nhid=12, bptt=10, batch_size=8, eval_batch_size=4, test_batch_size=2,
                epochs=1, lr=5e-3, ar_alpha=0.0, tar_beta=0.0, device="cpu")
    base.update(kw)
    return lm.LMConfig(**base)


# ----------------------------------------------------------------------------- the metric
def test_bits_units():
    assert lm.nats_to_bits(math.log(2.0)) == pytest.approx(1.0)
    assert lm.nats_to_bits(math.log(50.0)) == pytest.approx(math.log2(50.0))
    assert lm.bits_to_perplexity(5.878) == pytest.approx(58.8, abs=0.05)  # AWD-LSTM, Table 1


def _fixed_model(probs: list[float]) -> lm.LanguageModel:
    """A model whose prediction is ``probs`` whatever the input (zero decoder weight, log-prob bias)."""
    cfg = tiny(tied=False, emsize=4, nhid=4)
    m = lm.build_model(cfg, ntoken=len(probs))
    with torch.no_grad():
        m.decoder.weight.zero_()
        m.decoder.bias.copy_(torch.log(torch.tensor(probs)))
    return m


def test_bits_hand_checked():
    m = _fixed_model([0.5, 0.25, 0.25])
    # one column: 0 0 1 2 -> targets 0, 1, 2 cost 1, 2 and 2 bits
    bits = lm.nats_to_bits(lm.evaluate(m, torch.tensor([0, 0, 1, 2]), batch_size=1, bptt=2))
    assert bits == pytest.approx(5 / 3)
    # two columns [0 1 1] and [2 0 0] (batchify: column j is a contiguous block); targets 1 1 0 0
    bits = lm.nats_to_bits(lm.evaluate(m, torch.tensor([0, 1, 1, 2, 0, 0]), batch_size=2, bptt=5))
    assert bits == pytest.approx((2 + 2 + 1 + 1) / 4)


def test_evaluate_carries_state_across_windows():
    m = lm.build_model(tiny(emsize=8, nhid=8), ntoken=7)
    tokens = torch.randint(7, (203,), generator=torch.Generator().manual_seed(3))
    whole = lm.evaluate(m, tokens, batch_size=4, bptt=1000)  # one window per column
    windows = lm.evaluate(m, tokens, batch_size=4, bptt=3)
    assert windows == pytest.approx(whole, rel=1e-6)
    # a model that forgot its state at every window would differ
    src = data.batchify(tokens, 4)
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, src.shape[0] - 1, 3):
            x, y = data.get_batch(src, i, 3)
            logits, _ = m(x, m.init_hidden(4))
            total += float(torch.nn.functional.cross_entropy(logits.reshape(-1, 7), y, reduction="sum"))
            count += y.numel()
    assert count == (src.shape[0] - 1) * 4  # every token but the first of each column is predicted
    assert abs(total / count - whole) > 1e-4


def test_batchify_shapes_used_by_training():
    src = data.batchify(torch.arange(1003), 10)
    assert tuple(src.shape) == (100, 10)
    x, y = data.get_batch(src, 95, 70)  # the last window is shorter
    assert tuple(x.shape) == (4, 10) and tuple(y.shape) == (40,)
    assert torch.equal(src[:, 3], torch.arange(300, 400))  # columns are contiguous text


# ----------------------------------------------------------------------------- initializers
@pytest.mark.parametrize("scheme", ["orthogonal", "chain", "fb_chain", "plain", "mixed"])
def test_lstm_initializers_land_in_their_gate_blocks(scheme):
    n = 6
    cfg = tiny("lstm", scheme, nlayers=2, emsize=n, nhid=n, fb_alpha=0.95 if scheme == "fb_chain" else None)
    m = lm.build_model(cfg, ntoken=11)
    for layer in m.rnns:
        w = layer.weight_hh_l0.detach().double()
        u = layer.weight_ih_l0.detach().double()
        blocks = {g: w[k * n : (k + 1) * n] for k, g in enumerate(init.LSTM_GATES)}
        inputs = {g: u[k * n : (k + 1) * n] for k, g in enumerate(init.LSTM_GATES)}
        for g, b in blocks.items():
            if scheme == "orthogonal":
                assert torch.allclose(b @ b.T, torch.eye(n, dtype=torch.float64), atol=1e-5)
            elif scheme == "chain" or (scheme == "mixed" and g == "g"):
                assert torch.allclose(b, init.chain_matrix(n, cfg.scale), atol=1e-6)
                assert torch.allclose(inputs[g], 0.9 * torch.eye(n, dtype=torch.float64), atol=1e-6)
            elif scheme == "mixed":
                assert torch.allclose(b, init.ramp_matrix(n, 0.01), atol=1e-7)
                assert float(b[n - 1, 0]) > 0  # positive along the chain of g: unit j -> unit i > j
            elif scheme == "fb_chain":
                assert torch.allclose(b, init.fb_chain_matrix(n, cfg.scale, 0.95), atol=1e-6)
            else:
                assert float(b.abs().max()) <= 1 / math.sqrt(n)
        if scheme == "orthogonal":
            assert not torch.allclose(blocks["i"], blocks["f"])  # independent draws per gate
        bound = 1 / math.sqrt(n)
        b_max = float(layer.bias_ih_l0.detach().abs().max())
        assert 0 < b_max <= bound
    assert m.decoder.weight is m.encoder.weight


@pytest.mark.parametrize("name", ["identity", "orthogonal", "chain", "fb_chain", "plain"])
def test_vanilla_initializers_per_layer(name):
    cfg = tiny("rnn", name, nlayers=2, emsize=5, nhid=7, scale=None if name == "plain" else 0.9)
    m = lm.build_model(cfg, ntoken=9)
    assert [(r.input_size, r.hidden_size) for r in m.rnns] == [(5, 7), (7, 5)]
    for r in m.rnns:
        w, u, n = r.weight_hh.detach().double(), r.weight_ih.detach().double(), r.hidden_size
        assert float(r.bias.detach().abs().max()) == 0.0
        if name == "identity":
            assert torch.allclose(w, 0.9 * torch.eye(n, dtype=torch.float64))
        elif name == "orthogonal":
            assert torch.allclose(w @ w.T, 0.81 * torch.eye(n, dtype=torch.float64), atol=1e-5)
        elif name == "chain":
            assert torch.allclose(w, init.chain_matrix(n, 0.9), atol=1e-7)
            assert float(u[0, 0]) == pytest.approx(0.9) and float(u[0, 1]) == 0.0
        elif name == "fb_chain":  # feedback 0.9 on the forward chain of the default gain 1.0
            assert torch.allclose(w, init.fb_chain_matrix(n, 0.9, 1.0), atol=1e-7)
        else:
            assert float(w.abs().max()) <= 1 / math.sqrt(n)


def test_config_validation_and_hash():
    with pytest.raises(ValueError, match="unknown initializer 'mixed' for cell 'rnn'"):
        lm.LMConfig(init="mixed")
    with pytest.raises(ValueError, match="corpus must be one of"):
        lm.LMConfig(corpus="wikitext")
    with pytest.raises(ValueError, match="takes no scale"):
        lm.LMConfig(init="plain", scale=1.0)
    with pytest.raises(ValueError, match="dropout must be in"):
        lm.LMConfig(dropout=1.0)
    c = lm.LMConfig(init="chain")
    assert c.scale == 1.0 and c.fb_alpha is None
    d = c.replace(init="fb_chain")
    assert (d.scale, d.fb_alpha) == (0.04, 1.0)  # defaults re-resolved for the new init
    assert lm.LMConfig.from_dict(c.key()) == c
    assert c.hash() == c.replace(device="cuda").hash() != d.hash()  # the device is not hashed


def test_paper_and_profile_configs():
    c = lm.paper_config("ptb-char", "rnn", "fb_chain")
    assert (c.nlayers, c.emsize, c.nhid, c.bptt, c.batch_size, c.epochs) == (3, 200, 1000, 150, 128, 500)
    assert (c.dropout, c.dropoute, c.test_batch_size, c.lr, c.when) == (0.1, 0.0, 1, 2e-3, (300, 400))
    w = lm.paper_config("ptb")
    assert (w.epochs, w.dropout, w.dropoute, w.wdrop, w.nhid) == (60, 0.1, 0.1, 0.1, 1150)
    assert lm.paper_config("enwik8").epochs == 35 and lm.paper_config("enwik8").dropout == 0.0
    assert len(lm.profile_configs("rnn", "paper")) == 3 * 4 * 3
    assert len(lm.profile_configs("rnn", "paper", grid=True)) == 3 * 4 * 21 * 3  # 63 runs per model
    assert {c.seed for c in lm.profile_configs("lstm", "demo", seed=10)} == {11, 12}
    with pytest.raises(ValueError, match="profile must be one of"):
        lm.profile_configs("rnn", "huge")



def test_language_model_profiles_live_in_nnrnn_profiles(monkeypatch):
    """Issue 22: nnrnn.profiles is the one home of every profile's settings; lm.profile_configs and
    lm.execution build from its tables (they were lm.settings' own), and a profile without
    language-model runs is refused by name (was a KeyError)."""
    smoke = profiles.LM_RUNS[("rnn", "smoke")]
    monkeypatch.setitem(profiles.LM_RUNS, ("rnn", "smoke"), dict(smoke, n_seeds=3))
    assert len(lm.profile_configs("rnn", "smoke")) == 3 * len(smoke["inits"])
    monkeypatch.setitem(profiles.LM_EXECUTION, "demo", {"executor": "serial", "threads": 2})
    assert lm.execution("demo") == {"executor": "serial", "threads": 2}
    for call in (lambda: lm.profile_configs("rnn", "replicate"), lambda: lm.execution("replicate")):
        with pytest.raises(ValueError, match=r"^profile must be one of \['smoke', 'demo', 'paper'\], got 'replicate'$"):
            call()

# ----------------------------------------------------------------------------- training
@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_short_training_lowers_validation_loss(cell):
    before = torch.get_rng_state()
    r = lm.train_lm(tiny(cell, epochs=2, evals_per_epoch=2), corpus=toy_corpus(), progress=False)
    assert torch.equal(before, torch.get_rng_state())  # the global RNG is never used
    h = r.history
    assert list(h["point"]) == [0, 1, 2, 3, 4] and list(h["epoch"])[-1] == 2.0
    assert h["val_bits"].iloc[0] > math.log2(6) - 0.3  # untrained: near a uniform guess
    assert h["val_bits"].min() < h["val_bits"].iloc[0] - 0.5
    assert r.status == "finished" and r.test_bits < h["val_bits"].iloc[0] - 0.5
    assert r.best_val_bits == pytest.approx(h["val_bits"].min())


def test_training_is_deterministic_per_seed():
    corpus = toy_corpus(n_train=2000)
    a = lm.train_lm(tiny(dropouti=0.3, wdrop=0.3), corpus=corpus, progress=False)
    b = lm.train_lm(tiny(dropouti=0.3, wdrop=0.3), corpus=corpus, progress=False)
    c = lm.train_lm(tiny(dropouti=0.3, wdrop=0.3, seed=2), corpus=corpus, progress=False)
    assert a.history["val_bits"].tolist() == b.history["val_bits"].tolist() and a.test_bits == b.test_bits
    assert a.history["val_bits"].tolist() != c.history["val_bits"].tolist()


def test_learning_rate_drops_after_each_when_epoch():
    """awd-lstm-lm divides the rate after validating epoch ``e in when``: epoch e+1 is the first at lr/10."""
    lrs: list[float] = []
    handle = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: lrs.append(opt.param_groups[0]["lr"])
    )
    try:
        r = lm.train_lm(tiny(epochs=4, when=(2, 3), variable_bptt=False), corpus=toy_corpus(n_train=800),
                        progress=False)
    finally:
        handle.remove()
    per_epoch = np.array_split(np.array(lrs), 4)  # fixed windows: the same number of updates per epoch
    assert len(lrs) % 4 == 0 and all(len(e) == len(lrs) // 4 for e in per_epoch)
    used = [sorted(set(e.tolist())) for e in per_epoch]
    assert used == [[5e-3], [5e-3], [pytest.approx(5e-4)], [pytest.approx(5e-5)]]
    # the history reports, at each end of epoch, the rate that epoch was trained with
    ends = r.history[r.history["epoch"].isin([1.0, 2.0, 3.0, 4.0])]["lr"].tolist()
    assert ends == pytest.approx([5e-3, 5e-3, 5e-4, 5e-5])


def test_checkpoint_resume_across_a_learning_rate_drop(tmp_path):
    corpus = toy_corpus(n_train=1500)
    cfg = tiny(epochs=3, when=(1,))
    full = lm.train_lm(cfg, corpus=corpus, progress=False)

    def stop(row):
        if row["epoch"] == 1.0:
            raise KeyboardInterrupt

    ckpt = tmp_path / "run.ckpt.pt"
    with pytest.raises(KeyboardInterrupt):  # interrupted while recording epoch 1: no checkpoint yet
        lm.train_lm(cfg, corpus=corpus, progress=False, checkpoint=ckpt, on_eval=stop)

    def stop_later(row):
        if row["epoch"] == 2.0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lm.train_lm(cfg, corpus=corpus, progress=False, checkpoint=ckpt, on_eval=stop_later)
    assert ckpt.is_file()
    resumed = lm.train_lm(cfg, corpus=corpus, progress=False, checkpoint=ckpt)
    assert resumed.history["lr"].tolist() == full.history["lr"].tolist()
    assert resumed.history["val_bits"].tolist() == full.history["val_bits"].tolist()


def test_checkpoint_resume_matches_uninterrupted(tmp_path):
    corpus = toy_corpus(n_train=2000)
    cfg = tiny(epochs=3, dropouti=0.2, wdrop=0.2)
    full = lm.train_lm(cfg, corpus=corpus, progress=False)

    def stop(row):
        if row["epoch"] > 1.5:
            raise KeyboardInterrupt

    ckpt = tmp_path / "run.ckpt.pt"
    with pytest.raises(KeyboardInterrupt):
        lm.train_lm(cfg, corpus=corpus, progress=False, checkpoint=ckpt, on_eval=stop)
    assert ckpt.is_file()
    resumed = lm.train_lm(cfg, corpus=corpus, progress=False, checkpoint=ckpt)
    assert resumed.history["val_bits"].tolist() == full.history["val_bits"].tolist()
    assert resumed.test_bits == full.test_bits
    with pytest.raises(ValueError, match="belongs to config"):
        lm.train_lm(cfg.replace(lr=1e-3), corpus=corpus, progress=False, checkpoint=ckpt)


def test_sweep_stores_resumes_and_requires(tmp_path, monkeypatch):
    corpus = toy_corpus(n_train=1500)
    monkeypatch.setattr(lm.train, "get_corpus", lambda *a, **k: corpus)  # where train_lm looks it up
    cfgs = [tiny(init_name=i) for i in ("identity", "chain")]
    runs = lm.sweep(cfgs, root=tmp_path, progress=False)
    assert sorted(runs.ran) == sorted(c.hash() for c in cfgs)
    d = lm.run_dir(cfgs[0], tmp_path)
    assert d.name == cfgs[0].hash() and d.parent.name == "lm-ptb-char"
    assert {p.name for p in d.iterdir()} == {"config.json", "history.csv", "weights.pt"}
    meta = json.loads((d / "config.json").read_text())
    assert meta["hash"] == cfgs[0].hash() and meta["config"]["init"] == "identity" and "git_sha" in meta["provenance"]
    state = torch.load(d / "weights.pt", weights_only=True)
    assert torch.equal(state["rnns.0.weight_hh"], runs.model(cfgs[0]).rnns[0].weight_hh.detach())
    assert not any(p.name.endswith(".tmp") for p in d.parent.iterdir())
    again = lm.sweep(cfgs, root=tmp_path, cache="require")  # nothing retrained
    assert again.ran == [] and again.results["test_bits"].tolist() == runs.results["test_bits"].tolist()
    with pytest.raises(store.ResultMissing, match="1 of 3 language-model runs are not stored"):
        lm.sweep(cfgs + [tiny(init_name="orthogonal")], root=tmp_path, cache="require")
    off = lm.sweep([tiny(init_name="orthogonal")], root=tmp_path, cache="off", progress=False)
    assert not store.is_stored(lm.run_dir(tiny(init_name="orthogonal"), tmp_path)) and len(off.results) == 1


def test_lm_and_synthetic_sweeps_share_one_runner(tmp_path, monkeypatch):
    from nnrnn import executors, sweep

    corpus = toy_corpus(n_train=1500)
    monkeypatch.setattr(lm.train, "get_corpus", lambda *a, **k: corpus)
    real, calls = executors.run_missing, []

    def spy(units, *args, **kwargs):
        units = [list(u) for u in units]
        calls.append((kwargs["desc"], [[key for key in map(kwargs["key"], u)] for u in units]))
        return real(units, *args, **kwargs)

    monkeypatch.setattr(executors, "run_missing", spy)
    cfg = tiny(init_name="identity")
    assert lm.sweep([cfg], root=tmp_path, progress=False).ran == [cfg.hash()]
    g = sweep.Grid("copy", {"chain": (1.0,)}, lrs=(1e-3,), seeds=(1,),
                   base=dict(T=25, hidden_size=8, n_train=32, n_val=16, epochs=1, evals_per_epoch=1))
    assert sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False).ran == [g.configs()[0].hash()]
    assert calls == [("language-model runs", [[cfg.hash()]]), ("copy sweep", [[g.configs()[0].hash()]])]
    lm.sweep([cfg], root=tmp_path)  # stored: nothing to run, the runner is not called
    assert len(calls) == 2


def _lm_sweep_through_the_runner(tmp_path, executor, **kw):
    """A tiny LM sweep: stored as it runs, nothing retrained, ``require`` names what is missing, a
    run locked by another live process is skipped (and named), and no lock or temporary is left."""
    sizes = kw.pop("cfg", {})
    cfgs = [tiny(init_name=i, **sizes) for i in ("identity", "chain", "orthogonal")]
    leftover = tmp_path / "runs" / "lm-ptb-char" / f".{cfgs[0].hash()}.deadbeef.tmp"
    leftover.mkdir(parents=True)
    past = time.time() - 2 * store.STALE_TMP_S
    os.utime(leftover, (past, past))
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    lock = tmp_path / "runs" / "lm-ptb-char" / f".{cfgs[2].hash()}.lock"
    try:
        lock.write_text(json.dumps({"pid": other.pid, "host": socket.gethostname(), "time": time.time()}))
        with pytest.raises(store.ResultMissing, match=rf"1 of 3 language-model runs are being trained by another "
                                                      rf"process .*{cfgs[2].hash()}.*process {other.pid}"):
            lm.sweep(cfgs, root=tmp_path, executor=executor, max_workers=1, progress=False, **kw)
    finally:
        other.kill()
        other.wait()
    assert [store.is_stored(lm.run_dir(c, tmp_path)) for c in cfgs] == [True, True, False] and not leftover.exists()
    assert lock.exists()  # another's lock is left alone
    with pytest.raises(store.ResultMissing, match=rf"1 of 3 language-model runs are not stored.*{cfgs[2].hash()}"):
        lm.sweep(cfgs, root=tmp_path, cache="require")
    runs = lm.sweep(cfgs, root=tmp_path, executor=executor, max_workers=1, progress=False, **kw)  # stale lock: taken over
    assert runs.ran == [cfgs[2].hash()] and len(runs.results) == 3
    assert lm.sweep(cfgs, root=tmp_path, executor=executor, progress=False, **kw).ran == []  # nothing retrained
    assert not [p.name for p in (tmp_path / "runs" / "lm-ptb-char").iterdir() if p.name.endswith((".lock", ".tmp"))]


def test_serial_lm_sweep_goes_through_the_shared_runner(tmp_path, monkeypatch):
    corpus = toy_corpus(n_train=1500)
    monkeypatch.setattr(lm.train, "get_corpus", lambda *a, **k: corpus)
    before = torch.get_num_threads()
    _lm_sweep_through_the_runner(tmp_path, "serial", threads=2)
    assert torch.get_num_threads() == before  # the runner restores this process's threads


def test_serial_lm_sweep_trains_at_the_callers_threads(tmp_path, monkeypatch):
    """``serial`` (the paper profile's default, ``threads=None``) trains in this process at torch's
    own setting, with the per-window bar; an explicit ``threads`` is passed through. Until issue 11's
    review, serial runs were pinned to one thread whatever the caller asked."""
    corpus = toy_corpus(n_train=1500)
    monkeypatch.setattr(lm.train, "get_corpus", lambda *a, **k: corpus)
    real, seen = lm.runs.run_one, []

    def spy(key, threads, *, progress, **kw):
        seen.append((threads, progress, torch.get_num_threads()))
        return real(key, threads, progress=False, **kw)

    monkeypatch.setattr(lm.runs, "run_one", spy)
    before = torch.get_num_threads()
    lm.sweep([tiny(init_name="identity")], root=tmp_path, executor="serial", progress=True)
    lm.sweep([tiny(init_name="chain")], root=tmp_path, executor="serial", threads=1, progress=False)
    assert seen == [(None, True, before), (1, False, before)]
    assert torch.get_num_threads() == before


@needs_ptb
def test_local_lm_sweep_goes_through_the_shared_runner(tmp_path):
    # a process pool: the workers read the real corpus (a monkeypatched one would not reach them)
    _lm_sweep_through_the_runner(tmp_path, "local", data_dir=DATA_DIR, download=False,
                                 cfg=dict(train_tokens=2000, valid_tokens=400, test_tokens=400))


def test_an_error_in_an_lm_run_is_raised_at_once_and_releases_its_lock(tmp_path, monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(lm.runs, "train_lm", broken)
    cfg = tiny()
    with pytest.raises(RuntimeError, match="out of memory"):
        lm.sweep([cfg], root=tmp_path, progress=False)
    assert not list((tmp_path / "runs" / "lm-ptb-char").glob(".*.lock")) and not store.is_stored(lm.run_dir(cfg, tmp_path))


def test_best_scale_keeps_each_groups_best_setting():
    rows = [  # (init, scale, fb_alpha, seed, best_val_bits, test_bits)
        ("chain", 0.5, None, 1, 2.0, 2.1), ("chain", 0.5, None, 2, 2.2, 2.3),
        ("chain", 1.0, None, 1, 1.9, 2.0), ("chain", 1.0, None, 2, 2.0, 2.1),
        ("chain", 0.9, None, 1, 1.0, 1.1), ("chain", 0.9, None, 2, 1.0, float("nan")),  # a seed diverged
        ("fb_chain", 0.04, 1.0, 1, 1.5, 1.6), ("fb_chain", 0.04, 0.9, 1, 1.4, 1.5),
        ("plain", float("nan"), None, 1, 3.0, 3.1), ("plain", float("nan"), None, 2, 3.2, 3.3),
    ]
    columns = ["init", "scale", "fb_alpha", "seed", "best_val_bits", "test_bits"]
    df = pd.DataFrame(rows, columns=columns).assign(corpus="ptb")
    best = lm.best_scale(df)
    assert best[best["init"] == "chain"][["scale", "seed"]].values.tolist() == [[1.0, 1], [1.0, 2]]
    assert best[best["init"] == "fb_chain"]["fb_alpha"].tolist() == [0.9]  # the forward gain is part of a setting
    assert len(best[best["init"] == "plain"]) == 2  # one setting (no scale): kept whole
    table = lm.results_table(best, lm.PAPER_TABLE1)
    assert table.loc["chain", "ptb: ours"] == "2.050 ± 0.050 (n=2)"
    tie = df[df["init"] == "chain"].assign(best_val_bits=1.0, test_bits=1.0)
    assert lm.best_scale(tie)["scale"].tolist() == [0.5, 0.5]  # ties: the first setting
    with pytest.raises(ValueError, match=r"needs the columns \['best_val_bits'\]"):
        lm.best_scale(df.drop(columns="best_val_bits"))


def test_results_table_puts_paper_values_beside_ours():
    df = pd.DataFrame({"corpus": ["ptb-char"] * 3, "init": ["chain", "chain", "fb_chain"], "test_bits": [2.0, 2.2, 1.9]})
    t = lm.results_table(df, lm.PAPER_TABLE1, extra_rows={"LSTM": lm.PAPER_TABLE1_LSTM})
    assert t.loc["chain", "ptb-char: ours"] == "2.100 ± 0.100 (n=2)"
    assert t.loc["chain", "ptb-char: paper"] == "1.308 ± 0.000"
    assert t.loc["LSTM", "ptb-char: ours"] == "—" and t.loc["LSTM", "ptb-char: paper"] == "1.175"


# ----------------------------------------------------------------------------- Fig. 6
def test_gate_diagonal_means_find_the_chain_in_every_gate():
    cfg = tiny("lstm", "chain", nlayers=2, emsize=10, nhid=10)
    m = lm.build_model(cfg, ntoken=5)
    resp = lm.lstm_pulse_response(m.rnns[1], steps=30)
    order = analysis.peak_order(resp, generator=torch.Generator().manual_seed(0))
    assert order.tolist() == list(range(10))  # the pulse travels 0 -> 1 -> ... down the chain
    df = lm.gate_diagonal_means(m, 1, steps=30, generator=torch.Generator().manual_seed(0))
    for gate, d in df.groupby("gate"):
        assert int(d.loc[d["weight"].idxmax(), "lag"]) == 1
        assert float(d["weight"].max()) == pytest.approx(1.02, rel=1e-6)  # every lag-1 pair is a 1.02 link
    shape = lm.diagonal_means_shape(df)
    assert (shape["forward_bump"] > 0.1).all()
    with pytest.raises(ValueError, match="needs an LSTM"):
        lm.gate_diagonal_means(lm.build_model(tiny(), 5))


def test_mixed_ramp_rises_along_the_update_chain():
    n = 8
    w = init.lstm_(torch.empty(4 * n, n), "mixed").double()
    order = torch.arange(n)  # the chain order of the update gate
    lags, g_prof = analysis.diagonal_means(w[2 * n : 3 * n], order)
    assert int(lags[np.argmax(g_prof)]) == 1
    lags, i_prof = analysis.diagonal_means(w[:n], order)
    assert np.all(np.diff(i_prof) > 0)  # monotone, rising with the forward order difference
    assert lm.diagonal_means_shape(pd.DataFrame({"gate": "i", "lag": lags, "weight": i_prof}))["monotonicity"].iloc[0] == 1.0


# ----------------------------------------------------------------------------- real data
@needs_ptb
def test_ptb_vocabularies_token_counts_and_subsets():
    word = lm.get_corpus("ptb", DATA_DIR, False)
    assert len(word.dictionary) == 10_000
    assert (len(word.train), len(word.valid), len(word.test)) == (929_589, 73_760, 82_430)
    char = lm.get_corpus("ptb-char", DATA_DIR, False)
    assert len(char.dictionary) == 50
    cfg = lm.paper_config("ptb-char", train_tokens=1000, valid_tokens=300)
    tr, va, te = lm.split_corpus(cfg, char)
    assert (len(tr), len(va), len(te)) == (1000, 300, len(char.test))
    assert torch.equal(tr, char.train[:1000])


@needs_ptb
def test_short_run_on_character_ptb():
    cfg = tiny(train_tokens=6000, valid_tokens=1000, test_tokens=1000, batch_size=8)
    r = lm.train_lm(cfg, data_dir=DATA_DIR, download=False, progress=False)
    assert r.ntoken == 50 and r.extra["train_tokens_used"] == 6000
    assert r.history["val_bits"].iloc[-1] < r.history["val_bits"].iloc[0] - 0.5
    assert r.test_bits < math.log2(50)


def test_offline_and_checksum_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("NNRNN_CACHE_DIR", str(tmp_path / "cache"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(data.DataNotFoundError):
        lm.train_lm(tiny(), data_dir=empty, download=False, progress=False)
    bad = tmp_path / "bad"
    for rel in data.FILES:
        if rel.startswith("ptb-char/"):
            (bad / rel).parent.mkdir(parents=True, exist_ok=True)
            (bad / rel).write_text("a b c\n")
    with pytest.raises(data.ChecksumError, match="checksum mismatch"):
        lm.train_lm(tiny(), data_dir=bad, download=False, progress=False)


def test_a_cache_off_sweep_leaves_no_temporary_root_behind(tmp_path):
    code = textwrap.dedent(
        f"""
        import tests.test_lm as t
        from nnrnn import lm
        corpus = t.toy_corpus(n_train=1500)
        lm.train.get_corpus = lambda *a, **k: corpus
        runs = lm.sweep([t.tiny(init_name="orthogonal")], cache="off", progress=False)
        print(next(iter(runs.paths.values())))
        """
    )
    env = dict(os.environ, TMPDIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(str(tmp_path))
    assert not list(tmp_path.glob("nnrnn-lm-*")), "the cache='off' root outlived its process"
