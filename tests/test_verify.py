"""nnrnn verify: archived runs are integrity-checked and their first validation points retrained."""

from pathlib import Path

import pandas as pd
import pytest
import torch

from nnrnn import lockstep, sweep, verify

BASE = dict(T=30, hidden_size=8, n_train=64, n_val=16, epochs=2, evals_per_epoch=2)


@pytest.fixture
def archive(tmp_path):
    g = sweep.Grid("copy", {"chain": (1.0,), "orthogonal": (1.0,)}, lrs=(1e-3,), seeds=(1,), base=BASE)
    sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False)
    return tmp_path


def test_an_intact_run_retrains_to_its_stored_history(archive):
    runs = verify.archived_runs(archive)
    assert len(runs) == 2
    for d in runs:
        r = verify.verify_run(d, points=2)
        assert r["ok"], r
        assert r["updates"] == 4


def test_a_changed_history_value_is_found(archive):
    d = verify.archived_runs(archive)[0]
    h = pd.read_csv(d / "history.csv")
    h.loc[1, "val_loss"] *= 1.001
    h.to_csv(d / "history.csv", index=False)
    r = verify.verify_run(d)
    assert not r["ok"] and "history.csv" in r["problem"] and "SHA-256" in r["problem"]


def test_main_reports_corrupt_files_and_fails(archive, capsys):
    assert verify.main(["--root", str(archive), "--sample", "1", "--seed", "0"]) == 0
    d = verify.archived_runs(archive)[1]
    (d / "weights.pt").write_bytes(b"damaged")
    assert verify.main(["--root", str(archive), "--sample", "0"]) == 1
    out = capsys.readouterr().out
    assert "CORRUPT" in out and "weights.pt" in out


def test_retraining_differences_beyond_the_tolerance_are_reported(archive, monkeypatch):
    d = verify.archived_runs(archive)[0]
    real = verify.train_group

    def drift(cfgs, **kw):
        out = real(cfgs, **kw)
        out[0].history.loc[1, "val_loss"] += 1e-3
        return out

    monkeypatch.setattr(verify, "train_group", drift)
    r = verify.verify_run(d)
    assert not r["ok"] and r["problem"].startswith("val_loss at update")


def test_bad_options_are_argparse_errors(archive):
    with pytest.raises(SystemExit) as e:
        verify.main(["--root", str(archive), "--points", "0"])
    assert e.value.code == 2


def test_dropping_a_file_keeps_the_run_intact_and_says_why(archive):
    from nnrnn import store

    d = verify.archived_runs(archive)[0]
    assert store.drop_file(d, "weights.pt", "pilot run")
    assert not (d / "weights.pt").exists() and store.run_status(d) == "ok"
    assert store.read_run_meta(d)["dropped"] == {"weights.pt": "pilot run"}
    assert not store.drop_file(d, "weights.pt", "again")
    assert verify.verify_run(d)["ok"]


def test_a_run_trained_in_a_stack_is_retrained_in_a_stack(archive, monkeypatch):
    """The fixture's runs trained as one lockstep group of 2: verify retrains each beside a
    companion that shares its group key, and a run that trained alone alone."""
    d = verify.archived_runs(archive)[0]
    meta = verify.read_run_meta(d)
    assert meta["provenance"]["lockstep_runs"] == 2
    cfg = verify.TrainConfig.from_dict(meta["config"])
    group = verify.retrain_group(cfg, meta)
    assert group[0] == cfg and len(group) == 2 and group[1].hash() != cfg.hash()
    assert lockstep.group_key(group[1]) == lockstep.group_key(cfg)
    alone = {**meta, "provenance": {**meta["provenance"], "lockstep_runs": 1}}
    assert verify.retrain_group(cfg, alone) == [cfg] == verify.retrain_group(cfg, {"config": meta["config"]})
    seen = []
    real = verify.train_group
    monkeypatch.setattr(verify, "train_group", lambda cfgs, **kw: seen.append(len(cfgs)) or real(cfgs, **kw))
    assert verify.verify_run(d)["ok"] and seen == [2]


ARCHIVED = Path(__file__).resolve().parent.parent / "data" / "runs" / "addition" / "9c61d77e7adf"


@pytest.mark.slow
@pytest.mark.skipif(not ARCHIVED.is_dir(), reason="the archived demo run is not in this checkout")
def test_an_archived_run_whose_training_amplifies_rounding_verifies():
    """The demo addition run fb_chain 0.04 at lr 3e-4 trained in a stack of 24: retrained alone, its
    validation loss after 200 updates is 0.25 where the stack's is 0.36 (rounding amplified), so
    verify must retrain it in a stack, at one thread, whatever the caller's thread count."""
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        r = verify.verify_run(ARCHIVED)
    finally:
        torch.set_num_threads(saved)
    assert r["ok"], r
    assert r["updates"] == 200


def test_a_run_that_cannot_be_retrained_is_named_and_the_others_still_checked(archive, monkeypatch, capsys):
    from nnrnn.data.errors import DataNotFoundError

    real, calls = verify.verify_run, []

    def missing_data_first(d, **kw):
        calls.append(d)
        if len(calls) == 1:
            raise DataNotFoundError("data file(s) not found: mnist/train-images-idx3-ubyte.gz")
        return real(d, **kw)

    monkeypatch.setattr(verify, "verify_run", missing_data_first)
    assert verify.main(["--root", str(archive), "--sample", "2", "--seed", "0"]) == 1
    out = capsys.readouterr().out
    assert "CANNOT RETRAIN: data file(s) not found" in out and out.count(": ok (") == 1 and len(calls) == 2


@pytest.mark.slow
@pytest.mark.skipif(not ARCHIVED.is_dir(), reason="the archived demo run is not in this checkout")
def test_a_rounding_sensitive_run_is_not_checkable_and_main_checks_another(monkeypatch, tmp_path, capsys):
    """Retrained in the wrong layout (alone), the demo addition run differs from its stored history;
    the probe retrains it stacked, the two layouts disagree too, so the run is rounding-sensitive:
    ok is None (not a pass, not a failure) and main moves on to a run it can check."""
    monkeypatch.setattr(verify, "retrain_group", lambda cfg, meta: [cfg])  # the wrong layout for this run
    r = verify.verify_run(ARCHIVED)
    assert r["ok"] is None and r["problem"].startswith("rounding-sensitive")
    root = tmp_path / "root"
    (root / "runs" / "addition").mkdir(parents=True)
    import shutil

    shutil.copytree(ARCHIVED, root / "runs" / "addition" / ARCHIVED.name)
    g = sweep.Grid("copy", {"orthogonal": (1.0,)}, lrs=(1e-3,), seeds=(1,), base=BASE)
    sweep.run_sweep(g, root=root, executor="serial", progress=False)
    calls = []
    real = verify.verify_run
    monkeypatch.setattr(verify, "verify_run", lambda d, **kw: calls.append(d) or real(d, **kw))
    order_first = [s for s in range(50) if verify.random.Random(s).sample(verify.archived_runs(root), 2)[0].name == ARCHIVED.name][0]
    assert verify.main(["--root", str(root), "--sample", "1", "--seed", str(order_first)]) == 0
    out = capsys.readouterr().out
    assert "NOT CHECKABLE, rounding-sensitive" in out and out.count(": ok (") == 1 and len(calls) == 2


def test_language_model_runs_are_checked_but_not_retrained(archive, capsys):
    """The archive's LM runs (runs/lm-<corpus>/) count in the SHA-256 check; a damaged file fails it."""
    from nnrnn.lm import replicate as lm_rep
    from nnrnn.lm import runs as lm_runs

    cfg = lm_rep.configs("rnn")[0]
    lm_runs._write_payload({"hash": cfg.hash(), "config": cfg.key(), "provenance": {}, "weights": b"w",
                            "result": {"status": "finished", "test_bits": 1.5},
                            "history_csv": "point,epoch,val_bits\n0,0.0,2.0\n"}, archive)
    assert verify.archived_lm_runs(archive) == [lm_runs.run_dir(cfg, archive)]
    assert verify.main(["--root", str(archive), "--sample", "0"]) == 0
    assert "3 archived runs" in capsys.readouterr().out and len(verify.archived_runs(archive)) == 2
    (lm_runs.run_dir(cfg, archive) / "history.csv").write_text("point,epoch,val_bits\n0,0.0,1.0\n")
    assert verify.main(["--root", str(archive), "--sample", "0"]) == 1
    out = capsys.readouterr().out
    assert "CORRUPT" in out and "history.csv" in out and cfg.hash() in out
