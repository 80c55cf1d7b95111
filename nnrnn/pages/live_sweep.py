r"""The live part of the benchmark chapters (copy, addition, psMNIST): a sweep a reader reruns.

:func:`benchmark_summary` turns a chapter's **live sweep** (the profile a reader reruns: ``smoke``,
``demo`` or ``paper``; ``demo`` when the book is built on ``replicate``,
:func:`nnrnn.pages.report.live_profile`) into the tables, figures and glued numbers of its Fig. 3
analogue; :func:`check_benchmark` holds the checks that fail the build on a wrong result;
:func:`evaluate_psmnist_test_set` adds the test loss and accuracy of psMNIST runs (computed once
per run and stored). The chapters' main result, the archive's ``replicate`` runs, is
:mod:`nnrnn.pages.benchmarks`.

Nothing here trains, and the archive is only read.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from .. import paper as _paper
from .. import profiles as _profiles
from .. import results as _results
from .. import sweep as _sweep
from .. import tasks as _tasks
from .. import validate
from ..models import model_for
from ..plotting import INIT_LABELS
from ..plotting import benchmarks as _plot
from ..store import load_weights, run_or_load
from ..tasks.psmnist import N_MNIST_TEST, test_set
from . import report
from .report import glue_all, live_profile

__all__ = ["TASKS", "LOSS_UNITS", "NAMES", "check_task", "mean_sem", "live_grid", "example_figure",
           "BenchmarkSummary", "benchmark_summary", "check_benchmark", "accuracy_table", "accuracy_values",
           "psmnist_profile_values", "evaluate_psmnist_test_set"]

TASKS = ("copy", "addition", "psmnist")
#: the unit of each task's loss, for axis labels and captions.
LOSS_UNITS = {"copy": "nats per step", "addition": "MSE", "psmnist": "nats"}
#: each task as the prose names it.
NAMES = {"copy": "copy", "addition": "addition", "psmnist": "psMNIST"}


def check_task(task: str) -> str:
    return validate.choice(task, "task", TASKS)



def live_grid(task: str, profile: str, *, seed: int = 0, device: str = "cpu", **overrides: Any) -> _sweep.Grid:
    """The grid of a chapter's live sweep (:func:`nnrnn.sweep.grid` on :func:`live_profile`).

    Examples:
        >>> g = live_grid("copy", "replicate")
        >>> g.profile, g.configs()[0].T
        ('demo', 100)
    """
    return _sweep.grid(check_task(task), live_profile(profile), base_seed=seed, device=str(device), **overrides)


def example_figure(task: str, T: int, seed: int = 0):
    """One sequence of the copy or addition task at length ``T``, drawn from ``seed``'s stream."""
    task = validate.choice(task, "task", ("copy", "addition"))
    make = {"copy": (_tasks.copy_sequences, _plot.copy_example), "addition": (_tasks.addition_sequences, _plot.addition_example)}
    sequences, draw = make[task]
    x, y = sequences(1, T, generator=_profiles.generator(seed))
    return draw(x[0], y[0])


def mean_sem(v) -> tuple[float, float]:
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    return (float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0) if len(v) else (math.nan, math.nan)


# ----------------------------------------------------------------------------- the live sweep
@dataclass
class BenchmarkSummary:
    """A live sweep's Fig. 3 analogue (built by :func:`benchmark_summary`).

    Attributes:
        grid: the sweep's grid; ``runs``/``history``: its stored runs and histories.
        baseline: the random-baseline loss; ``x``: the progress column of the curves.
        best: :func:`nnrnn.results.best_settings`; ``curves``: :func:`nnrnn.results.best_curves`;
        counts: :func:`nnrnn.results.success_counts`; ``verdict``: the success verdict
            (:func:`nnrnn.results.success_test`; not at the paper's scale unless the profile is ``paper``).
    """

    grid: _sweep.Grid
    runs: pd.DataFrame
    history: pd.DataFrame
    baseline: float
    x: str
    best: pd.DataFrame
    curves: pd.DataFrame
    counts: pd.DataFrame
    verdict: Verdict | None

    @property
    def task(self) -> str:
        return self.grid.task

    @property
    def profile(self) -> str:
        return self.grid.profile

    def per_setting_table(self) -> report.Table:
        """One row per (initializer, scale, learning rate): mean final loss and seed counts."""
        per = (self.runs.groupby(["init", "scale", "lr"])
               .agg(mean_final_loss=("final_val_loss", "mean"), successes=("success", "sum"), seeds=("seed", "size"),
                    diverged=("diverged", "sum"))
               .reset_index())
        per["init"] = per["init"].map(lambda i: INIT_LABELS.get(i, i))
        return report.table(per, {"init": "initializer", "lr": "learning rate", "mean_final_loss": "mean final validation loss",
                                  "successes": "successful seeds", "diverged": "diverged seeds"},
                            formats={"mean_final_loss": "{:.4f}", "lr": "{:g}", "scale": "{:g}"}, index=False)

    def counts_table(self) -> report.Table:
        """Successful runs per initializer on this profile beside the paper's (copy) or "bars only"."""
        c, where = self.counts, f"profile {self.profile}"
        paper = _paper.PAPER_SUCCESS[self.task]
        table = pd.DataFrame({f"successful ({where})": c["n_success"], f"runs ({where})": c["n_runs"],
                              f"share ({where})": [f"{100 * k / max(n, 1):.1f} %" for k, n in zip(c["n_success"], c["n_runs"])]})
        if paper:
            table["successful (paper)"] = [paper[i][0] if i in paper else "–" for i in c.index]
            table["runs (paper)"] = [paper[i][1] if i in paper else "–" for i in c.index]
            table["share (paper)"] = [f"{100 * paper[i][0] / paper[i][1]:.1f} %" if i in paper else "–" for i in c.index]
        else:
            table["paper"] = f"bars only ({_paper.FIG3_PANELS[self.task][1]})"
        table[f"diverged ({where})"] = c["n_diverged"]
        return report.table(table, index={i: INIT_LABELS.get(i, i) for i in c.index}, index_name="initializer")

    def best_table(self) -> report.Table:
        """The settings behind the curves, with their mean and s.e.m. of final validation loss."""
        return report.table(
            self.best,
            {"lr": "learning rate", "mean_final_val_loss": f"mean final validation loss ({LOSS_UNITS[self.task]})",
             "sem_final_val_loss": "s.e.m.", "n_success": "successful seeds", "n_seeds": "seeds"},
            keep=["scale", "lr", "mean_final_val_loss", "sem_final_val_loss", "n_success", "n_seeds"],
            formats={"scale": "{:g}", "lr": "{:g}", "mean_final_val_loss": "{:.4f}", "sem_final_val_loss": "{:.4f}"},
            index=INIT_LABELS, index_name="initializer")

    def curves_figure(self):
        """Fig. 3a-c analogue: validation loss at each initializer's best setting."""
        return _plot.fig3_curves(self.curves, baseline=self.baseline, best=self.best, x=self.x,
                                 ylabel=f"validation loss ({LOSS_UNITS[self.task]})")

    def success_figure(self):
        """Fig. 3d-f analogue: successful runs per initializer (beside the paper's shares for copy)."""
        return _plot.fig3_success(self.counts, paper=_paper.PAPER_SUCCESS[self.task],
                                  title=f"{NAMES[self.task]}, profile {self.profile}")

    def values(self) -> dict[str, Any]:
        """The numbers the chapter's prose quotes, by glue name (without the chapter's prefix)."""
        cfg, runs, counts, best = self.grid.configs()[0], self.runs, self.counts, self.best
        v: dict[str, Any] = {
            "profile": self.profile, "T": int(cfg.seq_len), "T_paper": int(_paper.SEQUENCE_LENGTH[self.task]),
            "baseline": float(self.baseline), "threshold": float(_paper.SUCCESS_FRACTION * self.baseline),
            "baseline_paper": float(_tasks.random_baseline(self.task, T=_paper.SEQUENCE_LENGTH[self.task])),
            "n_runs": int(len(runs)), "n_seeds": int(len(self.grid.seeds)), "updates": int(cfg.epochs * cfg.updates_per_epoch),
            "n_diverged": int(runs["diverged"].sum()), "sweep_wall_min": float(runs["wall_s"].sum() / 60),
        }
        for init in counts.index:
            k, n = int(counts.loc[init, "n_success"]), int(counts.loc[init, "n_runs"])
            v.update({f"success_{init}": k, f"runs_{init}": n, f"rate_{init}": float(100 * k / max(n, 1))})
        for init in best.index:
            v.update({f"best_val_{init}": float(best.loc[init, "mean_final_val_loss"]),
                      f"best_scale_{init}": float(best.loc[init, "scale"]), f"best_lr_{init}": float(best.loc[init, "lr"])})
        g = _results.group_counts(counts)
        v.update(g)
        rate_nn, rate_n = g["success_nonnormal"] / max(g["runs_nonnormal"], 1), g["success_normal"] / max(g["runs_normal"], 1)
        v["comparison"] = "more often than" if rate_nn > rate_n else "less often than" if rate_nn < rate_n else "as often as"
        if self.verdict is not None:
            v.update({"p_value": float(self.verdict.p_value), "verdict": self.verdict.label,
                      "significance": "significant" if self.verdict.significant else "not significant"})
        top = best["mean_final_val_loss"].idxmin()
        v.update({"best_init": INIT_LABELS.get(top, top), "best_val": float(best.loc[top, "mean_final_val_loss"])})
        for init, (k, n) in (_paper.PAPER_SUCCESS[self.task] or {}).items():
            v.update({f"paper_success_{init}": int(k), f"paper_runs_{init}": int(n)})
        return v

    def glue(self, prefix: str) -> None:
        """Glue :meth:`values` under ``<prefix>_<name>`` (the figures are glued where the page shows them)."""
        glue_all(prefix, self.values())


def benchmark_summary(grid: _sweep.Grid, runs: pd.DataFrame, history: pd.DataFrame) -> BenchmarkSummary:
    """Best settings, curves, success counts and the success verdict of a chapter's live sweep.

    Args:
        grid: the sweep's grid (:func:`live_grid`).
        runs, history: :func:`nnrnn.sweep.load_runs` and :func:`nnrnn.sweep.load_history` of it.

    The curves run over epochs when the runs last more than two epochs, else over updates.
    """
    if runs.empty:
        raise ValueError(f"runs must hold at least one stored run of the grid, got an empty table ({len(grid)} requested)")
    cfg = grid.configs()[0]
    x = "epoch" if cfg.epochs > 2 else "update"
    best = _results.best_settings(runs)
    counts = _results.success_counts(runs)
    baseline = float(runs["baseline"].iloc[0])
    return BenchmarkSummary(grid, runs, history, baseline, x, best, _results.best_curves(history, best, x=x), counts,
                            _results.success_test(counts, at_paper_scale=grid.profile == "paper"))


def check_benchmark(s: BenchmarkSummary) -> None:
    """The chapter's checks: a wrong result fails the build (an ``AssertionError`` naming it)."""
    runs, grid, counts, ok = s.runs, s.grid, s.counts, s.runs[~s.runs["diverged"]]
    first = s.history[s.history["update"] == 0].set_index("hash")["val_loss"]
    best = runs.set_index("hash")["best_val_loss"]
    succeeded = runs["final_val_loss"].lt(_paper.SUCCESS_FRACTION * s.baseline) & ~runs["diverged"]
    checks = [
        (len(runs) == len(grid), f"{len(runs)} runs loaded, {len(grid)} requested"),
        (set(runs["hash"]) == {c.hash() for c in grid.configs()}, "the loaded runs differ from the grid"),
        (np.isclose(runs["baseline"], s.baseline).all(), "the runs disagree about the random baseline"),
        (np.isfinite(ok["final_val_loss"].to_numpy(float)).all(), "a run that did not diverge has a non-finite loss"),
        ((runs["success"] == succeeded).all(), "a run's success flag disagrees with its final loss"),
        (counts["n_runs"].to_dict() == grid.runs_per_init(), "the success counts do not count every run once"),
        (int(counts["n_success"].sum()) == int(runs["success"].sum()), "the success counts disagree with the runs"),
        ((best <= first.reindex(best.index) + 1e-12).all(), "a run's best validation loss is above its first"),
        (grid.profile != "paper" or (grid.configs()[0].seq_len == _paper.SEQUENCE_LENGTH[grid.task] and len(grid) == 2112),
         "the paper profile must be the paper's grid"),
    ]
    for passed, message in checks:
        if not bool(passed):
            raise AssertionError(message)


def psmnist_profile_values(hidden_size: int) -> dict[str, Any]:
    """What chapter 6 says about how ``demo`` and ``smoke`` reduce the paper's psMNIST grid (glue names)."""
    demo, smoke, paper = (_sweep.grid("psmnist", p, hidden_size=hidden_size) for p in ("demo", "smoke", "paper"))
    cfg = demo.configs()[0]
    ranks = sorted(paper.lrs, reverse=True)
    ordinals = {1: "the largest", 2: "the second largest", 3: "the third largest"}
    return {
        "demo_n_train": int(cfg.n_train), "demo_n_val": int(cfg.n_val), "demo_updates": int(cfg.epochs * cfg.updates_per_epoch),
        "demo_scales": "; ".join(f"{INIT_LABELS[i]} {', '.join(f'{v:g}' for v in demo.scales[i])}" + (" (β)" if i == "fb_chain" else "")
                                 for i in demo.inits),
        "demo_lrs": " and ".join(f"{lr:g}" for lr in demo.lrs),
        "demo_lr_ranks": " and ".join(ordinals.get(r, f"number {r} from the top") for r in (ranks.index(lr) + 1 for lr in demo.lrs)),
        "paper_n_lrs": len(ranks), "demo_n_seeds": len(demo.seeds), "smoke_n_train": int(smoke.configs()[0].n_train),
        "smoke_n_test": int(_profiles.PSMNIST_N_TEST["smoke"]), "paper_runs": int(len(paper)),
    }


def accuracy_table(runs: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """psMNIST: test accuracy (%) at each initializer's best setting (mean, s.e.m.), its test loss
    and the best single run; ``runs`` carries ``test_acc``/``test_loss`` (:func:`evaluate_psmnist_test_set`)."""
    rows = {}
    for init, b in best.iterrows():
        at = runs[(runs["init"] == init) & np.isclose(runs["scale"], b["scale"]) & np.isclose(runs["lr"], b["lr"])]
        mean, sem = mean_sem(at["test_acc"])
        rows[init] = {"test accuracy, best setting (%)": 100 * mean, "s.e.m. (%)": 100 * sem,
                      "test loss (nats)": float(at["test_loss"].mean()),
                      "best single run (%)": 100 * float(runs.loc[runs["init"] == init, "test_acc"].max()), "seeds": len(at)}
    return pd.DataFrame(rows).T


def accuracy_values(table: pd.DataFrame) -> dict[str, Any]:
    """Chapter 6's glued accuracies from :func:`accuracy_table`: per initializer and the best one."""
    col = "test accuracy, best setting (%)"
    top = table[col].astype(float).idxmax()
    v: dict[str, Any] = {"acc_best_label": INIT_LABELS.get(top, top), "acc_best": float(table.loc[top, col])}
    for init in table.index:
        v.update({f"test_acc_{init}": float(table.loc[init, col]), f"test_acc_sem_{init}": float(table.loc[init, "s.e.m. (%)"])})
    return v


# ----------------------------------------------------------------------------- psMNIST's test accuracy
def _model_from_row(row: Mapping[str, Any], state: Mapping[str, Tensor]):
    nl = row.get("nonlinearity")
    model = model_for(
        "psmnist",
        row["init"],
        float(row["scale"]),
        hidden_size=int(row["hidden_size"]),
        nonlinearity=None if nl is None or (isinstance(nl, float) and math.isnan(nl)) else nl,
        orientation=row.get("orientation", "forward") or "forward",
        generator=_tasks.stream_generator(0),  # any draw: the stored weights replace it
    )
    model.load_state_dict(state)
    return model


@torch.no_grad()
def _evaluate_run(row: Mapping[str, Any], n_test: int, root, batch_size: int) -> dict[str, float]:
    if row.get("diverged") or row.get("status") == "diverged":
        return {"test_loss": float("nan"), "test_acc": float("nan")}
    state = load_weights("psmnist", row["hash"], root=root)
    if not all(torch.isfinite(v).all() for v in state.values()):
        return {"test_loss": float("nan"), "test_acc": float("nan")}
    model = _model_from_row(row, state)
    model.eval()
    data = test_set(int(row["seed"]), n_test)
    loss = acc = 0.0
    for start in range(0, len(data), batch_size):
        idx = torch.arange(start, min(start + batch_size, len(data)))
        x, y = data.batch(idx)
        out = model(x)
        w = len(idx) / len(data)
        loss += w * F.cross_entropy(out, y).item()
        acc += w * (out.argmax(-1) == y).float().mean().item()
    return {"test_loss": loss, "test_acc": acc}


def evaluate_psmnist_test_set(
    runs: pd.DataFrame,
    *,
    n_test: int | None = None,
    profile: str = "demo",
    cache: str = "auto",
    root: str | os.PathLike | None = None,
    batch_size: int = 1000,
) -> pd.DataFrame:
    """Test loss and accuracy of stored psMNIST runs, on the MNIST test digits of each run's seed.

    Each run's result is stored once (``nnrnn.store.run_or_load``, experiment
    ``psmnist_test``, keyed by the run's hash and ``n_test``), so re-running a chapter does not
    re-evaluate. Diverged runs get NaN.

    Args:
        runs: a :func:`nnrnn.sweep.load_runs` table of psMNIST runs.
        n_test: number of test digits (the first ``n_test`` of the file). Default:
            :data:`nnrnn.profiles.PSMNIST_N_TEST` ``[profile]``.
        profile: the results folder level (and the default ``n_test``).
        cache: ``"auto"``, ``"require"`` or ``"off"`` (see :func:`nnrnn.store.run_or_load`).
        root: results root.
        batch_size: digits per forward pass (no effect on the result).

    Returns:
        ``runs`` with columns ``test_loss``, ``test_acc`` and ``n_test`` added.
    """
    if n_test is None:
        n_test = _profiles.PSMNIST_N_TEST[_profiles.check_profile(profile)]
    else:
        n_test = validate.integer(n_test, "n_test", low=1, high=N_MNIST_TEST)
    out = runs.copy()
    losses, accs = [], []
    for row in runs.to_dict("records"):
        cfg = {"run": row["hash"], "n_test": n_test}
        res = run_or_load(
            "psmnist_test",
            cfg,
            lambda row=row: _evaluate_run(row, n_test, root, batch_size),
            profile=profile,
            cache=cache,
            root=root,
        )
        losses.append(float(res["test_loss"]))
        accs.append(float(res["test_acc"]))
    out["test_loss"] = losses
    out["test_acc"] = accs
    out["n_test"] = n_test
    return out
