"""nnrnn verify: archived runs are integrity-checked and their first validation points retrained."""

import pandas as pd
import pytest

from nnrnn import sweep, verify

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
