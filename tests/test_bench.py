"""The benchmarks: ``bench rnn`` and ``bench sweep`` interleave their variants and end with their summary
line; ``bench sweep`` measures the ceiling from the recurrent GEMMs alone; ``tools/gpu-check`` runs
on a CPU and writes its JSON.

Timings are not tested (they depend on the machine and its load); what is tested is what the
commands measure, in what order, and what they write.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nnrnn import bench, lockstep, models, paper
from nnrnn.bench import ceiling
from nnrnn.train import TrainConfig

REPO = Path(__file__).resolve().parent.parent
GPU_CHECK = REPO / "tools" / "gpu-check"


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO, timeout=timeout, env=env)


def _gpu_check_module():
    loader = importlib.machinery.SourceFileLoader("gpu_check", str(GPU_CHECK))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("gpu_check", loader))
    loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- interleaving
def test_bench_rnn_times_all_candidates_in_one_interleaved_loop(monkeypatch):
    calls = []
    real = bench.interleave

    def spy(fns, rounds, warmup=0):
        calls.append(list(fns))
        return real(fns, rounds, warmup)

    monkeypatch.setattr("nnrnn.bench.rnn.interleave", spy)
    size = bench.BenchSize("tiny", 25, 4, 8, 10, 9, True, "ce")
    cands = [("ours elu", "elu", "ours"), ("nn.RNN relu", "relu", "torch"), ("today's step", "elu", "reference")]
    rows = bench.bench_rnn([size], repeats=3, warmup=1, candidates=cands)
    # one loop over every candidate's training step and forward pass: A B A B ..., not all A then all B
    assert calls == [[(c, part) for c, *_ in cands for part in ("train", "fwd")]]
    base = next(r for r in rows if r["model"] == "nn.RNN relu")
    assert base["train_ratio"] == base["forward_ratio"] == 1.0
    assert next(r for r in rows if r["model"] == "today's step")["step_ratio"] == 1.0


def test_bench_rnn_has_the_fused_and_the_reference_step_in_the_same_rounds(monkeypatch):
    if not bench.rnn._fused.available():
        pytest.skip(f"fused step unavailable: {bench.rnn._fused.unavailable_reason()}")
    calls = []
    real = bench.interleave
    monkeypatch.setattr("nnrnn.bench.rnn.interleave", lambda fns, r, w=0: calls.append(list(fns)) or real(fns, r, w))
    size = bench.BenchSize("tiny", 25, 4, 8, 10, 9, True, "ce")
    rows = bench.bench_rnn([size], repeats=2, warmup=1)
    assert [label for label, _ in calls[0][::2]] == [c[0] for c in bench.rnn.CANDIDATES]
    assert {"fused step", "today's step"} <= {r["model"] for r in rows}
    fused_row = next(r for r in rows if r["model"] == "fused step")
    assert fused_row["step_ratio"] > 0 and fused_row["train_ms"] > 0


def test_interleave_runs_rounds_in_turn_and_drops_the_warmup():
    order = []
    fns = {k: (lambda k=k: order.append(k) or len(order)) for k in "abc"}
    out = bench.interleave(fns, rounds=2, warmup=1)
    assert "".join(order) == "abcabcabc"
    assert out == {"a": [4, 7], "b": [5, 8], "c": [6, 9]}


def test_paired_ratio_compares_within_rounds():
    # a load spike in round 2 slows both variants threefold: the within-round ratio stays 2
    assert bench.paired_ratio([2.0, 6.0, 2.0], [1.0, 3.0, 1.0]) == 2.0
    with pytest.raises(ValueError):
        bench.paired_ratio([1.0, 2.0], [1.0])


# ----------------------------------------------------------------------------- bench sweep
def test_sweep_configs_form_one_lockstep_group_of_distinct_runs():
    cfgs = bench.sweep_configs("addition", 40, 8, 9, batch=4)
    assert len(lockstep.group_configs(cfgs, max_size=100)) == 1
    assert len({c.hash() for c in cfgs}) == 9
    assert {c.init for c in cfgs} == {"identity", "orthogonal", "chain", "fb_chain"}
    assert all(c.batch_size == 4 and c.n_train == 32 and c.early_stop == 0.0 for c in cfgs)


def test_update_flops_counts_the_matmuls_of_a_last_step_readout():
    # addition: d = 2 inputs, one output at the last step
    t, b, n = 750, 16, 100
    expected = 6 * t * b * n * n + 4 * t * b * 2 * n + 6 * b * n * 1
    assert bench.update_flops(TrainConfig(task="addition", T=t, hidden_size=n)) == expected


def test_update_generators_step_and_count_run_updates():
    cfgs = bench.sweep_configs("copy", 25, 8, 3, batch=4)
    group = bench.lockstep_updates(cfgs)
    assert next(group) == 0  # built, nothing trained yet
    assert [next(group) for _ in range(10)] == [3] * 10  # past an epoch of 8 updates
    single = bench.single_run_updates(cfgs[0])
    assert next(single) == 0 and [next(single) for _ in range(10)] == [1] * 10
    done, wall = bench.time_updates(group, 0.0, 4, torch.device("cpu"))
    assert done == 12 and wall > 0


@pytest.mark.parametrize("step", ["fused", "reference"])
def test_single_run_updates_step_as_train_does(monkeypatch, step):
    """The pool's unit of work is nnrnn.train.train's update, with the step train chooses: the same
    losses, in the same order."""
    from nnrnn import fused
    from nnrnn.train import train

    if step == "fused" and not fused.available():
        pytest.skip(f"fused step unavailable: {fused.unavailable_reason()}")
    if step == "reference":
        monkeypatch.setattr(fused, "available", lambda: False)
    cfg = bench.sweep_configs("copy", 25, 8, 1, batch=4)[0].replace(epochs=2, evals_per_epoch=1)
    seen = []
    real_call, real_ref = fused.FusedStep.__call__, fused.reference_step
    monkeypatch.setattr(fused.FusedStep, "__call__", lambda self, x, y: seen.append(("fused", real_call(self, x, y)))
                        or seen[-1][1])
    monkeypatch.setattr(fused, "reference_step", lambda *a: seen.append(("reference", real_ref(*a))) or seen[-1][1])
    assert train(cfg, progress=False).extra["step"] == step
    reference, seen[:] = list(seen), []
    updates = bench.single_run_updates(cfg)
    for _ in range(1 + 2 * cfg.updates_per_epoch):
        next(updates)
    assert seen == reference and len(seen) == 16 and {s for s, _ in seen} == {step}


def test_bench_sweep_quick_reports_every_layout_and_ends_with_the_ratio(tmp_path):
    out = _run("-m", "nnrnn.bench", "sweep", "--quick", "--cores", "2", "--json", str(tmp_path / "sweep.json"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert re.fullmatch(r"sweep throughput at copy size: lockstep \d+\.\d\dx process pool", lines[-1]), lines[-1]
    ceiling_line = r"ceiling of lockstep over pool from the recurrent GEMMs alone: \d+\.\d\dx \(GEMMs: K=4"
    assert re.match(ceiling_line, lines[-2]), lines[-2]
    assert lines[-3].startswith("best lockstep layout at copy size: lockstep K=")
    head = "\n".join(lines[:3])
    assert "machine:" in head and f"torch {torch.__version__}" in head and re.search(r"\d{4}-\d\d-\d\d", head)
    data = json.loads((tmp_path / "sweep.json").read_text())
    variants = [r["variant"] for r in data["rows"]]
    assert variants == ["process pool", "lockstep K=2", "lockstep K=2 per core", "lockstep K=4", "lockstep K=4 per core",
                        "GEMMs: pool", "GEMMs: K=4", "GEMMs: K=4 per core"]
    rows = {r["variant"]: r for r in data["rows"]}
    assert rows["process pool"]["vs_pool"] == 1.0 and rows["process pool"]["layout"] == "2 proc x 1 thr x 1 run"
    assert rows["lockstep K=4"]["layout"] == "1 proc x 2 thr x 4 run"
    assert rows["lockstep K=4 per core"]["layout"] == "2 proc x 1 thr x 2 run"
    assert rows["GEMMs: pool"]["vs_pool"] == 1.0 and rows["GEMMs: pool"]["layout"] == "2 proc x 1 thr x 1 run"
    assert [r["ceiling"] for r in data["rows"]] == [False] * 5 + [True] * 3
    for r in data["rows"]:
        assert r["run_updates_per_s"] > 0 and 0 < r["gemm_fraction"] and r["peak_mib_per_process"] > 0
        assert len(r["rounds"]) == 2 and r["run_updates_per_s"] == pytest.approx(sum(r["rounds"]) / 2)
    best = max(r["vs_pool"] for r in data["rows"] if r["variant"] != "process pool" and not r["ceiling"])
    assert lines[-1].endswith(f"lockstep {best:.2f}x process pool")
    assert set(data["gemm_gflops"]) == {"1", "2"} and all(g > 0 for g in data["gemm_gflops"].values())
    # the ceiling: the best batched layout against 'GEMMs: pool', in the JSON and on the line before the last
    ceil = data["ceiling"]["copy"]
    assert set(ceil["ratios"]) == {"GEMMs: K=4", "GEMMs: K=4 per core"}
    assert ceil["ratio"] == max(ceil["ratios"].values()) == rows[ceil["variant"]]["vs_pool"]
    assert math.isfinite(ceil["ratio"]) and ceil["ratio"] > 0 and ceil["recurrence_vs_pool"] > 0
    assert f": {ceil['ratio']:.2f}x ({ceil['variant']}, {ceil['layout']};" in lines[-2]


def test_bench_rnn_quick_ends_with_the_copy_ratio():
    out = _run("-m", "nnrnn.bench", "rnn", "--quick", "--sizes", "copy")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    if lines[-1].startswith("warning: the 1-minute load average"):  # a loaded machine (tested below)
        lines.pop()
    *_, engine, last = lines
    assert re.fullmatch(r"training step at copy size: ours elu \d+\.\d\dx nn\.RNN relu", engine), engine
    if bench.rnn._fused.available():
        assert re.fullmatch(r"training step at copy size: fused \d+\.\d\dx reference \((one thread|\d+ threads)\)", last), last


def _fake_rows(sizes, **kwargs):
    """bench_rnn's rows for ``sizes`` without timing anything (every ratio 2)."""
    return [{"size": s.name, "T": s.seq_len, "B": s.batch, "N": s.hidden, "model": label, "train_ms": 1.0,
             "train_ratio": 2.0, "forward_ms": 1.0, "forward_ratio": 2.0, "step_ratio": 2.0, "peak_mib": 1.0,
             "peak_ratio": 1.0} for s in sizes for label, _, _ in bench.CANDIDATES]


def test_quick_rows_run_the_batch_their_name_says(monkeypatch, capsys):
    """--quick ran its psmnist-b128 rows at batch 8 (both psMNIST rows the same size); each keeps its batch now."""
    ran = []
    monkeypatch.setattr(bench.rnn, "bench_rnn", lambda sizes, **kw: ran.extend(sizes) or _fake_rows(sizes))
    assert bench.main(["rnn", "--quick"]) == 0
    assert [s.name for s in ran] == [s.name for s in bench.SIZES]
    for quick, full in zip(ran, bench.SIZES):
        assert quick.batch == full.batch and quick.seq_len <= 40 and quick.hidden == 16, quick
    named = {s.name: int(re.search(r"-b(\d+)$", s.name).group(1)) for s in ran if re.search(r"-b\d+$", s.name)}
    assert named == {"psmnist-b16": 16, "psmnist-b128": 128}
    table = capsys.readouterr().out
    assert re.search(r"^psmnist-b128 +40 +128 +16 ", table, re.M), table


@pytest.mark.parametrize("load, warned", [(lambda n: (n + 0.5, 0.0, 0.0), True), (lambda n: (n - 0.5, 9.0, 9.0), False)])
def test_the_ratio_line_is_followed_by_a_warning_on_a_loaded_machine(monkeypatch, capsys, load, warned):
    """The 1-minute load average above the CPU count: other processes competed, the ratio is unreliable."""
    n = os.cpu_count() or 1
    monkeypatch.setattr(bench.rnn.os, "getloadavg", lambda: load(n))
    monkeypatch.setattr(bench.rnn, "bench_rnn", lambda sizes, **kw: _fake_rows(sizes))
    assert bench.main(["rnn", "--quick", "--sizes", "copy"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    ratio = [i for i, ln in enumerate(lines) if ln.startswith("training step at copy size: ours elu 2.00x nn.RNN relu")]
    assert ratio, lines
    if warned:
        assert lines[-1] == (f"warning: the 1-minute load average ({n + 0.5:.1f}) exceeds the {n} CPUs of this machine: "
                             "other processes competed for the cores, so the timings and ratios above are unreliable; "
                             "rerun on a quiet machine") and ratio[0] < len(lines) - 1
    else:
        assert not any(ln.startswith("warning") for ln in lines)


def test_no_load_average_means_no_warning(monkeypatch):
    def missing():
        raise OSError("no load average here")

    monkeypatch.setattr(bench.rnn.os, "getloadavg", missing)
    assert bench.rnn.load_warning() == ""


# ----------------------------------------------------------------------------- the GEMM ceiling
@pytest.mark.parametrize("per_step", [True, False])
def test_the_ceilings_torch_loops_compute_the_engines_recurrence(per_step):
    """(b)'s batched PyTorch steps are (a)'s: the engine's forward states and its gradient at h0."""
    if models.resolve_engine(None, torch.device("cpu"), torch.float32) != "cpp":
        pytest.skip("the C++ engine does not build here")
    gen = torch.Generator().manual_seed(0)
    t, b, n = 12, 3, 5
    x = torch.rand(t, 2, b, n, generator=gen) - 0.5  # two runs
    w = torch.linalg.qr(torch.randn(2, n, n, generator=gen))[0].contiguous()
    g = torch.randn(t, 2, b, n, generator=gen) if per_step else None
    last = torch.zeros(2, b, n) if per_step else torch.randn(2, b, n, generator=gen)
    h0 = torch.zeros(2, b, n)
    out, da, dh, tmp = x.clone(), torch.empty(2, b, n), torch.empty(2, b, n), torch.empty(2, b, n)
    ceiling._torch_loops(out, h0, w, w.transpose(1, 2).contiguous(), g, last, da, dh, tmp)
    ops = torch.ops.nnrnn_elman
    for k in range(2):
        ref = x[:, k].contiguous()
        ops.forward_(ref, h0[k], w[k], 2)
        dh0 = ops.backward(None if g is None else g[:, k].contiguous(), None if per_step else last[k], ref,
                           torch.zeros(t, b, 1), h0[k], torch.zeros(n, 1), w[k], 2, False, True, False, False, False, 64)[1]
        assert torch.allclose(out[:, k], ref, atol=1e-6) and torch.allclose(da[k] @ w[k], dh0, atol=1e-5)


def test_recurrence_ceiling_at_tiny_sizes_returns_a_positive_finite_ratio():
    s = bench.recurrence_ceiling(6, 2, 4, ks=(2,), cores=2, rounds=1, window_s=0.01)
    assert set(s["ratios"]) == {"GEMMs: K=2", "GEMMs: K=2 per core"} and s["variant"] in s["ratios"]
    assert math.isfinite(s["ratio"]) and s["ratio"] > 0 and s["ratio"] == max(s["ratios"].values())
    layouts = {"GEMMs: K=2": "1 proc x 2 thr x 2 run", "GEMMs: K=2 per core": "2 proc x 1 thr x 1 run"}
    assert s["layout"] == layouts[s["variant"]]
    assert all(r > 0 for r in s["run_updates_per_s"].values()) and set(s["run_updates_per_s"]) > set(s["ratios"])


def test_the_ceiling_counts_run_updates_and_refuses_unbatched_groups():
    it = ceiling.recurrence_updates(5, 2, 4, 3, batched=True, per_step=False)
    assert next(it) == 0 and [next(it) for _ in range(2)] == [3, 3]
    single = ceiling.recurrence_updates(5, 2, 4)
    assert next(single) == 0 and next(single) == 1
    with pytest.raises(ValueError, match="one run per process"):
        next(ceiling.recurrence_updates(5, 2, 4, 2))
    assert ceiling.recurrence_flops(500, 16, 100) * 3 == 2 * 6 * 500 * 16 * 100 * 100  # 2 of update_flops' 3 products


def test_the_ceiling_leaves_the_callers_denormal_mode_alone():
    """The batched loops flush subnormals as the C++ engine does, inside each step only: a process
    that ran the ceiling (the test suite itself) still computes subnormals afterwards."""
    tiny = torch.tensor([1e-39])  # subnormal in float32
    assert float(tiny * 1.0) > 0
    it = ceiling.recurrence_updates(5, 2, 4, 3, batched=True)
    next(it), next(it)
    assert float(tiny * 1.0) > 0


def test_the_benchmark_sizes_are_the_papers():
    """The sizes, batch and optimizer constants come from nnrnn.paper, not typed again here."""
    copy, addition, ps16, ps128, ps25 = bench.SIZES
    assert (copy.seq_len, copy.hidden, copy.batch) == (paper.SEQUENCE_LENGTH["copy"], paper.HIDDEN_SIZE["copy"],
                                                       paper.OPTIMIZER["batch_size"])
    assert (copy.inputs, copy.outputs) == (paper.COPY_CUE + 1, paper.COPY_SYMBOLS + 1)
    assert (ps16.seq_len, ps16.hidden, ps128.batch) == (paper.SEQUENCE_LENGTH["psmnist"], paper.PSMNIST_HIDDEN_CODE, 128)
    assert addition.seq_len == paper.SEQUENCE_LENGTH["addition"]
    assert (ps25.seq_len, ps25.hidden, ps25.batch) == (paper.SEQUENCE_LENGTH["psmnist"], paper.PSMNIST_HIDDEN_TEXT,
                                                       paper.OPTIMIZER["batch_size"])
    assert bench.SWEEP_SIZES["psmnist-n25"][2] == paper.PSMNIST_HIDDEN_TEXT
    assert {c.lr for c in bench.sweep_configs("copy", 30, 8, 10)} <= set(paper.PAPER_LRS)


@pytest.mark.parametrize(
    "args, message",
    [
        (["sweep", "--ks", "0"], "--ks must be positive"),
        (["sweep", "--ks", "8,x"], "--ks must be positive"),
        (["sweep", "--rounds", "0"], "--rounds and --window must be positive"),
        (["sweep", "--window", "-1"], "--rounds and --window must be positive"),
    ],
)
def test_bench_sweep_rejects_bad_options(args, message, capsys):
    with pytest.raises(SystemExit):
        bench.main(args)
    assert message in capsys.readouterr().err


def test_bench_sweep_rejects_unknown_size():
    with pytest.raises(SystemExit, match="unknown size"):
        bench.main(["sweep", "--sizes", "copy,mnist"])


# ----------------------------------------------------------------------------- tools/gpu-check
def test_gpu_check_runs_on_cpu_and_writes_its_json(tmp_path, data_dir):
    out = _run(str(GPU_CHECK), "--device", "cpu", "--max-k", "4", "--quick", "--out", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    (path,) = tmp_path.glob("gpu-check-*.json")
    report = json.loads(path.read_text())
    assert report["device"] == "cpu" and report["device_name"].startswith("CPU ") and report["torch"] == torch.__version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", report["date"]) and report["quick"] is True
    (eq,) = report["equivalence"]
    assert eq["task"] == "copy" and eq["passed"] and eq["statuses"] == ["diverged", "early_stopped", "finished"]
    copy = [r for r in report["timing"] if r["task"] == "copy"]
    assert [r["K"] for r in copy] == [1, 4]
    for r in report["timing"]:
        assert r["seconds_per_update"] > 0
        assert r["run_updates_per_second"] == pytest.approx(r["K"] / r["seconds_per_update"])
    assert {r["task"] for r in report["timing"]} == {"copy", "addition", "psmnist"}
    est = {e["task"]: e for e in report["grid_estimates"]}
    assert est["copy"]["grid_runs"] == 2112 and est["copy"]["updates_per_run"] == 100 * 3750
    assert est["copy"]["wall_seconds"] == pytest.approx(2112 * 375_000 / est["copy"]["run_updates_per_second"])
    assert "no early stopping" in est["copy"]["assumptions"] and "note" in est["copy"]  # --quick: not the grid's sizes


def test_gpu_check_lists_the_paper_ks_up_to_max_k():
    gc = _gpu_check_module()
    assert gc.ks_to_time(4) == [1, 4]
    assert gc.ks_to_time(64) == [1, 64]
    assert gc.ks_to_time(10_000) == [1, 64, 512, 2112]


def test_gpu_check_falls_back_to_smaller_k_when_memory_runs_out():
    gc = _gpu_check_module()
    tried, said = [], []

    def measure(k):
        tried.append(k)
        if k > 16:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 6.00 GiB")
        return {"K": k}

    assert gc.with_fallback(measure, 64, said.append) == {"K": 16}
    assert tried == [64, 32, 16] and len(said) == 2 and "falling back to K = 32" in said[0]

    def broken(k):
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        gc.with_fallback(broken, 8, said.append)


def test_gpu_check_equivalence_check_detects_a_difference():
    gc = _gpu_check_module()
    cfg = TrainConfig(task="copy", T=25, hidden_size=8, n_train=16, n_val=8, epochs=1)
    from nnrnn.train import train

    a = train(cfg, progress=False)
    b = train(cfg, progress=False)
    assert gc.excess(a, b) == 0.0
    b.state_dict["rnn.weight_hh"] = b.state_dict["rnn.weight_hh"] + 1e-3
    assert gc.excess(a, b) > 1.0


def test_make_bench_times_the_training_step_at_one_thread():
    """Issue 20's targets are for one thread, as each sweep worker trains (nnrnn.executors): make
    bench runs bench rnn so, and its last line then says "(one thread)" (bench rnn prints the count)."""
    from pathlib import Path

    lines = (Path(__file__).resolve().parent.parent / "Makefile").read_text().split("\nbench:", 1)[1].split("\n\n")[0]
    (rnn,) = [line for line in lines.splitlines() if "nnrnn.bench rnn" in line]
    words = rnn.split()
    assert words[words.index("--threads") + 1] == "1", rnn
