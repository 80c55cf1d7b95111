"""Sweeps and the run store: grids, atomic storage, resuming, executors, loading, summaries."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from nnrnn import results, store, sweep, sweep_cli
from nnrnn.store import ResultMissing
from nnrnn.train import TrainConfig

BASE = dict(T=25, hidden_size=8, n_train=32, n_val=16, epochs=1, evals_per_epoch=1)
REPO = Path(__file__).resolve().parent.parent


def tiny_grid(**kw) -> sweep.Grid:
    args = dict(scales={"chain": (1.0,), "orthogonal": (1.0,)}, lrs=(1e-3,), seeds=(1, 2), base=BASE)
    args.update(kw)
    return sweep.Grid("copy", **args)


# ----------------------------------------------------------------------------- grids
def test_paper_grid_matches_the_paper():
    for task in ("copy", "addition"):
        g = sweep.grid(task, "paper")
        assert g.runs_per_init() == {"identity": 594, "orthogonal": 594, "chain": 462, "fb_chain": 462}
        assert len(g) == 2112 == len({c.hash() for c in g.configs()})
        c = g.configs()[0]
        assert (c.seq_len, c.hidden_size, c.n_train, c.n_val, c.epochs, c.batch_size, c.early_stop) == (
            {"copy": 500, "addition": 750}[task], 100, 60_000, 10_000, 100, 16, 0.0025)
    assert sweep.PAPER_LRS[0] == 8e-4 and sweep.PAPER_LRS[-1] == 3e-6 and len(sweep.PAPER_LRS) == 11
    assert sweep.grid("copy", "paper", device="cuda").configs()[0].device == "cuda"


def test_profile_grids_cover_every_initializer():
    for task in ("copy", "addition"):
        for profile in ("smoke", "demo"):
            g = sweep.grid(task, profile)
            assert set(g.inits) == {"identity", "orthogonal", "chain", "fb_chain"}
            assert len(g) == len(g.configs()) > 0
            assert "runs" in g.describe()


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"scales": {}}, "grid is empty"),
        ({"scales": {"chain": ()}}, "grid is empty: no scales"),
        ({"lrs": ()}, "grid is empty: no learning rates"),
        ({"seeds": ()}, "grid is empty: no seeds"),
        ({"scales": {"xavier": (1.0,)}}, "unknown initializer 'xavier'"),
        ({"base": {**BASE, "hidden_size": 0}}, "hidden_size must be a positive integer"),
        ({"base": {**BASE, "lr": 1e-3}}, "must not set 'lr'"),
    ],
)
def test_bad_grids_raise_clear_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        tiny_grid(**kw)


def test_bad_sweep_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"task must be one of \['addition', 'copy', 'psmnist'\], got 'sorting'"):
        sweep.Grid("sorting", {"chain": (1.0,)}, (1e-3,), (1,))
    with pytest.raises(ValueError, match="sweep is empty"):
        sweep.run_sweep([], root=tmp_path)
    with pytest.raises(ValueError, match="executor must be one of"):
        sweep.run_sweep(tiny_grid(), root=tmp_path, executor="mpi")
    with pytest.raises(ValueError, match="cache must be one of"):
        sweep.run_sweep(tiny_grid(), root=tmp_path, cache="sometimes")
    with pytest.raises(ValueError, match="profile must be one of"):
        sweep.grid("copy", "huge")
    with pytest.raises(ValueError, match="group_size must be a positive integer, got 0"):
        sweep.run_sweep(tiny_grid(), root=tmp_path, group_size=0)
    with pytest.raises(ValueError, match="base_seed must be a non-negative integer, got -1"):
        sweep.grid("copy", "smoke", base_seed=-1)


def test_grids_are_built_from_the_profiles_data():
    """sweep.grid holds no settings of its own: every grid is nnrnn.profiles.get's data."""
    from nnrnn import paper, profiles

    for task in ("copy", "addition", "psmnist"):
        for profile in ("smoke", "demo", "paper"):
            s = profiles.get(task, profile)
            g = sweep.grid(task, profile)
            assert dict(g.scales) == {k: tuple(v) for k, v in s["scales"].items()}
            assert (g.lrs, g.seeds) == (tuple(s["lrs"]), tuple(s["seeds"])) and g.base == s["base"]
            assert s["executor"] == ("serial" if profile == "smoke" else "local")
    assert profiles.get("copy", "paper")["lrs"] == paper.PAPER_LRS == sweep.PAPER_LRS
    mine = profiles.get("copy", "demo")
    mine["base"]["T"] = 7  # a copy: the profile itself is unchanged
    assert profiles.get("copy", "demo")["base"]["T"] == 100 and profiles.get("psmnist", "demo")["n_test"] == 10_000
    assert profiles.cell_timeout("replicate") == profiles.cell_timeout("demo") and "replicate" in profiles.PROFILES
    with pytest.raises(ValueError, match="'replicate' profile has no single grid.*nnrnn.replicate"):
        sweep.grid("copy", "replicate")


# ----------------------------------------------------------------------------- store and loading
def test_serial_sweep_stores_runs_and_loads_them(tmp_path):
    g = tiny_grid()
    report = sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False)
    assert len(report.ran) == 4 and report.skipped == [] and report.errors == {}
    for cfg in g.configs():
        d = sweep.run_dir(cfg, tmp_path)
        assert d == tmp_path / "runs" / "copy" / cfg.hash()
        assert {p.name for p in d.iterdir()} == {"config.json", "history.csv", "weights.pt"}
        meta = json.loads((d / "config.json").read_text())
        assert meta["hash"] == cfg.hash() and TrainConfig.from_dict(meta["config"]) == cfg
        assert meta["result"]["status"] in ("finished", "early_stopped", "diverged")
        assert meta["provenance"]["torch_version"] == torch.__version__
        state = torch.load(d / "weights.pt", weights_only=True)
        assert set(state) == {"rnn.weight_ih", "rnn.weight_hh", "rnn.bias", "readout.weight", "readout.bias"}
        assert tuple(state["rnn.weight_hh"].shape) == (8, 8)
    runs = sweep.load_runs("copy", configs=g, root=tmp_path)
    assert len(runs) == 4 and set(runs["hash"]) == set(report.hashes)
    assert {"init", "scale", "lr", "seed", "final_val_loss", "success", "diverged", "status"} <= set(runs.columns)
    hist = sweep.load_history(runs, root=tmp_path)
    assert len(hist) == 4 * 2 and set(hist["init"]) == {"chain", "orthogonal"}
    w = sweep.load_weights("copy", runs["hash"].iloc[0], root=tmp_path)
    assert "rnn.weight_hh" in w
    # a second call finds everything and runs nothing
    again = sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False)
    assert again.ran == [] and len(again.skipped) == 4
    # load_runs only returns the runs of the grid it is given
    other = tiny_grid(seeds=(7,))
    sweep.run_sweep(other, root=tmp_path, executor="serial", progress=False)
    assert len(sweep.load_runs("copy", configs=g, root=tmp_path)) == 4
    assert len(sweep.load_runs("copy", root=tmp_path)) == 6


def test_cache_require_and_off(tmp_path):
    g = tiny_grid(seeds=(1,))
    with pytest.raises(ResultMissing, match="2 of 2 runs"):
        sweep.run_sweep(g, root=tmp_path, cache="require")
    with sweep.run_sweep(g, root=tmp_path, executor="serial", cache="off", progress=False) as off:
        assert len(off.ran) == 2 and off.root != tmp_path and off.temporary
        assert off.root.name.startswith("nnrnn-cache-off-")
        assert len(sweep.load_runs("copy", configs=g, root=off.root)) == 2
        assert not (tmp_path / "runs").exists()
    assert not off.root.exists()  # "off" stores nothing: the temporary root is gone once read
    sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False)
    req = sweep.run_sweep(g, root=tmp_path, cache="require")
    assert req.ran == [] and len(req.skipped) == 2


def test_cache_off_root_is_removed_at_exit_at_the_latest(tmp_path):
    """A cache="off" report that is never closed still leaves nothing behind when the process ends."""
    g = tiny_grid(seeds=(1,), scales={"chain": (1.0,)})
    script = textwrap.dedent(
        f"""
        from nnrnn import sweep
        g = sweep.Grid("copy", {dict(g.scales)!r}, {g.lrs!r}, {g.seeds!r}, {dict(g.base)!r})
        report = sweep.run_sweep(g, executor="serial", cache="off", progress=False)
        assert len(sweep.load_runs("copy", root=report.root)) == 1
        print(report.root)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    root = Path(out.stdout.strip().splitlines()[-1])
    assert root.name.startswith("nnrnn-cache-off-") and not root.exists()
    # a sweep into the store is not temporary: closing its report removes nothing
    with sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False) as report:
        assert not report.temporary
    assert len(sweep.load_runs("copy", root=tmp_path)) == 1


def test_diverged_run_is_stored_and_counts_as_failure(tmp_path):
    g = sweep.Grid("addition", {"identity": (1.05,)}, lrs=(1e30, 1e-3), seeds=(1,), base=BASE)
    report = sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False)
    assert len(report.ran) == 2 and report.errors == {}
    runs = sweep.load_runs("addition", configs=g, root=tmp_path)
    bad = runs[runs["lr"] == 1e30].iloc[0]
    assert bad["status"] == "diverged" and bool(bad["diverged"]) and not bool(bad["success"])
    assert math.isnan(bad["final_val_loss"])
    counts = results.success_counts(runs)
    assert counts.loc["identity", "n_diverged"] == 1 and counts.loc["identity", "n_runs"] == 2
    best = results.best_settings(runs)
    assert best.loc["identity", "lr"] == 1e-3


def test_interrupted_sweep_resumes_and_runs_only_what_is_missing(tmp_path):
    g = tiny_grid(seeds=(1, 2, 3))  # 6 runs
    done: list[str] = []

    def interrupt_after_two(cfg, summary):
        done.append(cfg.hash())
        if len(done) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False, on_result=interrupt_after_two)
    # a process killed while writing leaves only a hidden temporary folder, never a run
    missing = [c for c in g.configs() if c.hash() not in done]
    stale = tmp_path / "runs" / "copy" / f".{missing[0].hash()}.dead.tmp"
    stale.mkdir()
    (stale / "history.csv").write_text("half a file")
    stamps = {h: (tmp_path / "runs" / "copy" / h / "config.json").stat().st_mtime_ns for h in done}

    ran: list[str] = []
    report = sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False,
                             on_result=lambda c, s: ran.append(c.hash()))
    assert sorted(report.skipped) == sorted(done)
    assert sorted(ran) == sorted(report.ran) == sorted(c.hash() for c in missing)
    assert {h: (tmp_path / "runs" / "copy" / h / "config.json").stat().st_mtime_ns for h in done} == stamps
    assert len(sweep.load_runs("copy", configs=g, root=tmp_path)) == 6


def _stored(root: Path) -> list[str]:
    """Hashes of the finished runs under ``root`` (not the hidden folders of runs being written)."""
    folder = root / "runs" / "copy"
    return [p.parent.name for p in folder.glob("*/config.json") if not p.parent.name.startswith(".")] if folder.is_dir() else []


def test_killed_sweep_process_resumes(tmp_path):
    """SIGKILL a sweep in another process after its first run is stored, then resume here."""
    g = tiny_grid(seeds=(1, 2))  # 4 runs
    script = textwrap.dedent(
        f"""
        import time
        from nnrnn import sweep
        g = sweep.Grid("copy", {dict(g.scales)!r}, {g.lrs!r}, {g.seeds!r}, {dict(g.base)!r})
        sweep.run_sweep(g, root={str(tmp_path)!r}, executor="serial", progress=False,
                        on_result=lambda c, s: time.sleep(60))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if _stored(tmp_path):
                break
            if proc.poll() is not None:
                pytest.fail(f"the sweep process exited early with code {proc.returncode}")
            time.sleep(0.05)
        else:
            pytest.fail("the sweep process stored nothing within 120 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    stored = _stored(tmp_path)
    assert len(stored) == 1
    report = sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False)
    assert report.skipped == stored and len(report.ran) == 3


# ----------------------------------------------------------------------------- executors
def _histories(root, g):
    runs = sweep.load_runs("copy", configs=g, root=root)
    h = sweep.load_history(runs, root=root).drop(columns=["wall_s"])
    return h.sort_values(["hash", "update"]).reset_index(drop=True)


def test_dask_executor_matches_local_processes(tmp_path):
    distributed = pytest.importorskip("distributed")
    g = tiny_grid(seeds=(1,))
    local = sweep.run_sweep(g, root=tmp_path / "local", executor="local", max_workers=1, progress=False)
    assert len(local.ran) == 2
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        dask = sweep.run_sweep(g, root=tmp_path / "dask", executor="dask", scheduler=cluster.scheduler_address,
                               progress=False)
    assert sorted(dask.ran) == sorted(local.ran)
    pd.testing.assert_frame_equal(_histories(tmp_path / "local", g), _histories(tmp_path / "dask", g))
    for h in local.ran:
        a = sweep.load_weights("copy", h, root=tmp_path / "local")
        b = sweep.load_weights("copy", h, root=tmp_path / "dask")
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_executor_instance_is_accepted(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    g = tiny_grid(seeds=(1,), scales={"fb_chain": (0.04,)})
    with ThreadPoolExecutor(1) as ex:
        report = sweep.run_sweep(g, root=tmp_path, executor=ex, progress=False)
    assert len(report.ran) == 1


def test_errors_in_runs_are_collected_then_raised(tmp_path, monkeypatch):
    g = tiny_grid(seeds=(1,))
    bad = g.configs()[0].hash()
    real = sweep.run_one

    def flaky(cfg, threads=None, progress=False):
        if TrainConfig.from_dict(cfg).hash() == bad:
            raise RuntimeError("out of memory")
        return real(cfg, threads, progress)

    monkeypatch.setattr(sweep, "run_one", flaky)
    with pytest.raises(RuntimeError, match="1 of 2 runs raised.*out of memory"):
        sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False, group_size=1)
    report = sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False, raise_errors=False, group_size=1)
    assert list(report.errors) == [bad] and len(report.skipped) == 1


def test_an_error_in_a_lockstep_group_fails_its_runs_only(tmp_path, monkeypatch):
    g = tiny_grid(seeds=(1, 2))
    real = sweep.run_group
    calls = []

    def flaky(cfgs, *args, **kwargs):
        calls.append(len(cfgs))
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return real(cfgs, *args, **kwargs)

    monkeypatch.setattr(sweep, "run_group", flaky)
    report = sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False, raise_errors=False, group_size=2)
    assert calls == [2, 2] and len(report.errors) == 2 and len(report.ran) == 2
    report = sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False)
    assert len(report.ran) == 2 and len(report.skipped) == 2


# ----------------------------------------------------------------------------- summaries
def test_cli_dry_run(tmp_path, capsys):
    assert sweep_cli.main(["--task", "copy", "--profile", "paper", "--root", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2112 runs" in out and "core-hours (at most)" in out and "ms per update of one run" in out
    table = out.split("store:")[1]
    assert all(f"{init}" in table for init in ("identity", "orthogonal", "chain", "fb_chain"))
    assert sweep_cli.main(["--task", "psmnist", "--profile", "smoke", "--root", str(tmp_path), "--dry-run"]) == 0
    with pytest.raises(SystemExit):  # the replicate profile has its own command, nnrnn.replicate
        sweep_cli.main(["--task", "copy", "--profile", "replicate", "--dry-run"])


@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "--workers: must be a positive integer, got '0'"),
    (["--seeds", "1,x"], "--seeds: must be comma-separated non-negative integers"),
    (["--inits", "chain,nope"], "--inits: must be comma-separated initializers"),
    (["--scheduler", "tcp://host:8786"], "--scheduler is used only with --executor dask"),
])
def test_cli_bad_values_are_argparse_errors_before_any_planning(args, message, capsys):
    with pytest.raises(SystemExit) as e:
        sweep_cli.main(["--task", "copy", *args])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_cli_refuses_a_read_only_root_before_training(tmp_path, capsys):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(SystemExit) as e:
        sweep_cli.main(["--task", "copy", "--profile", "smoke", "--root", str(blocked)])
    assert e.value.code == 2 and "is not writable" in capsys.readouterr().err


def test_two_sweeps_on_one_store_do_not_train_the_same_run(tmp_path):
    from nnrnn import store

    g = tiny_grid(seeds=(1,))
    held = g.configs()[0]
    folder = store.run_folder("copy", held.hash(), tmp_path)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = folder.parent / f".{folder.name}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.write_text(json.dumps({"pid": other.pid, "host": socket.gethostname(), "time": time.time()}))
        report = sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False)
        assert list(report.locked) == [held.hash()] and f"process {other.pid}" in report.locked[held.hash()]
        assert len(report.ran) == 1 and not store.is_stored(sweep.run_dir(held, tmp_path))
    finally:
        other.kill()
        other.wait()
    # its holder is gone: the lock is stale, and the next sweep takes the run over
    report = sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False)
    assert report.ran == [held.hash()] and not report.locked and not lock.exists()


def test_leftover_temporary_folders_are_removed(tmp_path):
    from nnrnn import store

    task_dir = tmp_path / "runs" / "copy"
    old, fresh = task_dir / ".0123456789ab.deadbeef.tmp", task_dir / ".0123456789ab.cafecafe.tmp"
    for d in (old, fresh):
        d.mkdir(parents=True)
    past = time.time() - 2 * store.STALE_TMP_S
    os.utime(old, (past, past))
    sweep.run_sweep(tiny_grid(seeds=(1,)), root=tmp_path, executor="serial", progress=False)
    assert not old.exists() and fresh.exists()


@pytest.mark.slow
def test_pool_workers_exit_when_the_sweep_is_killed(tmp_path):
    psutil = pytest.importorskip("psutil")
    code = (
        "from nnrnn import sweep\n"
        f"g = sweep.Grid('copy', {{'chain': (1.0,)}}, lrs=(1e-3,), seeds=(1, 2), base=dict(T=30, hidden_size=8, "
        f"n_train=64, n_val=16, epochs=500))\n"
        f"sweep.run_sweep(g, root={str(tmp_path)!r}, executor='local', max_workers=2, group_size=1)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.time() + 60
        workers = []
        while time.time() < deadline and len(workers) < 2:
            time.sleep(0.5)
            workers = [p for p in psutil.Process(parent.pid).children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]
        assert len(workers) == 2, "the pool did not start"
        parent.kill()
        parent.wait()
        gone, alive = psutil.wait_procs(workers, timeout=15)
        assert not alive, f"{len(alive)} pool workers outlived their sweep"
    finally:
        parent.kill()


# ----------------------------------------------------------------------------- chapters
@pytest.mark.slow
@pytest.mark.parametrize("stem,task,prefix", [("04-copy", "copy", "nb04"), ("05-addition", "addition", "nb05")])
def test_chapter_glue_matches_the_stored_runs(stem, task, prefix, smoke_book, glued):
    """The chapter, executed on smoke by the book build, glues counts that match the run store."""
    store = smoke_book / "store"
    glued = glued(stem)
    g = sweep.grid(task, "smoke")
    runs = sweep.load_runs(task, configs=g, root=store)
    assert len(runs) == len(g) == glued[f"{prefix}_n_runs"]
    counts = results.success_counts(runs)
    for init in ("identity", "orthogonal", "chain", "fb_chain"):
        assert glued[f"{prefix}_success_{init}"] == counts.loc[init, "n_success"]
        assert glued[f"{prefix}_runs_{init}"] == counts.loc[init, "n_runs"]
    assert glued[f"{prefix}_success_nonnormal"] == counts.loc[["chain", "fb_chain"], "n_success"].sum()
    assert glued[f"{prefix}_n_diverged"] == int(runs["diverged"].sum())
    best = results.best_settings(runs)
    assert glued[f"{prefix}_best_lr_chain"] == best.loc["chain", "lr"]
    assert glued[f"{prefix}_profile"] == "smoke"


def test_an_unreachable_dask_scheduler_is_a_clear_error(tmp_path):
    pytest.importorskip("distributed")
    t0 = time.time()
    with pytest.raises(ValueError, match=r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' within 10 s"):
        sweep.run_sweep(tiny_grid(seeds=(1,)), root=tmp_path, executor="dask", scheduler="tcp://127.0.0.1:9", progress=False)
    assert time.time() - t0 < 30


# ----------------------------------------------------------------------------- damaged stores (issue 12 items 6, 7, 9, 16)
def test_a_run_folder_without_config_json_is_retrained_and_repaired(tmp_path):
    g = tiny_grid(seeds=(1,))
    sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False)
    c = g.configs()[0]
    d = sweep.run_dir(c, tmp_path)
    (d / "config.json").unlink()  # a folder that looks present but is incomplete
    assert not store.is_stored(sweep.run_dir(c, tmp_path))
    report = sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False)
    assert report.ran == [c.hash()] and not report.errors and store.is_stored(sweep.run_dir(c, tmp_path))
    assert len(sweep.load_runs("copy", configs=g, root=tmp_path)) == 2  # cache="require" works again
    sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False, cache="require")


def test_a_corrupt_file_is_named_and_the_run_retrained(tmp_path):
    g = tiny_grid(seeds=(1,))
    sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False)
    c = g.configs()[1]
    d = sweep.run_dir(c, tmp_path)
    good = (d / "weights.pt").read_bytes()
    (d / "weights.pt").write_bytes(good[:-8] + b"garbage!")  # same size, other bytes
    with pytest.raises(store.RunCorrupt, match=r"weights\.pt has SHA-256 .* but its config.json records"):
        sweep.load_runs("copy", configs=g, root=tmp_path)
    assert not store.is_stored(sweep.run_dir(c, tmp_path))
    report = sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False)
    assert report.ran == [c.hash()] and (d / "weights.pt").read_bytes() == good


def test_results_are_stored_under_the_submitted_hash_only(tmp_path):
    from nnrnn import store

    g = tiny_grid(seeds=(1,))
    c = g.configs()[0]
    payload = sweep.run_one(c.as_dict())
    with pytest.raises(ValueError, match="a run hash must be 12 lower-case hex digits, got '../../../evil'"):
        store.write_run_payload({**payload, "hash": "../../../evil"}, "copy", tmp_path)
    with pytest.raises(ValueError, match="returned run hash .* for the config submitted as"):
        store.write_run_payload({**payload, "hash": "0" * 12}, "copy", tmp_path, expected_hash=c.hash())
    assert not (tmp_path / "runs" / "copy" / ("0" * 12)).exists() and not (tmp_path.parent / "evil").exists()


def test_every_executor_trains_with_one_thread(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from nnrnn.executors import open_executor

    for kind in ("serial", "local", ThreadPoolExecutor(1)):
        with open_executor(kind, 1, None) as (_, threads):
            assert threads == 1, kind


def test_provenance_records_the_threads_a_run_trained_with(tmp_path):
    import torch

    from nnrnn import store

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        g = tiny_grid(seeds=(1,))
        sweep.run_sweep(g, root=tmp_path, executor="serial", progress=False)
        sweep.run_sweep(g.replace(seeds=(2,)), root=tmp_path, executor="serial", progress=False, group_size=1)
    finally:
        torch.set_num_threads(before)
    for c in [*g.configs(), *g.replace(seeds=(2,)).configs()]:
        assert store.read_run_meta(sweep.run_dir(c, tmp_path))["provenance"]["torch_threads"] == 1
