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
