"""nnrnn.store: config hashing, atomic run directories, run_or_load."""

import json
from dataclasses import dataclass

import numpy as np
import pytest

from nnrnn import store


@dataclass(frozen=True)
class Cfg:
    a: int
    b: tuple = (1.5, "x")


def test_hash_is_canonical_and_sensitive():
    assert store.config_hash({"a": 1, "b": [1.5, "x"]}) == store.config_hash(Cfg(1))
    assert store.config_hash({"a": 1}) != store.config_hash({"a": 1.0})
    assert store.config_hash({"a": 1}) != store.config_hash({"a": 2})
    with pytest.raises(ValueError, match="finite"):
        store.config_hash({"a": float("nan")})
    with pytest.raises(ValueError, match="cannot hash config value of type object"):
        store.config_hash({"a": object()})


def test_run_or_load_computes_once_and_records_provenance(tmp_path):
    calls = []

    def fn():
        calls.append(1)
        return {"x": np.arange(3), "y": 2.5}

    cfg = {"n": 3}
    r1 = store.run_or_load("exp", cfg, fn, profile="smoke", root=tmp_path, device="cpu")
    r2 = store.run_or_load("exp", cfg, fn, profile="smoke", root=tmp_path)
    assert len(calls) == 1 and np.array_equal(r1["x"], r2["x"]) and float(r2["y"]) == 2.5
    meta = json.loads(next((tmp_path / "results" / "smoke" / "exp").glob("*.json")).read_text())
    assert meta["hash"] == store.config_hash(cfg) and meta["config"] == cfg
    assert {"nnrnn_version", "git_sha", "torch_version", "device", "wall_s"} <= set(meta)
    store.run_or_load("exp", cfg, fn, profile="smoke", root=tmp_path, cache="off")
    assert len(calls) == 2


def test_run_or_load_require_fails_loudly(tmp_path):
    with pytest.raises(store.ResultMissing, match="no stored result for exp with config hash"):
        store.run_or_load("exp", {"n": 1}, dict, profile="paper", root=tmp_path, cache="require")
    with pytest.raises(ValueError, match=r"cache must be one of \['auto', 'require', 'off'\], got 'never'"):
        store.run_or_load("exp", {}, dict, profile="demo", root=tmp_path, cache="never")


def test_write_run_dir_is_atomic(tmp_path):
    final = tmp_path / "runs" / "abc"

    def boom(d):
        (d / "config.json").write_text("{}")
        raise KeyboardInterrupt  # killed midway

    with pytest.raises(KeyboardInterrupt):
        store.write_run_dir(final, boom)
    assert not final.exists() and list((tmp_path / "runs").iterdir()) == []

    store.write_run_dir(final, lambda d: (d / "config.json").write_text('{"ok": 1}'))
    assert json.loads((final / "config.json").read_text()) == {"ok": 1}
    # a finished run is never rewritten
    store.write_run_dir(final, lambda d: (d / "config.json").write_text('{"ok": 2}'))
    assert json.loads((final / "config.json").read_text()) == {"ok": 1}


def test_atomic_write_text(tmp_path):
    p = tmp_path / "a" / "b.txt"
    store.atomic_write_text(p, "hello")
    assert p.read_text() == "hello" and [x.name for x in p.parent.iterdir()] == ["b.txt"]


def test_the_store_reads_what_it_writes(tmp_path):
    """One run written with run_payload/write_run_payload reads back through the store's own readers."""
    import pandas as pd
    import torch

    from nnrnn.train import TrainConfig, train

    cfg = TrainConfig(task="copy", T=25, hidden_size=4, n_train=16, n_val=8, epochs=1)
    result = train(cfg, progress=False)
    payload = store.run_payload(result)
    assert payload["hash"] == cfg.hash() and payload["config"] == cfg.as_dict()
    folder = store.write_run_payload(payload, "copy", tmp_path, expected_hash=cfg.hash())
    assert folder == store.run_folder("copy", cfg.hash(), tmp_path) and store.is_stored(folder)
    # an incomplete run (no config.json) and a run being written (hidden folder) are not read
    (folder.parent / "0123456789ab").mkdir()
    (folder.parent / f".{cfg.hash()}.x.tmp").mkdir()
    metas = store.stored_runs("copy", root=tmp_path)
    assert [m["hash"] for m in metas] == [cfg.hash()] and store.stored_runs("copy", ["ffffffffffff"], tmp_path) == []
    assert store.stored_runs("addition", root=tmp_path) == [] and not store.is_stored(store.run_folder("copy", "0123456789ab", tmp_path))
    weights = store.load_weights("copy", cfg.hash(), root=tmp_path)
    assert all(torch.equal(weights[k], result.state_dict[k]) for k in weights)
    runs = pd.DataFrame([{"task": "copy", "hash": cfg.hash(), "init": cfg.init, "scale": cfg.scale, "lr": cfg.lr,
                          "seed": cfg.seed}])
    history = store.load_history(runs, root=tmp_path)
    assert history["update"].tolist() == result.history["update"].tolist() and set(history["hash"]) == {cfg.hash()}


def test_check_writable_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match="is not writable"):
        store.check_writable(blocker)
    store.check_writable(tmp_path / "new")
    assert (tmp_path / "new" / "runs").is_dir()


def test_is_stored_is_the_one_check_of_a_run_folder_for_both_families(tmp_path):
    """Issue 22: sweep.is_finished(cfg, root) and lm.is_done(cfg, root) were two names for one test,
    run_status == "ok"; store.is_stored(folder) is the one, on each family's run folder."""
    from nnrnn import lm, sweep
    from nnrnn.train import TrainConfig

    assert not hasattr(sweep, "is_finished") and not hasattr(lm, "is_done")
    for folder in (sweep.run_dir(TrainConfig(task="copy"), tmp_path), lm.run_dir(lm.LMConfig(corpus="ptb-char"), tmp_path)):
        assert not store.is_stored(folder)  # missing
        folder.mkdir(parents=True)
        assert not store.is_stored(folder)  # incomplete: no config.json
        (folder / "config.json").write_text("{}")
        assert store.is_stored(folder)
        (folder / "config.json").write_text('{"files": {"weights.pt": "0"}}')
        assert not store.is_stored(folder)  # corrupt: a recorded file is missing
