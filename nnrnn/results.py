r"""Stored runs to tables, figures' data and verdicts: what the chapters and the results page show.

* **Tables and figures' data** of a sweep's stored runs (:func:`nnrnn.sweep.load_runs`,
  :func:`nnrnn.sweep.load_history`): :func:`success_counts` (Fig. 3d-f), :func:`best_settings`
  and :func:`best_curves` (Fig. 3a-c), and their pooling into normal and non-normal
  initializers (:func:`group_counts`, :func:`group_losses`, :func:`success_test`).
* **Settings tables**: :func:`settings_table`, what a grid or a list of language-model runs
  trains, beside the paper's settings.
* **The claim table** of the results page: every claim of the paper that the book tests gets
  one row: the paper's value (cited), ours (the profile, the number of runs and seeds), a
  statistical test and a **verdict computed from them** (:func:`verdict`); no verdict is
  written by hand, and the chapters' own verdict sentences call the same functions.

Verdicts and their tests are in :mod:`nnrnn.verdicts`.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd
import torch

from . import archive as _archive
from . import decoding as _decoding
from . import lockstep as _lockstep
from . import memory as _memory
from . import paper as _paper
from . import replicate as _replicate
from . import sweep as _sweep
from . import validate
from . import weights as _weights
from .archive import archive_commit, archive_label, archive_root
from .executors import torch_threads
from .lm import replicate as _lm_replicate
from .lm import runs as _lm_runs
from .lm.config import LMConfig, paper_config
from .init import orthogonal_matrix
from .plotting import INIT_LABELS
from .store import read_run_meta, results_root
from .verdicts import VERDICTS, Verdict, difference_verdict, increase_verdict, success_power, success_verdict, verdict

__all__ = ["NORMAL", "NON_NORMAL", "INITS", "success_counts", "best_settings", "best_curves", "group_counts",
           "group_losses", "success_test", "success_power_text", "paper_success_text", "settings_table", "archive_root", "archive_commit", "archive_label",
           "archive_status",
           "stage2_plan", "stage2_runs", "checkpoint_status", "replicate_runs", "complete_replicate_runs", "DECODING_CLAIM", "motif_test", "claims",
           "claim_runs", "integrity_problems", "WITHHELD"]

#: the normal and the non-normal initializers of the synthetic tasks (the groups the verdicts compare).
NORMAL = ("identity", "orthogonal")
NON_NORMAL = ("chain", "fb_chain")
#: the four, in the order of the tables and figures.
INITS = NORMAL + NON_NORMAL
#: the setting of the Fig. 2 claim, computed when the page builds (seconds): N = T (the paper's N), the
#: chain's gain α (the paper's argument) and the scale λ of λQ, sequences to fit and to score the readouts,
#: independent repetitions, seed (chapter 02's defaults; all but N and α our choice).
DECODING_CLAIM = {"n": 100, "alpha": 1.0, "lam": 0.9, "n_train": 2000, "n_test": 1000, "repeats": 6, "seed": 0}
_DECODING_CACHE: dict[tuple, dict[str, np.ndarray]] = {}
#: the verdict of a claim read from an archive that fails its integrity check (:func:`claims`).
WITHHELD = "withheld: the archive fails its integrity check"
#: the order differences 1.._MAX_LAG of the Fig. 5 claim (chapter 08's max_lag).
_MAX_LAG = 15


# ----------------------------------------------------------------------------- summaries of stored runs
def success_counts(runs: pd.DataFrame, inits: Sequence[str] | None = None) -> pd.DataFrame:
    """Successful, diverged and total runs per initializer (Fig. 3d-e).

    Examples:
        >>> df = pd.DataFrame({"init": ["chain", "chain", "identity"], "success": [True, False, False],
        ...                    "diverged": [False, False, True]})
        >>> success_counts(df, ["identity", "chain"]).to_dict("index")["chain"]
        {'n_success': 1, 'n_runs': 2, 'n_diverged': 0}
    """
    inits = list(inits) if inits is not None else [i for i in INITS if i in set(runs["init"])] or sorted(set(runs["init"]))
    g = runs.groupby("init")
    out = pd.DataFrame(
        {
            "n_success": g["success"].sum().reindex(inits, fill_value=0).astype(int),
            "n_runs": g.size().reindex(inits, fill_value=0).astype(int),
            "n_diverged": g["diverged"].sum().reindex(inits, fill_value=0).astype(int),
        }
    )
    out.index.name = "init"
    return out


def best_settings(runs: pd.DataFrame, select: Literal["mean_final"] = "mean_final") -> pd.DataFrame:
    """The best (scale, lr) of each initializer: lowest mean final validation loss over seeds.

    A diverged run counts as an infinite loss, so a setting with a diverged seed is chosen only
    if every setting has one. Ties go to more successes.

    Returns:
        one row per init: ``scale``, ``lr``, ``mean_final_val_loss``, ``sem_final_val_loss``,
        ``n_seeds``, ``n_success``.
    """
    validate.choice(select, "select", ("mean_final",))
    df = runs.assign(_loss=runs["final_val_loss"].where(~runs["diverged"], np.inf).fillna(np.inf))
    agg = (
        df.groupby(["init", "scale", "lr"])
        .agg(
            mean_final_val_loss=("_loss", "mean"),
            sem_final_val_loss=("_loss", lambda v: float(np.std(v, ddof=1) / np.sqrt(len(v))) if len(v) > 1 and np.isfinite(v).all() else 0.0),
            n_seeds=("_loss", "size"),
            n_success=("success", "sum"),
        )
        .reset_index()
        .sort_values(["init", "mean_final_val_loss", "n_success"], ascending=[True, True, False], kind="stable")
    )
    best = agg.groupby("init", sort=False).head(1).set_index("init")
    order = [i for i in INITS if i in best.index] + [i for i in best.index if i not in INITS]
    return best.loc[order]


def best_curves(history: pd.DataFrame, best: pd.DataFrame, column: str = "val_loss", x: str = "epoch") -> pd.DataFrame:
    """Mean and s.e.m. over seeds of ``column`` against training progress at each init's best setting.

    ``x`` is the progress column of the history (``"epoch"`` or ``"update"``).

    Runs that stopped early keep their last value for the later evaluation points (their loss
    no longer changes); diverged runs drop out from the point where they diverged.

    Returns:
        long form with ``init``, ``x`` (the progress column), ``mean``, ``sem``, ``n``.
    """
    frames = []
    for init, b in best.iterrows():
        h = history[(history["init"] == init) & np.isclose(history["scale"], b["scale"]) & np.isclose(history["lr"], b["lr"])]
        if h.empty:
            continue
        wide = h.pivot_table(index=x, columns="seed", values=column, aggfunc="last", dropna=False)
        # carry the last finite value forward only after the run's final row (early stopping)
        last_epoch = h.groupby("seed")[x].max()
        for seed in wide.columns:
            after = wide.index > last_epoch[seed]
            diverged = h[h["seed"] == seed][column].isna().iloc[-1]
            if not diverged:
                wide.loc[after, seed] = wide[seed].loc[~after].ffill().iloc[-1]
        values = wide.to_numpy(dtype=float)
        n = np.isfinite(values).sum(axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(values, axis=1)
            sd = np.nanstd(values, axis=1, ddof=1)
        sem = np.where(n > 1, sd / np.sqrt(np.maximum(n, 1)), 0.0)
        frames.append(pd.DataFrame({"init": init, x: wide.index.to_numpy(), "mean": mean, "sem": sem, "n": n}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["init", x, "mean", "sem", "n"])


def group_counts(counts: pd.DataFrame) -> dict[str, int]:
    """:func:`success_counts` pooled into the normal (:data:`NORMAL`) and non-normal (:data:`NON_NORMAL`) groups.

    Examples:
        >>> counts = pd.DataFrame({"n_success": [0, 3, 1], "n_runs": [4, 4, 4]}, index=["identity", "chain", "fb_chain"])
        >>> group_counts(counts)
        {'success_normal': 0, 'runs_normal': 4, 'success_nonnormal': 4, 'runs_nonnormal': 8}
    """
    out = {}
    for group, inits in (("normal", NORMAL), ("nonnormal", NON_NORMAL)):
        rows = counts.loc[[i for i in inits if i in counts.index]]
        out.update({f"success_{group}": int(rows["n_success"].sum()), f"runs_{group}": int(rows["n_runs"].sum())})
    return out


def group_losses(runs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The final validation losses of the runs that did not diverge: (normal, non-normal) initializers."""
    ok = runs[~runs["diverged"].astype(bool)]
    return tuple(ok.loc[ok["init"].isin(g), "final_val_loss"].dropna().to_numpy(float) for g in (NORMAL, NON_NORMAL))


def success_power_text(task: str, runs_per_init: dict[str, int]) -> str:
    """How likely the success test is to come out significant for ``task`` with ``runs_per_init``
    runs per initializer, were each initializer as successful as in the paper (its counts over its
    whole grid, :data:`nnrnn.paper.PAPER_SUCCESS`; :func:`nnrnn.verdicts.success_power`). ``""``
    where the paper gives no counts (addition and psMNIST: bars only).

    Examples:
        >>> success_power_text("addition", {"chain": 6})
        ''
    """
    paper = _paper.PAPER_SUCCESS[task]
    if not paper:
        return ""
    group = {name: [(int(runs_per_init.get(i, 0)), k / n) for i, (k, n) in paper.items() if i in members]
             for name, members in (("a", NON_NORMAL), ("b", NORMAL))}
    n_nonnormal = sum(n for n, _ in group["a"])
    if not n_nonnormal or not sum(n for n, _ in group["b"]):
        return ""
    power = success_power(group["a"], group["b"])
    expected = sum(n * p for n, p in group["a"])
    return (f"power at the paper's success rates (its counts over its whole grid, Fig. 3d): {power:.2g}, with "
            f"{expected:.2f} successes expected among our {n_nonnormal} non-normal runs")


def success_test(counts: pd.DataFrame, *, at_paper_scale: bool) -> Verdict | None:
    """The test of "non-normal initializers succeed more often" on :func:`success_counts` (``None`` if a group is empty)."""
    g = group_counts(counts)
    if not g["runs_normal"] or not g["runs_nonnormal"]:
        return None
    return success_verdict(g["success_nonnormal"], g["runs_nonnormal"], g["success_normal"], g["runs_normal"],
                           at_paper_scale=at_paper_scale)


# ----------------------------------------------------------------------------- settings tables
#: the language models' scales in the paper (§5; it gives none for LSTMs).
_LM_PAPER_SCALES = {"rnn": "best of 21 values each (§5); feedback chain α = the best chain scale", "lstm": "not stated"}


def _grid_settings(g: _sweep.Grid, n_test: int | None) -> dict[str, str]:
    c = g.configs()[0]
    rows = {
        "sequence length T": f"{c.seq_len}",
        "hidden units N": f"{c.hidden_size}",
        "nonlinearity": c.nonlinearity or c.make_task().default_nonlinearity,
        "training sequences": f"{c.n_train:,}",
        "validation sequences": f"{c.n_val:,}",
        "epochs (at most)": f"{c.epochs}",
        "batch size": f"{c.batch_size}",
        "updates per run (at most)": f"{c.epochs * c.updates_per_epoch:,}",
        "validation points per epoch": f"{c.evals_per_epoch}",
        "early stop below": f"{c.early_stop:g}",
        "optimizer": f"RMSprop(alpha={c.rms_alpha:g}, eps={c.rms_eps:g}), clip {c.clip_norm:g}",
        **{f"scales: {k}": ", ".join(f"{v:g}" for v in g.scales.get(k, ())) or "-" for k in INITS},
        "learning rates": ", ".join(f"{v:g}" for v in g.lrs),
        "seeds": ", ".join(str(v) for v in g.seeds),
        **{f"runs: {k}": f"{n}" for k, n in g.runs_per_init().items()},
        "runs in all": f"{len(g):,}",
    }
    if n_test is not None:
        rows["test digits (test accuracy)"] = f"{n_test:,}"
    return rows


def _paper_grid_settings(task: str, n_test: int | None) -> dict[str, str]:
    """The paper's column: its grid, and for psMNIST the authors' code's data split (the paper states none)."""
    g = _sweep.grid(task, "paper")
    rows = _grid_settings(g, None)
    if task == "psmnist":  # the authors trained on every training digit and validated on the test digits
        c = g.configs()[0]
        rows.update({"training sequences": f"{_paper.N_MNIST_TRAIN:,} digits (authors' code)",
                     "validation sequences": f"the {_paper.N_MNIST_TEST:,} test digits (authors' code)",
                     "updates per run (at most)": f"{c.epochs * (_paper.N_MNIST_TRAIN // c.batch_size):,}"})
    if n_test is not None:
        rows["test digits (test accuracy)"] = "not reported"
    return rows


def _lm_scales(cfgs: Sequence[LMConfig]) -> str:
    """The scales of ``cfgs`` per initializer: listed if few, else counted, and whether tuned."""
    parts = []
    for init in dict.fromkeys(c.init for c in cfgs):
        if init == "plain":
            continue
        values = list(dict.fromkeys(c.scale for c in cfgs if c.init == init))
        text = ", ".join(f"{v:g}" for v in values) if len(values) <= 3 else (
            f"{len(values)} values, {min(values):g} … {max(values):g}")
        alphas = list(dict.fromkeys(c.fb_alpha for c in cfgs if c.init == init and c.fb_alpha is not None))
        if alphas:
            text += f" (α {', '.join(f'{a:g}' for a in alphas)})"
        parts.append(f"{init}: {text}")
    single = all(len({c.scale for c in cfgs if c.init == i}) == 1 for i in {c.init for c in cfgs})
    return ("one per initializer, our choice, not tuned: " if single else "") + "; ".join(parts)


def _lm_settings(cfgs: Sequence[LMConfig]) -> dict[str, str]:
    c = cfgs[0]
    toks = lambda n: "all" if n is None else f"first {n:,}"  # noqa: E731
    return {
        "recurrent layers": f"{c.nlayers} {f'vanilla ({c.nonlinearity})' if c.cell == 'rnn' else 'LSTM'}",
        "sizes (embedding → layers)": " → ".join([str(c.emsize)] + [str(n) for _, n in c.layer_sizes]),
        "decoder": "tied to the embedding" if c.tied else "untied",
        "BPTT window / batch": f"{c.bptt} / {c.batch_size}",
        "optimizer": f"Adam, lr {c.lr:g}, weight decay {c.wdecay:g}, clip {c.clip:g}"
        + (f", lr ÷10 after epochs {', '.join(map(str, c.when))}" if c.when else ""),
        "dropout (out/between/in/embedding/weights)": "/".join(
            f"{getattr(c, k):g}" for k in ("dropout", "dropouth", "dropouti", "dropoute", "wdrop")),
        "AR / TAR": f"{c.ar_alpha:g} / {c.tar_beta:g}",
        "epochs": f"{c.epochs}",
        "training tokens": toks(c.train_tokens),
        "validation tokens": toks(c.valid_tokens) + f" ({c.evals_per_epoch}× per epoch)",
        "test tokens (batch)": toks(c.test_tokens) + f" ({c.test_batch_size})",
        "initializers": ", ".join(dict.fromkeys(x.init for x in cfgs)),
        "scales": _lm_scales(cfgs),
        "seeds": ", ".join(str(v) for v in dict.fromkeys(x.seed for x in cfgs)),
        "runs": f"{len(cfgs)}",
    }


def _paper_lm_settings(mine: Sequence[LMConfig]) -> dict[str, str]:
    """The paper's column for the runs of one corpus: its configs of the same initializers, its scales and run count."""
    c = mine[0]
    paper = [paper_config(c.corpus, c.cell, i, s) for i in dict.fromkeys(x.init for x in mine) for s in _paper.LM_SEEDS]
    n_scales = len(_paper.LM_SCALE_GRID["chain"]) if c.cell == "rnn" else 1
    return {**_lm_settings(paper), "scales": _LM_PAPER_SCALES[c.cell], "runs": f"{len(paper) * n_scales}"}


def settings_table(runs: _sweep.Grid | Sequence[LMConfig], label: str | None = None, *,
                   n_test: int | None = None) -> pd.DataFrame:
    """What a sweep trains, beside the paper's settings: one row per setting (index ``setting``).

    Args:
        runs: a :class:`nnrnn.sweep.Grid` of copy, addition or psMNIST, or a list of
            :class:`nnrnn.lm.LMConfig`.
        label: the name of its column; default the grid's profile (``"this run"`` for
            language models). ``"paper"`` shows as ``"paper profile"``, so that what the
            ``paper`` profile trains and what the paper did stay two columns.
        n_test: psMNIST only: the test digits behind the test accuracy (adds a row; the paper
            reports no test accuracy).

    A grid gets the columns ``<label>`` and ``paper`` (the paper's grid; for psMNIST with the
    authors' code's data split); language models one such pair per corpus, ``"<corpus>: <label>"``
    and ``"<corpus>: paper"`` (the paper's runs of the same initializers, and its scales).

    Examples:
        >>> from nnrnn.sweep import grid
        >>> t = settings_table(grid("copy", "demo"))
        >>> list(t.columns), t.loc["sequence length T", "paper"]
        (['demo', 'paper'], '500')
        >>> t = settings_table(grid("psmnist", "smoke"), n_test=500)
        >>> t.loc["test digits (test accuracy)"].tolist(), t.loc["validation sequences", "paper"]
        (['500', 'not reported'], "the 10,000 test digits (authors' code)")
        >>> from nnrnn.lm import profile_configs
        >>> t = settings_table(profile_configs("rnn", "paper", corpora=["ptb"]), "paper")
        >>> list(t.columns), t.loc["scales", "ptb: paper"]
        (['ptb: paper profile', 'ptb: paper'], 'best of 21 values each (§5); feedback chain α = the best chain scale')
    """
    if isinstance(runs, _sweep.Grid):
        if n_test is not None and runs.task != "psmnist":
            raise validate.error("n_test", f"None for a {runs.task} grid (only psMNIST has test digits)", n_test)
        n_test = None if n_test is None else validate.positive_int(n_test, "n_test")
        label = runs.profile if label is None else label
        pairs = [("", _grid_settings(runs, n_test), _paper_grid_settings(runs.task, n_test))]
    else:
        cfgs = list(runs)
        if not cfgs or not all(isinstance(c, LMConfig) for c in cfgs):
            raise validate.error("runs", "a Grid or a non-empty list of LMConfig", type(runs).__name__, raw=True)
        if n_test is not None:
            raise validate.error("n_test", "None for language models", n_test)
        label = "this run" if label is None else label
        by_corpus = {k: [c for c in cfgs if c.corpus == k] for k in dict.fromkeys(c.corpus for c in cfgs)}
        pairs = [(f"{k}: ", _lm_settings(mine), _paper_lm_settings(mine)) for k, mine in by_corpus.items()]
    name = "paper profile" if label == "paper" else label
    keys = list(dict.fromkeys(k for _, ours, theirs in pairs for k in (*ours, *theirs)))
    cols = {}
    for prefix, ours, theirs in pairs:
        cols[prefix + name] = [ours.get(k, "-") for k in keys]
        cols[prefix + "paper"] = [theirs.get(k, "-") for k in keys]
    return pd.DataFrame(cols, index=pd.Index(keys, name="setting"))


# ----------------------------------------------------------------------------- the archive
def archive_status(root=None) -> pd.DataFrame:
    """Per task: pilot and stage-2 runs stored (of planned) and the worker time they took; the
    language models' replicate runs (``lm-rnn``, ``lm-lstm``) have no pilot.

    Worker time sums each run's share of its lockstep group's wall time (``wall_s / lockstep_runs``).
    """
    rows = []
    for task in _replicate.TASKS:
        pilot = _replicate.pilot_grid(task)
        p = _sweep.load_runs(task, configs=pilot, root=root)
        s2 = replicate_runs(task, root)
        planned = len(_replicate._STAGE2[task]["seeds"]) * len(_replicate.PILOT_SCALES)
        rows.append({"task": task, "pilot runs": f"{len(p)} / {len(pilot)}", "stage-2 runs": f"{len(s2)} / {planned}",
                     "worker hours": float(sum(_worker_seconds(r, root) for r in (p, s2)) / 3600)})
    for cell in ("rnn", "lstm"):  # the language models: no pilot, one run per worker (nnrnn.lm.replicate)
        cfgs = _lm_replicate.configs(cell)
        stored = [c for c in cfgs if _lm_runs.is_done(c, root)]
        wall = sum(float(_lm_runs.load_run(_lm_runs.run_dir(c, root))["result"].get("wall_s", 0.0)) for c in stored)
        rows.append({"task": f"lm-{cell}", "pilot runs": "none", "stage-2 runs": f"{len(stored)} / {len(cfgs)}",
                     "worker hours": wall / 3600})
    return pd.DataFrame(rows).set_index("task")


def checkpoint_status(root=None, task: str | None = None) -> pd.DataFrame:
    """Per lockstep checkpoint under ``<root>/checkpoints/<task>/`` (every task's, or ``task``'s): its
    runs, how many are still training, stopped early or diverged, the group's update, when it
    was saved (UTC), and a ``note``.

    A run that is still training has the status ``"finished"`` in the checkpoint (its default,
    kept until it stops early or diverges) and is in the group's stack, so "training" counts
    those. The note says that a group has finished and waits for its runs to be stored, or that
    a resume would refuse the checkpoint, and why (:func:`nnrnn.lockstep.inspect_checkpoint`);
    an unreadable checkpoint is listed with that note and no counts.
    """
    rows = []
    for path in sorted((results_root(root) / "checkpoints").glob(f"{task or '*'}/*.pt")):
        state, problem = _lockstep.inspect_checkpoint(path)
        saved = pd.Timestamp(path.stat().st_mtime, unit="s").strftime("%Y-%m-%d %H:%M")
        row: dict[str, Any] = {"task": path.parent.name, "group": path.stem, "saved (UTC)": saved}
        if state is None or (problem is not None and problem[0] == "unreadable"):
            rows.append({**row, "note": f"unreadable: {problem[1] if problem else 'no state'}"})
            continue
        status, active = [r["status"] for r in state["runs"]], set(state["active"])
        note = "finished: its runs wait to be stored" if not active else ""
        rows.append({**row, "runs": len(status), "training": sum(s == "finished" for i, s in enumerate(status) if i in active),
                     "early stopped": status.count("early_stopped"), "diverged": status.count("diverged"),
                     "update": int(state["position"][2]), "note": f"a resume refuses it: {problem[1]}" if problem else note})
    counts = ["runs", "training", "early stopped", "diverged", "update"]
    cols = ["task", "group", *counts, "saved (UTC)", "note"]
    return pd.DataFrame(rows, columns=cols).astype({c: "Int64" for c in counts})


def _worker_seconds(runs: pd.DataFrame, root) -> float:
    """Worker time of ``runs``: each lockstep group's wall time, shared among its runs.

    A group resumed before checkpoints carried the clock (``lockstep``'s ``wall_s``) reports only
    its last segment; its wall time is then estimated from its runs' histories, whose clocks
    restart at each resume (:func:`nnrnn.lockstep._wall_from_rows`, the longest member's).
    """
    groups: dict[tuple, list[float]] = {}
    for r in runs.itertuples(index=False):
        folder = results_root(root) / "runs" / r.task / r.hash
        prov = read_run_meta(folder, verify=False).get("provenance", {})
        wall, n = float(prov.get("wall_s", r.wall_s or 0.0)), max(1, int(prov.get("lockstep_runs", 1)))
        if prov.get("resumed"):
            rows = pd.read_csv(folder / "history.csv", usecols=["wall_s"]).to_dict("records")
            wall = max(wall, _lockstep._wall_from_rows([{"rows": rows}]))
        groups.setdefault((r.task, prov.get("created", r.hash), n), []).append(wall)
    return float(sum(max(walls) / n * len(walls) for (_, _, n), walls in groups.items()))


def stage2_plan(task: str, root=None) -> list:
    """The stage-2 configs of ``task`` once its pilot is complete in the archive, else ``[]``."""
    pilot = _replicate.pilot_grid(task)
    runs = _sweep.load_runs(task, configs=pilot, root=root)
    if len(runs) < len(pilot):
        return []
    selection = _replicate.select(task, _replicate.pilot_scores(runs, _sweep.load_history(runs, root=root)))
    return _replicate.stage2_grid(task, selection)


def stage2_runs(task: str, root=None) -> tuple[list, pd.DataFrame]:
    """``(plan, runs)``: the stage-2 configs of ``task`` (:func:`stage2_plan`) and those of them
    stored. The plan is derived once here (it loads the pilot's runs and histories), and every
    reader of stage 2 goes through this function."""
    plan = stage2_plan(task, root)
    return plan, _sweep.load_runs(task, configs=plan, root=root)


def replicate_runs(task: str, root=None) -> pd.DataFrame:
    """The stored stage-2 runs of the replicate protocol for ``task`` (empty if the pilot is incomplete)."""
    return stage2_runs(task, root)[1]


def complete_replicate_runs(task: str, root=None) -> pd.DataFrame:
    """:func:`replicate_runs` once every planned stage-2 run of ``task`` is stored, else none: an
    analysis over tasks (Table 2, Fig. 5) never mixes a finished task with a half-trained one."""
    plan, runs = stage2_runs(task, root)
    return runs if plan and len(runs) == len(plan) else runs.iloc[:0]


def _row(claim: str, source: str, paper: str, ours: str, v: Verdict | None, profile: str, n: str) -> dict[str, Any]:
    return {"claim": claim, "where in the paper": source, "paper": paper, "ours": ours, "profile": profile,
            "runs": n, "test": "-" if v is None else v.describe(), "verdict": VERDICTS[4] if v is None else v.label}


def _theory_rows() -> list[dict[str, Any]]:
    n = 100
    chain = _memory.chain_total_memory(n, 1.05)
    q = orthogonal_matrix(n, generator=torch.Generator().manual_seed(0)) * 0.99
    v = np.zeros(n)
    v[0] = 1.0
    normal = _memory.total_memory(q, v)
    effect = chain - normal
    v1 = Verdict(verdict(effect, True, True), effect, "exact computation")
    return [_row("Non-normal networks hold more Fisher memory than normal ones (J_tot)", "§2, Eq. 4, Fig. 1b",
                 "J_tot = 1 for every normal W; up to N for non-normal W",
                 f"chain α = 1.05: J_tot = {chain:.3f}; 0.99·Q: J_tot = {normal:.3f} (N = {n}, v = e₀)", v1,
                 "theory (any profile)", "exact")]


def training_text(task: str, plan: Sequence, root=None) -> str:
    """Where the unfinished stage 2 of ``task`` (its configs ``plan``, :func:`stage2_plan`) stands,
    from its lockstep checkpoints ("" if none)."""
    ck = checkpoint_status(root, task)
    if ck.empty or not plan:
        return ""
    cap = plan[0].epochs * plan[0].updates_per_epoch
    at = " and ".join(f"{u:,}" for u in ck["update"])
    groups = "1 lockstep group checkpointed at update" if len(ck) == 1 else f"{len(ck)} lockstep groups checkpointed at updates"
    return (f"{groups} {at} of {cap:,} (saved {max(ck['saved (UTC)'])} UTC); so far "
            f"{int(ck['early stopped'].sum())} stopped early, {int(ck['diverged'].sum())} diverged")


def _loss_text(init: str, g: pd.DataFrame) -> str:
    """``"chain 0.1007"``, ``"chain 0.1007 (1 of 6 diverged)"`` or ``"identity: all 6 diverged"``."""
    finite = g["final_val_loss"].dropna()
    lost = len(g) - len(finite)
    if finite.empty:
        return f"{init}: all {len(g)} diverged"
    return f"{init} {finite.mean():.4g}" + (f" ({lost} of {len(g)} diverged)" if lost else "")


def paper_success_text(task: str) -> str:
    """The paper's success counts of ``task`` as the results page shows them, from
    :data:`nnrnn.paper.PAPER_SUCCESS` (e.g. ``"chain 46/462"``); addition and psMNIST have bars only."""
    counts = _paper.PAPER_SUCCESS[validate.choice(task, "task", tuple(_paper.PAPER_SUCCESS))]
    if counts is None:
        return "bars only (no counts in the text)"
    return ", ".join(f"{INIT_LABELS.get(i, i)} {k}/{n}" for i, (k, n) in counts.items())


def _benchmark_rows(task: str, root) -> list[dict[str, Any]]:
    figs = {"copy": ("Fig. 3a", "Fig. 3d"), "addition": ("Fig. 3b", "Fig. 3e"), "psmnist": ("Fig. 3c", "Fig. 3f")}[task]
    name = {"copy": "copy (T = 500)", "addition": "addition (T = 750)", "psmnist": "psMNIST (T = 784)"}[task]
    paper_success = paper_success_text(task)
    plan, runs = stage2_runs(task, root)
    n_seeds = len(_replicate._STAGE2[task]["seeds"])  # planned per initializer
    planned = len(plan) or n_seeds * len(_replicate.PILOT_SCALES)
    if len(runs) < planned:  # a verdict on part of stage 2 would depend on which runs finished first
        missing = ("no stage-2 runs in the archive yet" if runs.empty else
                   f"{len(runs)} of {planned} stage-2 runs in the archive; the verdict waits for all of them")
        training = training_text(task, plan, root)
        missing += f"; training: {training}" if training else ""
        n = f"{len(runs)} of {planned}"
        power = success_power_text(task, {i: n_seeds for i in _replicate.PILOT_SCALES})
        success_row = _row(f"{name}: non-normal initializers succeed more often", figs[1], paper_success, missing, None, "replicate", n)
        if power:
            success_row["test"] = f"Fisher's exact test, once stage 2 is complete; {power}"
        return [success_row,
                _row(f"{name}: non-normal initializers reach a lower validation loss", figs[0],
                     "non-normal curves lower (Fig. 3, 'generally do better')", missing, None, "replicate", n)]
    seeds = sorted(set(runs["seed"]))
    n_text = f"{len(runs)} ({len(seeds)} seeds per initializer)"
    per_init = ", ".join(f"{i} {int(g['success'].sum())}/{len(g)}" for i, g in runs.groupby("init", sort=False))
    rows = []
    counts = success_counts(runs)
    v = success_test(counts, at_paper_scale=True)
    if v is not None:
        rows.append(_row(f"{name}: non-normal initializers succeed more often", figs[1], paper_success,
                         f"successes: {per_init}", v, "replicate", n_text))
        power = success_power_text(task, counts["n_runs"].to_dict())
        rows[-1]["test"] += f"; {power}" if power else ""
        loss_no, loss_nn = group_losses(runs)
        means = ", ".join(_loss_text(i, g) for i, g in runs.groupby("init", sort=False))
        try:
            v2 = difference_verdict(loss_no, loss_nn, at_paper_scale=True)
        except ValueError:
            v2 = None
        rows.append(_row(f"{name}: non-normal initializers reach a lower validation loss", figs[0],
                         "non-normal curves lower (Fig. 3, 'generally do better')",
                         f"mean final validation loss: {means} (diverged runs excluded; effect: normal minus non-normal)",
                         v2, "replicate", n_text))
    return rows


def _decoding_result() -> dict[str, np.ndarray]:
    """:func:`nnrnn.decoding.run_fig2` at :data:`DECODING_CLAIM` (the elu setting, chain and orthogonal), computed once."""
    c = DECODING_CLAIM
    key = tuple(sorted(c.items()))
    if key not in _DECODING_CACHE:
        with torch_threads(1):  # tiny float64 kernels: one thread is faster than two contended ones (chapter 02)
            _DECODING_CACHE[key] = _decoding.run_fig2(
                c["n"], networks=("chain", "orthogonal"), settings=("elu",), alpha=c["alpha"], lam=c["lam"],
                n_train=c["n_train"], n_test=c["n_test"], repeats=c["repeats"],
                generator=torch.Generator().manual_seed(c["seed"]))
    return _DECODING_CACHE[key]


def _decoding_rows() -> list[dict[str, Any]]:
    """Fig. 2c: the chain keeps more past inputs than an orthogonal network with elu (chapter 02's computation)."""
    c, res = DECODING_CLAIM, _decoding_result()
    v = _decoding.capacity_verdict(res, "elu", at_paper_scale=True)
    chain, orth = (float(_decoding.memory_capacity(res[f"r2_elu_{k}"]).mean()) for k in ("chain", "orthogonal"))
    ours = (f"memory capacity Σ_k max(R²(k), 0): chain {chain:.1f}, {c['lam']:g}·Q {orth:.1f} past inputs (mean over "
            f"{c['repeats']} repetitions; N = T = {c['n']}, lags 0-{c['n'] - 1}, elu, no noise, chain α = {c['alpha']:g} with v = e₀, "
            f"random unit v for Q, s ~ N(0, 1), least squares on {c['n_train']:,} sequences, R² on {c['n_test']:,} "
            f"held out; N, elu, α and v as the paper, the rest our choice: it states none; effect: chain minus orthogonal)")
    return [_row("With a nonlinearity (elu) and no noise, the chain keeps past inputs linearly decodable longer than an "
                 "orthogonal network", "Eq. 5, Fig. 2c", "chain above orthogonal in R² of s_{t-k} from h_t "
                 "(elu panel); no numbers", ours, v, "theory (any profile)", f"{c['repeats']} repetitions")]


def motif_test(profiles: pd.DataFrame, *, max_lag: int = 15, at_paper_scale: bool,
               seed: int = 0) -> tuple[pd.DataFrame, Verdict | None]:
    """The test of Fig. 5's hidden chain on :func:`nnrnn.weights.network_profiles` (``control=True``).

    Per network, the forward - backward mean weight over order differences ``1..max_lag``
    (:func:`nnrnn.weights.profile_peak`'s ``asymmetry``) of the units ordered by their pulse
    response, trained (``trained``) and the same network before training (``untrained``), and
    with the no-pulse control ordering (``trained_control``, ``untrained_control``). The verdict
    is :func:`nnrnn.verdicts.increase_verdict` on ``increase = trained - untrained`` (the paper's
    contrast, which also takes out the forward bias that ordering by a matrix's own response
    gives a chain-free matrix); ``None`` below two networks.

    Examples:
        >>> rows = [{"task": "t", "init": "identity", "hash": h, "state": st, "ordering": o, "lag": lag,
        ...          "weight": (0.1 if (st, o, lag) == ("trained", "pulse", 1) else 0.0) * (1 + k)}
        ...         for k, h in enumerate("ab") for st in ("trained", "untrained") for o in ("pulse", "no pulse")
        ...         for lag in (-1, 0, 1)]
        >>> per, v = motif_test(pd.DataFrame(rows), max_lag=1, at_paper_scale=True)
        >>> per["increase"].round(2).tolist(), v.label
        ([0.1, 0.2], 'reproduced')
    """
    validate.positive_int(max_lag, "max_lag")
    by = ["task", "init", "hash", "state", "ordering"]
    cols = ["task", "init", "hash", "trained", "untrained", "trained_control", "untrained_control", "increase"]
    if profiles.empty:
        return pd.DataFrame(columns=cols), None
    peaks = _weights.profile_peak(_weights.aggregate_profiles(profiles, by=by), max_lag)
    wide = peaks.pivot_table(index=by[:3], columns=["state", "ordering"], values="asymmetry", sort=False)
    names = {("trained", _weights.PULSE): "trained", ("untrained", _weights.PULSE): "untrained",
             ("trained", _weights.NO_PULSE): "trained_control", ("untrained", _weights.NO_PULSE): "untrained_control"}
    wide = wide.reindex(columns=list(names)).set_axis(list(names.values()), axis=1)
    per = wide.dropna(subset=["trained", "untrained"]).reset_index()
    per["increase"] = per["trained"] - per["untrained"]
    try:
        v = increase_verdict(per["increase"].to_numpy(float), at_paper_scale=at_paper_scale, seed=seed)
    except ValueError:  # fewer than two networks: no bootstrap
        v = None
    return per[cols], v


def _networks_text(nets: pd.DataFrame) -> str:
    parts = [f"{t} {i} {len(g)}" + ("" if (g["selection"] == _weights.SUCCESS).all() else " (best, not successful)")
             for (t, i), g in nets.groupby(["task", "init"], sort=False)]
    return f"{len(nets)} networks ({', '.join(parts)})"


def _weight_rows(root) -> list[dict[str, Any]]:
    """Table 2 and Fig. 5 from one :func:`nnrnn.weights.analyse` of the replicate runs (chapter 08's)."""
    runs = _weights.collect_runs(complete_replicate_runs, _weights.TASKS, root)
    a = _weights.analyse(runs, root=root, max_lag=_MAX_LAG, at_paper_scale=True) if len(runs) else None
    t2 = ("Training moves normal-initialized networks away from normality (Henrici index)", "Table 2",
          "d(W) grows from 0 to well above 0 after training")
    fig5 = ("Training hides a chain-like motif in identity/orthogonal-initialized networks", "Fig. 5",
            "mean W_ij against i - j of pulse-ordered units: an asymmetric (forward) bump after training, absent "
            "(identity) or much weaker (orthogonal) before; no numbers")
    if a is None or a.networks.empty:
        none = "no stage-2 runs of identity/orthogonal in the archive yet"
        return [_row(*t2, none, None, "replicate", "0"), _row(*fig5, none, None, "replicate", "0")]
    per, s = a.per_network, a.normality
    ours = (f"d(W) before {per['henrici_before'].mean():.3g}, after {per['henrici_after'].mean():.3g} "
            f"(mean over networks; float32 noise floor {s['floor']:.2g})")
    rows = [_row(*t2, ours, s["verdict"], "replicate", _networks_text(a.networks))]
    motif, v = motif_test(a.profiles, max_lag=_MAX_LAG, at_paper_scale=True)
    groups = "; ".join(f"{t} {i} {g['trained'].mean():+.4f} (untrained {g['untrained'].mean():+.4f})"
                       for (t, i), g in motif.groupby(["task", "init"], sort=False))
    pulse = _weights.PulseSettings()
    ours = (f"forward - backward mean W_ij over i - j = 1..{_MAX_LAG}, units ordered by their pulse response: trained "
            f"{motif['trained'].mean():+.4f}, the same networks untrained {motif['untrained'].mean():+.4f}; {groups}; "
            f"no-pulse control (random order), trained {motif['trained_control'].mean():+.4f} (pulse into channel "
            f"{pulse.channel}, amplitude {pulse.amplitude:g}, {pulse.steps} free steps, ties broken by U(0, "
            f"{pulse.jitter:g}) jitter: our choices; effect: trained minus untrained, per network)")
    rows.append(_row(*fig5, ours, v, "replicate", _networks_text(a.networks[a.networks["hash"].isin(motif["hash"])])))
    return rows


def _language_rows(root) -> list[dict[str, Any]]:
    """Table 1 / Fig. 4 and Table 3 / Fig. 6 from the language-model replicate runs (:mod:`nnrnn.lm.replicate`)."""
    return _lm_replicate.claims_rows(root)


def claim_runs(root=None) -> dict[str, list[str]]:
    """The runs (``"<kind>/<hash>"``) each claim of :func:`claims` reads, as the archive's manifest
    records them: per benchmark its pilot (which selects stage 2) and its stage-2 runs, the
    networks of Table 2 and Fig. 5, and the language models of Tables 1 and 3."""
    out = {}
    for task in _replicate.TASKS:
        pilot = _sweep.load_runs(task, configs=_replicate.pilot_grid(task), root=root)
        out[f"{task}: Fig. 3"] = [f"{task}/{h}" for h in [*pilot["hash"], *replicate_runs(task, root)["hash"]]]
    nets = _weights.collect_runs(complete_replicate_runs, _weights.TASKS, root)
    out["Table 2, Fig. 5"] = [f"{t}/{h}" for t, h in zip(nets["task"], nets["hash"])]
    for cell, table in (("rnn", "Table 1"), ("lstm", "Table 3")):
        done = [c for c in _lm_replicate.configs(cell) if _lm_runs.is_done(c, root)]
        out[table] = [f"{_lm_runs.run_dir(c, root).parent.name}/{c.hash()}" for c in done]
    return out


def integrity_problems(root=None) -> list[str]:
    """What :func:`nnrnn.archive.check_archive` finds wrong with the archive under ``root`` (``[]``: intact)."""
    return _archive.check_archive(results_root(root))


def claims(root=None, *, tasks: Sequence[str] = _replicate.TASKS) -> pd.DataFrame:
    """The results page's table: one row per claim, with the paper's value, ours, test and verdict.

    When the archive fails its integrity check (:func:`integrity_problems`), every row read from
    it shows :data:`WITHHELD` in place of its verdict and test: a verdict from edited, missing or
    added runs is no verdict.
    """
    rows = _theory_rows() + _decoding_rows()
    for task in tasks:
        rows += _benchmark_rows(task, root)
    rows += _weight_rows(root)
    rows += _language_rows(root)
    table = pd.DataFrame(rows)
    if integrity_problems(root):
        from_archive = ~table["profile"].str.startswith("theory")
        table.loc[from_archive, ["verdict", "test"]] = [WITHHELD, "-"]
    return table
