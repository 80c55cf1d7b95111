r"""The ``replicate`` profile: the paper's sequence lengths and models, a reduced grid and budget.

The paper's evidence for the synthetic tasks is a grid of 2,112 runs per task, each up to 100
epochs (thousands of core-hours). The ``replicate`` profile keeps everything that defines the
*experiment* (sequence length, model, nonlinearity, input matrices, RMSprop with the Keras
constants, batch 16, clipping at 10, 60,000 training sequences, the success criterion and the
early-stop threshold) and reduces only the *search*, by one two-stage protocol applied
identically to all four initializers. Everything below is our choice, stated here and on the
results page.

**Stage 1 (pilot).** The paper's 11 learning rates x two scales per initializer (identity and
orthogonal λ ∈ {1.00, 1.02}, chain α ∈ {1.00, 1.02}, feedback chain β ∈ {0.02, 0.04}) x one seed
(3, the seed of the authors' README example ``--task copy --init chain --init_scale 1.02 --lr
5e-5 --rand_seed 3``, which the pilot therefore contains) x one epoch, validated six times on
held-out data (copy and addition: 2,000 sequences; psMNIST: the 10,000 held-out training
digits).

**Selection (validation data only).** A setting's *score* is its mean validation loss over the
second half of the pilot (the last three validation points), so a single lucky point does not
decide. A setting that diverged is never chosen. Among the settings whose score is within 5 % of
the task's random baseline of the best score, we take the **smallest learning rate** (ties: the
lower score). Why this is fair: a short pilot rewards fast starters, large learning rates that
reach the baseline quickly but may stall there or diverge over a run many times longer (a chain's
spectral radius starts at 0 and grows during training; every run records it). Among settings the
pilot cannot tell apart, the rule prefers the slowest, most stable one, for every initializer
alike; a setting that is clearly better in the pilot still wins.

**Stage 2.** Each initializer's selected setting x seeds x a long budget, the same for every
initializer:

* copy (T = 500): the authors' code's cap, 100 epochs of 3,750 updates with early stop at 0.0025 and
  10,000 validation sequences, seeds 1-3. These configs are exactly members of the paper's grid
  (the same config hashes), so the archive holds paper-grid runs;
* addition (T = 750): 10 epochs (10 % of the 100-epoch cap of the authors' code), seeds 1-6;
* psMNIST (T = 784, N = 25 as in the paper's text): 20 epochs (20 % of the cap), 50,000 training
  digits with 10,000 held out for validation, seeds 1-6.

The stage-2 run of seed 3 at the selected setting replays the pilot run that selected it: the
same training data, initial weights and batch order, so its first epoch is that pilot run bit for
bit (the pilot validated on the first 2,000 of the same validation sequences). One seed of six
(of three for copy) is therefore the run the selection was made on; protocol v2 removes this by
piloting on seeds that stage 2 does not use.

**Protocol v2** (``protocol="v2"``, the evidence-v2 retrain; book/analysis-plan.md fixes it and
how its runs are judged, before any of them exists) changes the search, alike for every
initializer: four scales each (identity and orthogonal λ ∈ {0.96, 0.99, 1.00, 1.02}, chain
α ∈ {0.99, 1.00, 1.02, 1.04}, feedback chain β ∈ {0.01, 0.02, 0.04, 0.06}) x the 11 learning rates
x pilot seeds 101 and 102, which stage 2 does not use; a setting's score is the mean of its two
seeds' scores, and one that diverged on either seed is not a candidate. A **divergence screen**
trains each initializer's three best candidates for three epochs on the pilot seeds; one that
diverges there is not selected, and if all three diverge the next three are screened, until one
survives or no candidate is left (that initializer then has no stage-2 runs, and its rows say
so). The selection rule above then chooses among the survivors, by their pilot scores. Stage 2:
seeds 1-6 for every task; copy at the 100-epoch cap of the authors' code, addition for 25 epochs, psMNIST for
20. Its runs live in the ``v2`` folder of the results root (``data/v2`` in the repository), apart
from protocol v1's.

``python -m nnrnn.replicate --task copy`` runs (or resumes) both stages; ``--dry-run`` prints the
plan and what is stored. Runs are trained in lockstep groups with checkpoints every five
minutes, so an interrupted run loses minutes, not hours.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Sequence

import numpy as np
import pandas as pd

from . import paper as _paper
from . import profiles as _profiles
from . import sweep as _sweep
from .cli import HelpFormatter, positive_int
from .data import DataError
from .store import check_writable, drop_file, is_stored, results_root
from .sweep_cli import measure_update_seconds, plan_table
from .tasks import random_baseline

__all__ = [
    "TASKS",
    "PILOT_SCALES",
    "PILOT_SEED",
    "BAND",
    "pilot_grid",
    "pilot_scores",
    "select",
    "stage2_grid",
    "run",
    "protocol_markdown",
    "prune_pilot_weights",
    "Protocol",
    "PROTOCOLS",
    "protocol_root",
    "setting_scores",
    "screen_candidates",
    "screen_grid",
    "screen_survivors",
]

TASKS = ("copy", "addition", "psmnist")
#: the pilot's subset of each initializer's scales (the paper's grids have 9 or 7 values).
PILOT_SCALES: dict[str, tuple[float, ...]] = {
    "identity": (1.00, 1.02),
    "orthogonal": (1.00, 1.02),
    "chain": (1.00, 1.02),
    "fb_chain": (0.02, 0.04),
}
#: the pilot's seed: the seed of the authors' README example.
PILOT_SEED = 3
#: the selection band, as a fraction of the task's random baseline.
BAND = 0.05
#: validation points of the pilot; the score averages the second half.
PILOT_EVALS = 6

#: validation sequences of the copy and addition pilots (our choice; the paper validated on 10,000).
PILOT_N_VAL = 2_000
#: the ``paper`` profile's fixed psMNIST settings (:data:`nnrnn.profiles.SWEEPS`), the base of its pilot and stage 2.
_PSMNIST_BASE: dict[str, Any] = _profiles.SWEEPS["psmnist"]["paper"]["base"]
_PILOT_BASE: dict[str, dict[str, Any]] = {
    task: dict(_paper.SYNTHETIC_BASE, n_val=PILOT_N_VAL, epochs=1, evals_per_epoch=PILOT_EVALS) for task in ("copy", "addition")
}
_PILOT_BASE["psmnist"] = dict(_PSMNIST_BASE, epochs=1, evals_per_epoch=PILOT_EVALS)
_STAGE2: dict[str, dict[str, Any]] = {
    "copy": {"seeds": _paper.PAPER_SEEDS[:3], "base": dict(_paper.SYNTHETIC_BASE)},
    "addition": {"seeds": _paper.PAPER_SEEDS, "base": dict(_paper.SYNTHETIC_BASE, epochs=10)},
    "psmnist": {"seeds": _paper.PAPER_SEEDS, "base": dict(_PSMNIST_BASE, epochs=20)},
}


@dataclass(frozen=True)
class Protocol:
    """One search protocol of the replicate profile (the module docstring states both).

    ``screen`` is how many candidates per initializer a divergence-screen round trains for
    ``screen_epochs`` epochs (0: no screen); ``folder`` is where the protocol's runs live inside
    the results root ("": the root itself).
    """

    name: str
    scales: dict[str, tuple[float, ...]]
    pilot_seeds: tuple[int, ...]
    stage2: dict[str, dict[str, Any]]
    screen: int = 0
    screen_epochs: int = 0
    folder: str = ""


_SEEDS_1_6 = _paper.PAPER_SEEDS
PROTOCOLS: dict[str, Protocol] = {
    "v1": Protocol("v1", PILOT_SCALES, (PILOT_SEED,), _STAGE2),
    "v2": Protocol(
        "v2",
        {"identity": (0.96, 0.99, 1.00, 1.02), "orthogonal": (0.96, 0.99, 1.00, 1.02),
         "chain": (0.99, 1.00, 1.02, 1.04), "fb_chain": (0.01, 0.02, 0.04, 0.06)},
        (101, 102),
        {"copy": {"seeds": _SEEDS_1_6, "base": dict(_paper.SYNTHETIC_BASE)},
         "addition": {"seeds": _SEEDS_1_6, "base": dict(_paper.SYNTHETIC_BASE, epochs=25)},
         "psmnist": {"seeds": _SEEDS_1_6, "base": dict(_PSMNIST_BASE, epochs=20)}},
        screen=3, screen_epochs=3, folder="v2"),
}
#: what the columns of the printed selection mean (``nnrnn replicate``).
SELECTION_LEGEND = ("  score: the selected setting's mean validation loss over the second half of its pilot "
                    "(averaged over the pilot seeds); best_score: the best score of that initializer; n_in_band: "
                    f"settings within {BAND:.0%} of the random baseline of the best, among which the smallest "
                    "learning rate is chosen")
#: validation points per epoch of a divergence-screen run (six over its three epochs).
SCREEN_EVALS_PER_EPOCH = 2


def _protocol(protocol: str | Protocol) -> Protocol:
    if isinstance(protocol, Protocol):
        return protocol
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
    return PROTOCOLS[protocol]


def protocol_root(protocol: str | Protocol = "v1", root=None) -> Path:
    """Where ``protocol``'s runs live: the results root (:func:`nnrnn.store.results_root`), or its
    ``folder`` inside it (protocol v2: ``<root>/v2``)."""
    p, base = _protocol(protocol), results_root(root)
    return base / p.folder if p.folder else base


def protocol_markdown(protocol: str = "v1") -> str:
    """The protocol as the results pages show it, from this module's docstring: v1's stages and
    selection rule; v2's changes to them, then the selection rule both share.

    Examples:
        >>> protocol_markdown("v2").startswith("**Protocol v2**")
        True
        >>> protocol_markdown("v3")
        Traceback (most recent call last):
        ...
        ValueError: protocol must be one of ['v1', 'v2'], got 'v3'
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
    doc = __doc__.split("``python -m nnrnn.replicate", 1)[0]
    v1, v2 = doc.split("**Stage 1 (pilot).**", 1)[1].split("**Protocol v2**", 1)
    if protocol == "v1":
        return "**Stage 1 (pilot).**" + v1.rstrip()
    selection = "**Selection" + v1.split("**Selection", 1)[1].split("**Stage 2.**", 1)[0]
    v2 = v2.replace("The selection rule above", "The selection rule below")  # it follows here
    return "**Protocol v2**" + v2.rstrip() + "\n\n" + selection.rstrip()


def _check_task(task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
    return task


def pilot_grid(task: str, protocol: str | Protocol = "v1") -> _sweep.Grid:
    """Stage 1: the paper's 11 learning rates x the protocol's scales x its pilot seeds x one epoch
    (v1: :data:`PILOT_SCALES` x seed 3).

    Examples:
        >>> g = pilot_grid("copy")
        >>> len(g), g.configs()[0].seq_len, g.configs()[0].updates_per_epoch
        (88, 500, 3750)
        >>> len(pilot_grid("copy", "v2")), pilot_grid("copy", "v2").seeds
        (352, (101, 102))
    """
    _check_task(task)
    p = _protocol(protocol)
    settings = {"scales": p.scales, "lrs": _paper.PAPER_LRS, "seeds": p.pilot_seeds, "base": _PILOT_BASE[task]}
    return _sweep.grid_from_settings(task, "replicate", settings)


def pilot_scores(runs: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Each pilot setting's score: mean validation loss over the second half of its validation points.

    ``runs`` and ``history`` come from :func:`nnrnn.sweep.load_runs` / :func:`nnrnn.sweep.load_history`.
    A diverged run scores ``inf``.
    """
    rows = []
    for r in runs.itertuples(index=False):
        h = history[(history["hash"] == r.hash) & (history["update"] > 0)]
        late = h["val_loss"].to_numpy(float)[len(h) // 2 :]
        diverged = bool(r.diverged) or len(late) == 0 or not np.isfinite(late).all()
        rows.append({"init": r.init, "scale": r.scale, "lr": r.lr, "hash": r.hash,
                     "score": math.inf if diverged else float(late.mean()), "diverged": diverged})
    return pd.DataFrame(rows)


def select(task: str, scores: pd.DataFrame) -> pd.DataFrame:
    """The stage-2 setting of each initializer by the rule in the module docstring.

    Returns one row per initializer: ``scale``, ``lr``, ``score``, ``best_score`` and
    ``n_in_band`` (how many settings the pilot could not tell apart from the best).

    Examples:
        >>> s = pd.DataFrame({"init": ["chain"] * 3, "scale": [1.0, 1.0, 1.02], "lr": [1e-4, 1e-5, 3e-6],
        ...                   "score": [0.0420, 0.0425, 0.09], "diverged": [False, False, False]})
        >>> select("copy", s)[["scale", "lr", "n_in_band"]].to_dict("records")
        [{'scale': 1.0, 'lr': 1e-05, 'n_in_band': 2}]
    """
    band = BAND * random_baseline(_check_task(task))
    out = []
    for init, g in scores.groupby("init", sort=False):
        ok = g[~g["diverged"] & np.isfinite(g["score"])]
        if ok.empty:
            raise ValueError(f"every pilot setting of {init!r} on {task} diverged; nothing to select")
        best = float(ok["score"].min())
        inside = ok[ok["score"] <= best + band].sort_values(["lr", "score"], kind="stable")
        pick = inside.iloc[0]
        out.append({"init": init, "scale": float(pick["scale"]), "lr": float(pick["lr"]), "score": float(pick["score"]),
                    "best_score": best, "n_in_band": len(inside)})
    order = [i for i in PILOT_SCALES if i in {r["init"] for r in out}]
    return pd.DataFrame(out).set_index("init").loc[order]


def setting_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Per pilot setting (init, scale, lr): the mean of its seeds' :func:`pilot_scores`, ``inf``
    and ``diverged`` if it diverged on any seed (protocol v2: one seed's divergence disqualifies).

    Examples:
        >>> s = pd.DataFrame({"init": ["chain"] * 4, "scale": [1.0, 1.0, 1.02, 1.02], "lr": [1e-4] * 4,
        ...                   "hash": list("abcd"), "score": [0.04, 0.05, 0.03, math.inf],
        ...                   "diverged": [False, False, False, True]})
        >>> setting_scores(s)[["scale", "score", "diverged", "seeds"]].to_dict("records")
        [{'scale': 1.0, 'score': 0.045, 'diverged': False, 'seeds': 2}, {'scale': 1.02, 'score': inf, 'diverged': True, 'seeds': 2}]
    """
    g = scores.groupby(["init", "scale", "lr"], sort=False)
    out = g.agg(score=("score", "mean"), diverged=("diverged", "any"), seeds=("score", "size")).reset_index()
    out.loc[out["diverged"], "score"] = math.inf
    return out


def screen_candidates(settings: pd.DataFrame, protocol: str | Protocol = "v2", round_: int = 0) -> pd.DataFrame:
    """Round ``round_`` of the divergence screen: per initializer, the settings ranked
    ``round_ * k + 1`` to ``(round_ + 1) * k`` by pilot score (k = the protocol's ``screen``),
    among those that diverged on no pilot seed (ties: the smaller learning rate first)."""
    k = _protocol(protocol).screen
    if k <= 0:
        raise ValueError(f"protocol {_protocol(protocol).name!r} has no divergence screen")
    ok = settings[~settings["diverged"] & np.isfinite(settings["score"])]
    ranked = ok.sort_values(["init", "score", "lr"], kind="stable")
    return ranked.groupby("init", sort=False).nth(list(range(round_ * k, (round_ + 1) * k))).reset_index(drop=True)


def screen_grid(task: str, candidates: pd.DataFrame, protocol: str | Protocol = "v2") -> list:
    """The divergence screen's runs: each candidate (init, scale, lr) x the pilot seeds x the
    protocol's ``screen_epochs`` epochs of the pilot's setting, validated twice per epoch."""
    _check_task(task)
    p = _protocol(protocol)
    base = dict(_PILOT_BASE[task], epochs=p.screen_epochs, evals_per_epoch=SCREEN_EVALS_PER_EPOCH)
    cfgs = []
    for r in candidates.itertuples(index=False):
        g = _sweep.grid_from_settings(task, "replicate", {"scales": {r.init: (r.scale,)}, "lrs": (r.lr,),
                                                          "seeds": p.pilot_seeds, "base": base})
        cfgs.extend(g.configs())
    return cfgs


def screen_survivors(candidates: pd.DataFrame, screen_runs: pd.DataFrame) -> pd.DataFrame:
    """The candidates none of whose screen runs (``nnrnn.sweep.load_runs`` rows) diverged, and
    each of whose screen runs is stored."""
    keep = []
    for r in candidates.itertuples(index=False):
        mine = screen_runs[(screen_runs["init"] == r.init) & np.isclose(screen_runs["scale"], r.scale)
                           & np.isclose(screen_runs["lr"], r.lr)]
        keep.append(len(mine) > 0 and not bool(mine["diverged"].any()))
    return candidates[np.array(keep, dtype=bool)].reset_index(drop=True)


def stage2_grid(task: str, selection: pd.DataFrame, protocol: str | Protocol = "v1") -> list:
    """Stage 2: each initializer's selected (scale, lr) x the stage-2 seeds x the long budget (configs)."""
    _check_task(task)
    spec = _protocol(protocol).stage2[task]
    cfgs = []
    for init, row in selection.iterrows():
        g = _sweep.grid_from_settings(task, "replicate", {"scales": {init: (row["scale"],)}, "lrs": (row["lr"],),
                                                          "seeds": spec["seeds"], "base": spec["base"]})
        cfgs.extend(g.configs())
    return cfgs


def prune_pilot_weights(task: str, root=None) -> int:
    """Drop the weights of stored pilot runs (the archive keeps their config and history); returns how many.

    The selection reads only the pilot's validation histories, and a pilot run can be retrained
    from its config; its weights would take most of the archive's size budget.
    """
    n = 0
    for c in pilot_grid(task).configs():
        if is_stored(_sweep.run_dir(c, root)):
            n += drop_file(_sweep.run_dir(c, root), "weights.pt", "pilot run: selection reads its history only")
    return n


def _log(cfg, result: dict[str, Any]) -> None:
    print(f"  {cfg.task} {cfg.init} {cfg.scale:g} lr={cfg.lr:g} seed={cfg.seed}: {result['status']}, "
          f"final val loss {result['final_val_loss']}, {result['n_updates']} updates", flush=True)


def _load(task: str, configs, root) -> tuple[pd.DataFrame, pd.DataFrame]:
    runs = _sweep.load_runs(task, configs=configs, root=root)
    return runs, _sweep.load_history(runs, root=root)


def _screen(task: str, settings: pd.DataFrame, p: Protocol, root, dry_run: bool, say=print, **kw) -> tuple[pd.DataFrame | None, list]:
    """Protocol v2's divergence screen, round after round (module docstring); returns the
    surviving candidates (``None`` while a round is not stored, as in a dry run) and every
    screen config planned so far."""
    survivors, planned, round_ = [], [], 0
    while True:
        have = {r.init for part in survivors for r in part.itertuples(index=False)}
        cands = screen_candidates(settings, p, round_)
        cands = cands[~cands["init"].isin(have)].reset_index(drop=True)
        if cands.empty:
            break
        cfgs = screen_grid(task, cands, p)
        planned += cfgs
        done = sum(is_stored(_sweep.run_dir(c, root)) for c in cfgs)
        say(f"{task} divergence screen, round {round_ + 1}: {len(cands)} candidates "
              f"({', '.join(dict.fromkeys(cands['init']))}), {len(cfgs)} runs, {done} stored")
        if not dry_run:
            _sweep.run_sweep(cfgs, root=root, progress=kw.get("progress"), max_workers=kw.get("max_workers"),
                             group_size=kw.get("group_size"), on_result=_log)
        runs = _sweep.load_runs(task, configs=cfgs, root=root)
        if len(runs) < len(cfgs):
            return None, planned
        survivors.append(screen_survivors(cands, runs))
        round_ += 1
    for init in dict.fromkeys(settings["init"]):
        if init not in {r.init for part in survivors for r in part.itertuples(index=False)}:
            say(f"{task}: every screened candidate of {init} diverged (or none was left): no stage-2 runs")
    keep = pd.concat(survivors, ignore_index=True) if survivors else settings.iloc[:0]
    return keep, planned


def run(task: str, *, protocol: str | Protocol = "v1", stages: Sequence[str] = ("pilot", "stage2"), root=None,
        max_workers: int | None = None, group_size: int | None = None, progress: bool | None = None,
        dry_run: bool = False, verbose: bool = True) -> dict[str, Any]:
    """Run (or resume) the replicate protocol for ``task``; returns the pilot scores and selection.

    Runs are stored under :func:`protocol_root` (protocol v2: ``<root>/v2``). ``dry_run`` trains
    nothing and returns what is stored and planned (with ``verbose=False``, silently: the way the
    results page reads a protocol's stage 2).
    """
    say = print if verbose else (lambda *a, **k: None)
    _check_task(task)
    p = _protocol(protocol)
    root = protocol_root(p, root)
    pilot = pilot_grid(task, p)
    out: dict[str, Any] = {"pilot": pilot, "protocol": p}
    kw = dict(max_workers=max_workers, group_size=group_size, progress=progress)
    if "pilot" in stages:
        done = sum(is_stored(_sweep.run_dir(c, root)) for c in pilot.configs())
        say(f"{task} pilot (protocol {p.name}): {pilot.describe()}\n  {done} of {len(pilot)} runs stored")
        if not dry_run:
            _sweep.run_sweep(pilot, root=root, on_result=_log, **kw)
    if "stage2" in stages:
        runs, history = _load(task, pilot, root)
        if len(runs) < len(pilot):
            say(f"{task} stage 2: the pilot is incomplete ({len(runs)} of {len(pilot)} runs); run it first")
            return out
        scores = pilot_scores(runs, history)
        if p.screen:
            settings = setting_scores(scores)
            survivors, out["screen"] = _screen(task, settings, p, root, dry_run, say, **kw)
            if survivors is None:
                say(f"{task} stage 2: the divergence screen is not finished; run it first")
                return out
            selection = select(task, survivors) if len(survivors) else survivors.iloc[:0]
        else:
            selection = select(task, scores)
        cfgs = stage2_grid(task, selection, p)
        done = sum(is_stored(_sweep.run_dir(c, root)) for c in cfgs)
        say(f"{task} selection:\n{selection.to_string()}\n{SELECTION_LEGEND}\n{task} stage 2: {len(cfgs)} runs, {done} stored")
        out.update(scores=scores, selection=selection, stage2=cfgs)
        if not dry_run:
            _sweep.run_sweep(cfgs, root=root, on_result=_log, **kw)
    return out


def _main(argv: Sequence[str] | None = None) -> int:
    """``nnrnn replicate``: run or resume the protocol; ``--dry-run`` prints each stage's plan and cost."""
    p = argparse.ArgumentParser(
        prog="nnrnn replicate", formatter_class=HelpFormatter,
        description="Run or resume the replicate protocol (pilot, selection on validation data, then stage 2).",
        epilog="examples:\n"
        "  nnrnn replicate --task copy --dry-run                 # each stage's plan, what is stored, core-hours\n"
        "  nnrnn replicate --task copy --stage pilot --progress  # train (or resume) the pilot\n"
        "  nnrnn replicate --task psmnist --workers 2            # both stages, two processes\n"
        "  nnrnn replicate --task psmnist --prune                # drop the pilot runs' weights\n"
        "  nnrnn replicate --task copy --protocol v2 --dry-run   # the evidence-v2 plan and its cost",
    )
    p.add_argument("--task", required=True, choices=TASKS, help="the benchmark")
    p.add_argument("--protocol", default="v1", choices=list(PROTOCOLS),
                   help="v1: the archive's protocol; v2: the evidence-v2 retrain (runs under <root>/v2)")
    p.add_argument("--stage", default="all", choices=["pilot", "stage2", "all"],
                   help="which stage to run (stage2 includes protocol v2's divergence screen and the selection)")
    p.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: the usable CPUs)")
    p.add_argument("--group-size", type=positive_int, default=None,
                   help="runs per lockstep group (default: chosen; 1 trains every run alone)")
    p.add_argument("--root", default=None, help="results root (default: the repository's data/ folder)")
    p.add_argument("--dry-run", action="store_true",
                   help="print each stage's plan, what is stored and an estimate of core-hours; train nothing")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    p.add_argument("--prune", action="store_true", help="drop the weights of stored pilot runs (archive size) and exit")
    a = p.parse_args(argv)
    if not a.dry_run:
        try:
            check_writable(results_root(a.root))  # before training, not after
        except ValueError as exc:
            p.error(str(exc))
    if a.prune:
        print(f"{a.task}: dropped the weights of {prune_pilot_weights(a.task, a.root)} pilot runs")
        return 0
    stages = ("pilot", "stage2") if a.stage == "all" else (a.stage,)
    out = run(a.task, protocol=a.protocol, stages=stages, root=a.root, max_workers=a.workers,
              group_size=a.group_size, progress=a.progress or None, dry_run=a.dry_run)
    if a.dry_run:
        _print_plans(a.task, out, stages, protocol_root(a.protocol, a.root))
    return 0


def _print_plans(task: str, out: dict[str, Any], stages: Sequence[str], root) -> None:
    """``--dry-run``: the plan of each stage, costed at the time per update measured here for its
    first config; a stage whose settings are not chosen yet is costed with stand-in settings (every
    setting of a stage costs the same), none counted as stored."""
    p: Protocol = out["protocol"]
    stand_in_pick = pd.DataFrame({"init": list(p.scales), "scale": [v[0] for v in p.scales.values()],
                                  "lr": min(_paper.PAPER_LRS)})

    def view(cfgs):  # plan_table's view of a list of configs
        return SimpleNamespace(configs=lambda: cfgs, inits=tuple(dict.fromkeys(c.init for c in cfgs)))

    plans: list[tuple[str, Any, bool]] = [("pilot", out["pilot"], False)] if "pilot" in stages else []
    if "stage2" in stages and p.screen:
        stand_in = "screen" not in out
        cfgs = (screen_grid(task, pd.concat([stand_in_pick] * p.screen, ignore_index=True), p) if stand_in
                else out["screen"])
        plans.append(("divergence screen" + " (first round, before the pilot)" * stand_in, view(cfgs), stand_in))
    if "stage2" in stages:
        stand_in = "stage2" not in out
        cfgs = stage2_grid(task, stand_in_pick.set_index("init"), p) if stand_in else out["stage2"]
        plans.append(("stage 2" + " (before the selection)" * stand_in, view(cfgs), stand_in))
    with tempfile.TemporaryDirectory() as empty:
        for name, g, stand_in in plans:
            try:
                seconds, why = measure_update_seconds(g.configs()[0]), ""
            except DataError as exc:  # psMNIST without MNIST here: the plan is still worth printing
                seconds, why = None, f"no estimate: the data is not here ({str(exc).splitlines()[0]})"
            print(f"\n{task} {name} (protocol {p.name}):\n{plan_table(g, empty if stand_in else root, seconds).to_string()}")
            print(why or f"measured here: {seconds * 1e3:.1f} ms per update of one run (lockstep trainer); "
                  "the estimate assumes no early stopping")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
