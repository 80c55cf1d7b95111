"""Tests of the language models' replicate profile (nnrnn.lm.replicate): configs, costs, driver, claim rows."""

from __future__ import annotations

import math
import types

import numpy as np
import pandas as pd
import pytest
import torch

from nnrnn import lm, store, verdicts
from nnrnn.lm import replicate as rep
from nnrnn.lm import runs as lm_runs

#: ``[c.hash() for c in configs(cell)]``, pinned once chosen: stored replicate runs are found by them.
HASHES = {
    "rnn": ["e7b8d9f38a55", "3e21c902d761", "59276684687d", "e782e662a451", "787486d1ffdb", "17cfff0eddb1",
            "42b795da7724", "ab234a3e7763", "b9202e97ce00", "210504e9df36", "8ba3184ecb9e", "7cd5fbb0c3ee"],
    "lstm": ["729f87bd914b", "cb00fd115c1a", "beab75a49361", "b2de4a1a19e5", "cb167013076e", "84996ad6e458",
             "7958fd339620", "4dd2543c0dfb", "9f12c253c45e", "461e364e4b5a", "582f7879d416", "bed46ba47491"],
}
#: the keys of a row of the results page's claim table (``nnrnn.pages.claims._row``).
ROW_KEYS = ["claim", "where in the paper", "paper", "ours", "profile", "runs", "test", "verdict"]
#: tiny sizes for the driver tests (seconds per run on one thread).
TINY = dict(nlayers=1, emsize=8, nhid=8, bptt=10, batch_size=4, eval_batch_size=4, test_batch_size=2, epochs=3,
            evals_per_epoch=1, when=(2,), lr=5e-3, device="cpu")


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def toy_corpus(n: int = 1200):
    """A learnable stream: token k+1 follows token k (mod 5), with 10 % random tokens."""
    def stream(m: int, s: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(s)
        x = torch.arange(m) % 5
        return torch.where(torch.rand(m, generator=g) < 0.1, torch.randint(6, (m,), generator=g), x)

    return types.SimpleNamespace(dictionary=list(range(6)), train=stream(n, 0), valid=stream(300, 1),
                                 test=stream(300, 2))


# ----------------------------------------------------------------------------- configs
@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_configs_are_the_paper_runs_with_only_the_stated_reductions(cell):
    cfgs = rep.configs(cell)
    assert [c.hash() for c in cfgs] == HASHES[cell]
    assert {(c.init, c.seed) for c in cfgs} == {(i, s) for i in rep.REPLICATE_INITS[cell] for s in (1, 2, 3)}
    changed = set(rep.REPLICATE_CHANGES[cell])
    for c in cfgs:
        paper = lm.paper_config("ptb-char", cell, c.init, c.seed).key()
        ours = c.key()
        assert {k for k in ours if ours[k] != paper[k]} == changed
        assert (c.nlayers, c.emsize, c.bptt, c.batch_size, c.corpus) == (3, 200, 150, 128, "ptb-char")
        # the learning rate drops after the paper's fractions (300 and 400 of 500 epochs) of the run
        assert [w / c.epochs for w in c.when] == [0.6, 0.8]
    assert set(rep.REPLICATE_INITS["rnn"]) == {"identity", "orthogonal", "chain", "fb_chain"}
    assert {"orthogonal", "mixed"} <= set(rep.REPLICATE_INITS["lstm"])


def test_configs_reject_bad_input_and_take_overrides():
    with pytest.raises(ValueError, match="cell must be one of"):
        rep.configs("gru")
    with pytest.raises(ValueError, match="at least one initializer and one seed"):
        rep.configs("rnn", seeds=())
    with pytest.raises(ValueError, match="unknown initializer 'mixed'"):
        rep.configs("rnn", inits=["mixed"])
    small = rep.configs("lstm", inits=["mixed"], seeds=[7], nhid=16)
    assert [(c.init, c.seed, c.nhid, c.epochs) for c in small] == [("mixed", 7, 16, 5)]


# ----------------------------------------------------------------------------- costs
MEASURED_COLUMNS = ["training µs per token (CPU, measured)", "validation µs per token (CPU, measured)",
                    "test µs per token (CPU, measured)", "training MFLOP per token (counted)"]


def test_cost_table_has_the_measured_columns_and_the_replicate_set_fits_a_few_hours():
    t = rep.cost_table()
    assert list(t.index) == [("rnn", "paper"), ("rnn", "replicate"), ("lstm", "paper"), ("lstm", "replicate")]
    for col in MEASURED_COLUMNS + ["CPU hours per epoch", "CPU hours per run", "hours for all runs on 2 cores",
                                   "GPU seconds per epoch (assumed rate)", "GPU hours for all runs (assumed rate)"]:
        assert col in t.columns
        assert np.isfinite(t[col].astype(float)).all() and (t[col].astype(float) > 0).all()
    hours = t["hours for all runs on 2 cores"]
    assert hours.xs("replicate", level="size").sum() < 6          # "a few hours in all"
    assert (hours.xs("paper", level="size") > 100 * hours.xs("replicate", level="size")).all()
    # the cost of an epoch is the measured rates times the tokens of character PTB
    m = rep.MEASURED[("rnn", "paper")]
    tokens = rep.PTB_CHAR_TOKENS
    expected = (tokens["train"] * m["train_cpu_s"] + tokens["valid"] * m["valid_cpu_s"]) / 3600
    assert t.loc[("rnn", "paper"), "CPU hours per epoch"] == pytest.approx(expected)


def test_cost_table_gpu_columns_follow_the_stated_assumption():
    r = rep.MEASURED[("rnn", "paper")]
    m = {("rnn", "paper"): r}
    fast = rep.cost_table(m, gpu_flops=1e30, gpu_step_s=1e-3)   # latency-bound: rows x step time
    c = lm.paper_config("ptb-char", "rnn")
    rows = rep.PTB_CHAR_TOKENS["train"] / c.batch_size + rep.PTB_CHAR_TOKENS["valid"] / c.eval_batch_size
    assert fast.iloc[0]["GPU seconds per epoch (assumed rate)"] == pytest.approx(rows * 1e-3)
    slow = rep.cost_table(m, gpu_flops=1e9, gpu_step_s=0.0)     # FLOP-bound
    flop = rep.PTB_CHAR_TOKENS["train"] * r["train_flop"] + rep.PTB_CHAR_TOKENS["valid"] * r["eval_flop"]
    assert slow.iloc[0]["GPU seconds per epoch (assumed rate)"] == pytest.approx(flop / 1e9)
    for bad in ({}, {("gru", "paper"): r}, {("rnn", "huge"): r}):
        with pytest.raises(ValueError):
            rep.cost_table(bad)
    with pytest.raises(ValueError, match="gpu_flops"):
        rep.cost_table(m, gpu_flops=0)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_measure_counts_the_models_matrix_products(cell):
    cfg = rep.configs(cell, nhid=16, emsize=8, bptt=6, batch_size=4, eval_batch_size=2)[0]
    m = rep.measure(cfg, ntoken=11)
    gates = 1 if cell == "rnn" else 4
    macs = sum(gates * (n_in + n_out) * n_out for n_in, n_out in cfg.layer_sizes) + cfg.emsize * 11
    assert m["eval_flop"] == 2 * macs                       # forward: 2 FLOPs per multiply-add
    assert 2 * m["eval_flop"] < m["train_flop"] <= 3 * m["eval_flop"]   # plus the backward pass
    for k in ("train_cpu_s", "valid_cpu_s", "test_cpu_s"):
        assert m[k] > 0
    assert torch.get_num_threads() == 1                     # restored
    t = rep.cost_table({(cell, "replicate"): m})
    assert set(MEASURED_COLUMNS) <= set(t.columns)
    with pytest.raises(ValueError, match="windows must be an integer"):
        rep.measure(cfg, windows=0)


# ----------------------------------------------------------------------------- the driver
def test_driver_trains_what_is_missing_resumes_and_skips_what_is_stored(tmp_path, monkeypatch, capsys):
    corpus = toy_corpus()
    monkeypatch.setattr(lm.train, "get_corpus", lambda *a, **k: corpus)
    kw = dict(inits=["chain", "fb_chain"], seeds=[1], executor="serial", progress=False, **TINY)
    assert rep.run(["rnn"], root=tmp_path, dry_run=True, **kw) == {"rnn": None}
    assert "2 replicate runs" in capsys.readouterr().out and not (tmp_path / "runs").exists()

    target = rep.configs("rnn", inits=["fb_chain"], seeds=[1], **TINY)[0]
    original = lm_runs.train_lm

    def interrupted(cfg, **k):
        if cfg.hash() == target.hash():
            def stop(row):
                if row["epoch"] > 1.5:
                    raise KeyboardInterrupt
            k["on_eval"] = stop
        return original(cfg, **k)

    monkeypatch.setattr(lm_runs, "train_lm", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rep.run(["rnn"], root=tmp_path, **kw)
    ckpt = tmp_path / "runs" / "lm-ptb-char" / ".checkpoints" / f"{target.hash()}.pt"
    assert ckpt.is_file() and not store.is_stored(lm.run_dir(target, tmp_path))
    assert torch.load(ckpt, weights_only=True)["epoch"] == 1
    monkeypatch.setattr(lm_runs, "train_lm", original)

    out = rep.run(["rnn"], root=tmp_path, **kw)["rnn"]
    assert target.hash() in out.ran and not ckpt.exists()
    fresh = lm.train_lm(target, corpus=corpus, progress=False)        # uninterrupted
    resumed = out.results.set_index("hash").loc[target.hash()]
    assert resumed["test_bits"] == fresh.test_bits
    assert out.history[out.history["hash"] == target.hash()]["val_bits"].tolist() == fresh.history["val_bits"].tolist()
    assert rep.plan("rnn", tmp_path, inits=["chain", "fb_chain"], seeds=[1], **TINY)["stored"].all()
    assert rep.run(["rnn"], root=tmp_path, **kw)["rnn"].ran == []    # nothing retrained


def test_command_line_dry_run_and_bad_arguments(tmp_path, capsys):
    assert rep._main(["--dry-run", "--cell", "lstm", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "lstm: 12 replicate runs" in out and "rnn" not in out
    assert rep._main(["--costs"]) == 0 and "GPU hours" in capsys.readouterr().out
    for argv in (["--cell", "gru"], ["--workers", "0"]):
        with pytest.raises(SystemExit):
            rep._main(argv)


# ----------------------------------------------------------------------------- claim rows
def fake_results(cell: str, means: dict[str, float], spread: float = 0.002, diverged: dict | None = None):
    rows = []
    for init in rep.REPLICATE_INITS[cell]:
        for k, seed in enumerate((1, 2, 3)):
            bits = means[init] + spread * (k - 1)
            if diverged and k < diverged.get(init, 0):
                bits = float("nan")
            rows.append({"init": init, "seed": seed, "hash": f"{init}{seed}", "status": "finished", "test_bits": bits})
    return pd.DataFrame(rows)


def test_claims_rows_without_runs_say_so(tmp_path):
    rows = rep.claims_rows(tmp_path)
    assert [r["claim"] for r in rows] == [
        "Language modelling: the feedback chain gives the lowest test loss (vanilla RNN)",
        "LSTM: non-normal (mixed) initialization helps",
    ]
    assert [r["where in the paper"] for r in rows] == ["Table 1, Fig. 4", "Table 3, Fig. 6"]
    for r in rows:
        assert list(r) == ROW_KEYS
        assert r["verdict"] == verdicts.VERDICTS[4] and r["test"] == "-" and r["runs"] == "0 of 12"
        assert "no language-model runs in the archive yet" in r["ours"]
    assert "feedback chain 1.307 ± 0.000" in rows[0]["paper"] and "mixed 1.227 ± 0.000" in rows[1]["paper"]


def test_claims_rows_compute_verdicts_from_stored_runs(monkeypatch):
    data = {
        # the feedback chain clearly lowest: reproduced, against the best other (the chain)
        "rnn": fake_results("rnn", {"identity": 1.60, "orthogonal": 1.61, "chain": 1.55, "fb_chain": 1.50}),
        # mixed clearly highest: not reproduced, against the best other (orthogonal)
        "lstm": fake_results("lstm", {"orthogonal": 1.40, "chain": 1.42, "plain": 1.45, "mixed": 1.48}),
    }
    monkeypatch.setattr(rep, "load_results", lambda cell, root=None: data[cell])
    rnn, lstm_row = rep.claims_rows()
    expect = verdicts.difference_verdict(data["rnn"].query("init == 'chain'")["test_bits"],
                                         data["rnn"].query("init == 'fb_chain'")["test_bits"], at_paper_scale=False)
    # a reduced model is not the paper's scale: the verdict says so, the test is still reported
    assert rnn["verdict"] == verdicts.VERDICTS[4] == expect.label and rnn["test"] == expect.describe()
    assert expect.ci[0] > 0  # the test itself points the paper's way, significantly
    assert "chain (the best other) minus feedback chain = +0.0500 bits" in rnn["ours"]
    assert "not a prediction of what full-scale runs would show" in rnn["ours"]
    assert "points the paper's way (significant)" in rnn["ours"] and f'would get the label "{verdicts.VERDICTS[0]}"' in rnn["ours"]
    assert rnn["runs"] == "12 of 12 (3 seeds)" and "256" in rnn["profile"] and "10 of 500 epochs" in rnn["profile"]
    assert lstm_row["verdict"] == verdicts.VERDICTS[4]
    assert "orthogonal (the best other) minus mixed = -0.0800 bits" in lstm_row["ours"]
    assert "against the paper's claim (significant)" in lstm_row["ours"] and verdicts.VERDICTS[3] in lstm_row["ours"]

    # overlapping seeds: the direction without significance
    data["rnn"] = fake_results("rnn", {"identity": 1.60, "orthogonal": 1.61, "chain": 1.501, "fb_chain": 1.50},
                               spread=0.02)
    row = rep.claims_rows()[0]
    assert row["verdict"] == verdicts.VERDICTS[4] and "95 % CI [" in row["test"]
    assert "the paper's way (not significant)" in row["ours"] and f'would get the label "{verdicts.VERDICTS[1]}"' in row["ours"]


def test_claims_rows_with_too_few_finished_runs_are_not_tested(monkeypatch, tmp_path):
    data = fake_results("rnn", {"identity": 1.60, "orthogonal": 1.61, "chain": 1.55, "fb_chain": 1.50},
                        diverged={"fb_chain": 2})
    monkeypatch.setattr(rep, "load_results", lambda cell, root=None: data if cell == "rnn" else data.iloc[0:0])
    rnn, lstm_row = rep.claims_rows(tmp_path)
    assert rnn["verdict"] == verdicts.VERDICTS[4] and rnn["test"] == "-"
    assert "missing for feedback chain" in rnn["ours"] and "feedback chain 2 diverged" in rnn["runs"]
    assert lstm_row["verdict"] == verdicts.VERDICTS[4]


def test_load_results_reads_the_run_store(tmp_path):
    cfg = rep.configs("rnn")[5]
    payload = {"hash": cfg.hash(), "config": cfg.key(), "provenance": {}, "weights": b"",
               "result": {"status": "finished", "test_bits": 1.5, "best_val_bits": 1.49},
               "history_csv": "point,epoch,val_bits\n0,0.0,2.0\n"}
    lm_runs._write_payload(payload, tmp_path)
    got = rep.load_results("rnn", tmp_path)
    assert got[["init", "seed", "test_bits"]].values.tolist() == [[cfg.init, cfg.seed, 1.5]]
    assert rep.load_results("lstm", tmp_path).empty
    row = rep.claims_rows(tmp_path)[0]
    assert row["runs"].startswith("1 of 12") and row["verdict"] == verdicts.VERDICTS[4]
    assert math.isfinite(got["test_bits"].iloc[0])


def test_nothing_drops_the_final_weights_of_a_replicate_run(tmp_path, capsys):
    """Issue 19: the final weights of every stage-2 run are kept (the evidence check of ``nnrnn
    verify`` recomputes a run's numbers from them); the language models' ``--prune`` is gone."""
    assert not hasattr(rep, "prune_weights")
    with pytest.raises(SystemExit) as e:
        rep._main(["--cell", "lstm", "--prune", "--root", str(tmp_path)])
    assert e.value.code == 2 and "unrecognized arguments: --prune" in capsys.readouterr().err
