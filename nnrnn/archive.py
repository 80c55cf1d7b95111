"""The results archive as evidence: where it lives, its manifest, and the checks that make it tamper-evident.

The archive is the committed run store ``data/runs/<task>/<hash>/`` (every ``replicate`` and
``demo`` run, with ``config.json``, ``history.csv`` and, where kept, ``weights.pt``). Each run's
``config.json`` records the SHA-256 of its other files, but nothing covered ``config.json``
itself, whose ``result`` block feeds the verdicts, nor which runs exist. The **manifest**
``data/MANIFEST.json`` closes that: the SHA-256 of every file of every run (``config.json``
included) and, per claim of the results page, the runs it reads. It is written by
``nnrnn verify --write-manifest`` when runs are added on purpose (and committed with them), so
any other change of the archive shows up in ``git diff`` or fails :func:`check_archive`.

:func:`check_run` checks one run on its own: its file list exists and matches the files'
SHA-256; its folder name, its stored ``hash`` and the hash of its stored config agree; its
``result`` agrees with its ``history.csv``. :func:`check_archive` adds the manifest: no run
missing, none added, no file changed. ``nnrnn verify`` runs both on the whole archive, and the
results page withholds its verdicts when they fail.

It is also the one reader of the stored replicate runs of both families (issue 22): the stage-2
plan of a benchmark task and its runs (:func:`stage2_runs`, :func:`replicate_runs`,
:func:`complete_replicate_runs`), what is stored and in training (:func:`archive_status`,
:func:`checkpoint_status` of the lockstep groups, :func:`lm_checkpoint_status` of the language
models). Every ``<root>/runs/<task>/<hash>`` path is :func:`nnrnn.store.run_folder`'s.

**The root rule.** A page reads the committed archive: :func:`archive_root`,
``$NNRNN_ARCHIVE_DIR`` or else the checkout's ``data/``; a ``root`` argument names another.
The functions that report training in progress (:func:`archive_status`,
:func:`checkpoint_status`, :func:`lm_checkpoint_status`) read the run store that trains, by
:func:`nnrnn.store.results_root` (``$NNRNN_RESULTS_DIR``) when no ``root`` is given.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pandas as pd

from . import checkpoints as _checkpoints
from . import lockstep as _lockstep
from . import replicate as _replicate
from . import sweep as _sweep
from . import tasks as _tasks
from .lm import replicate as _lm_replicate
from .lm import runs as _lm_runs
from .lm.config import CELLS, LMConfig
from .store import (REPO, atomic_write_text, file_sha256, is_stored, json_safe, read_run_meta, results_root,
                    run_folder)
from .train import TrainConfig

__all__ = ["MANIFEST", "archive_root", "archive_commit", "archive_label", "run_folders", "run_name", "check_run", "unlisted_runs",
           "build_manifest", "write_manifest", "read_manifest", "check_archive", "Stage2", "stage2", "stage2_plan",
           "stage2_runs", "replicate_runs", "complete_replicate_runs", "worker_seconds", "archive_status",
           "checkpoint_status", "lm_checkpoint_status"]

#: the manifest's file name, in the results root beside ``runs/``.
MANIFEST = "MANIFEST.json"
_FORMAT = 1
#: relative tolerance for a number stored twice (JSON and CSV both write floats by ``repr``, so
#: they agree exactly; this only absorbs a reader's last-digit parsing).
_SAME = 1e-12


def archive_root() -> Path:
    """Where the committed results archive lives: ``$NNRNN_ARCHIVE_DIR``, else the repository's ``data/``.

    It is read, never written, by the results page, so a build with its own scratch store
    (``NNRNN_RESULTS_DIR``, as the tests use) still shows the archive.
    """
    env = os.environ.get("NNRNN_ARCHIVE_DIR")
    return Path(env) if env else REPO / "data"


def archive_commit(root=None) -> str:
    """The last commit that changed the archive's run store, as ``"<sha> (<date>)"``, or a note why not.

    Asked of the git checkout that holds ``root`` (not of the installed package's folder), so an
    archive cloned beside a pip-installed package, as on Colab, still names its commit.

    Examples:
        >>> archive_commit("/nonexistent")
        'no archive at /nonexistent (a checkout of the repository holds it in data/; NNRNN_ARCHIVE_DIR names another)'
    """
    root = Path(root) if root is not None else archive_root()
    if not (root / "runs").is_dir():
        return f"no archive at {root} (a checkout of the repository holds it in data/; NNRNN_ARCHIVE_DIR names another)"
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%h (%cs)", "--", "runs"], cwd=root,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown (git is not available)"
    if out.returncode != 0:
        return "unknown (not a git checkout)"
    return out.stdout.strip() or "not committed yet"


def archive_label(root=None) -> str:
    """How a page names the archive: ``"commit <sha> (<date>)"``, or :func:`archive_commit`'s note why not."""
    commit = archive_commit(root)
    return f"commit {commit}" if re.fullmatch(r"[0-9a-f]{4,40} \(.+\)", commit) else commit


# ----------------------------------------------------------------------------- one run
def run_folders(root) -> list[Path]:
    """Every entry under ``<root>/runs/<kind>/`` that is not a temporary (dot) name, sorted; a
    non-folder among them is reported by :func:`check_archive`, not skipped."""
    base = Path(root) / "runs"
    if not base.is_dir():
        return []
    return sorted(e for k in base.iterdir() if k.is_dir() and not k.name.startswith(".")
                  for e in k.iterdir() if not e.name.startswith("."))


def run_name(folder: Path) -> str:
    """How the manifest names a stored run: ``"<kind>/<hash>"`` (its folder's parent and its own name)."""
    return f"{folder.parent.name}/{folder.name}"


def _close(a: Any, b: Any) -> bool:
    """Two stored numbers are the same number (``None`` and NaN both mean "none")."""
    fa = float("nan") if a is None else float(a)
    fb = float("nan") if b is None else float(b)
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    return abs(fa - fb) <= _SAME * max(1.0, abs(fa), abs(fb))


def _result_problems(meta: Mapping[str, Any], history: pd.DataFrame) -> list[str]:
    """Where a run's ``result`` block disagrees with its ``history.csv`` (synthetic tasks and LMs)."""
    res, bad = meta.get("result") or {}, []

    def differ(key: str, value: Any) -> None:
        if key not in res:
            bad.append(f"result has no {key!r}")
        elif not _close(res[key], value):
            bad.append(f"result {key} = {res[key]!r}, but history.csv gives {float(value)!r}")

    if meta.get("kind") == "lm":
        bits = history["val_bits"]
        differ("final_val_bits", bits.iloc[-1])
        differ("best_val_bits", bits.min())
        return bad
    status = res.get("status")
    if status not in ("finished", "early_stopped", "diverged"):
        return [f"result status {status!r} is not finished, early_stopped or diverged"]
    val = history["val_loss"]
    diverged_rows = bool(val.isna().iloc[-1])
    if diverged_rows != (status == "diverged"):
        bad.append(f"result status {status!r}, but the last validation loss in history.csv is {val.iloc[-1]!r}")
    differ("final_val_loss", float("nan") if status == "diverged" else val.iloc[-1])
    differ("best_val_loss", val.min())
    differ("n_updates", history["update"].iloc[-1])
    cfg = TrainConfig.from_dict(meta["config"])
    baseline = cfg.make_task().baseline
    differ("baseline", baseline)
    final = res.get("final_val_loss")
    success = status != "diverged" and _tasks.succeeded(float("nan") if final is None else final, baseline)
    if bool(res.get("success")) != success:
        bad.append(f"result success = {res.get('success')!r}, but its final loss and baseline give {success!r}")
    if status == "early_stopped" and not (final is not None and final < cfg.early_stop):
        bad.append(f"result status 'early_stopped', but final_val_loss {final!r} is not below early_stop {cfg.early_stop!r}")
    return bad


def check_run(folder: str | os.PathLike) -> list[str]:
    """Everything wrong with one stored run, each problem naming the run (``[]``: intact).

    Checks that ``config.json`` parses and lists its other files under ``files`` (a run without
    that list is refused: it would switch every file check off); that every listed file exists
    with its SHA-256 and no unlisted file lies beside them; that the folder name, the stored
    ``hash`` and the hash of the stored config are one; and that ``result`` agrees with
    ``history.csv`` (final and best validation loss, updates, status, baseline, success).
    """
    folder = Path(folder)
    name = run_name(folder)
    if not folder.is_dir():
        return [f"{name}: not a folder (a stray file where a run belongs)"]
    try:
        meta = json.loads((folder / "config.json").read_text())
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        return [f"{name}: config.json cannot be read ({type(exc).__name__}: {exc})"]
    files = meta.get("files")
    if not isinstance(files, dict) or "history.csv" not in files:
        return [f"{name}: config.json has no file list with history.csv (key 'files'): its files cannot be checked"]
    odd = sorted(f for f in files if f != Path(f).name or f.startswith(".") or f == "config.json")
    if odd:
        return [f"{name}: config.json lists files that are not plain names in the run folder: {odd}"]
    bad = []
    for fname, digest in files.items():
        f = folder / fname
        if not f.is_file():
            bad.append(f"{name}: {fname} is listed in config.json but missing")
        elif file_sha256(f) != digest:
            bad.append(f"{name}: {fname} does not match the SHA-256 in config.json (changed or damaged)")
    extra = sorted(e.name for e in folder.iterdir() if e.name != "config.json" and e.name not in files)
    if extra:
        bad.append(f"{name}: files not listed in config.json: {extra}")
    try:
        cfg = LMConfig.from_dict(meta["config"]) if meta.get("kind") == "lm" else TrainConfig.from_dict(meta["config"])
        config_h = cfg.hash()
    except (KeyError, TypeError, ValueError) as exc:
        return bad + [f"{name}: its stored config is not a valid config ({exc})"]
    if not (folder.name == meta.get("hash") == config_h):
        bad.append(f"{name}: folder name, stored hash {meta.get('hash')!r} and the hash of its config "
                   f"{config_h!r} disagree (a run copied over another, or an edited config)")
    if not bad:
        try:
            bad += [f"{name}: {p}" for p in _result_problems(meta, pd.read_csv(folder / "history.csv"))]
        except (KeyError, IndexError, ValueError) as exc:
            bad.append(f"{name}: history.csv cannot be read as a run history ({type(exc).__name__}: {exc})")
    return bad


# ----------------------------------------------------------------------------- the manifest
def _digests(folder: Path) -> dict[str, str]:
    return {f.name: file_sha256(f) for f in sorted(folder.iterdir()) if f.is_file() and not f.name.startswith(".")}


#: folders of the archive beside runs/ whose every file the manifest records too: the stored results
#: of chapter 10's own runs (:mod:`nnrnn.divergence`, written by :func:`nnrnn.store.run_or_load`).
RESULT_FOLDERS = ("divergence",)


def _result_digests(root) -> dict[str, str]:
    """SHA-256 of every file under :data:`RESULT_FOLDERS` of ``root``, by path relative to ``root``."""
    root = Path(root)
    return {f.relative_to(root).as_posix(): file_sha256(f) for folder in RESULT_FOLDERS
            for f in sorted((root / folder).rglob("*")) if f.is_file() and not f.name.startswith(".")}


def build_manifest(root, claims: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """The manifest of the archive under ``root``: every run's files with their SHA-256, every file
    of :data:`RESULT_FOLDERS`, and, per claim, the runs (``"<kind>/<hash>"``) it reads (``claims``,
    from :func:`nnrnn.pages.claims.claim_runs`)."""
    runs = {run_name(d): _digests(d) for d in run_folders(root) if d.is_dir()}
    return {"format": _FORMAT,
            "about": "SHA-256 of every file of every run in runs/ and of every stored result in "
                     f"{', '.join(f + '/' for f in RESULT_FOLDERS)}, and the runs each claim of the results page reads; "
                     "written by `nnrnn verify --write-manifest`, checked by `nnrnn verify` and the results page",
            "runs": runs, "results": _result_digests(root), "claims": {k: sorted(v) for k, v in (claims or {}).items()}}


def write_manifest(root, claims: Mapping[str, Sequence[str]] | None = None) -> Path:
    """Write :func:`build_manifest` to ``<root>/MANIFEST.json`` (atomically) after every run passes
    :func:`check_run`; raises ``ValueError`` listing the runs that do not (a manifest never blesses a broken run)."""
    bad = [p for d in run_folders(root) for p in check_run(d)]
    if bad:
        raise ValueError("not writing a manifest over runs that fail their own checks:\n  " + "\n  ".join(bad))
    path = Path(root) / MANIFEST
    atomic_write_text(path, json.dumps(json_safe(build_manifest(root, claims)), indent=1, sort_keys=True) + "\n")
    return path


def read_manifest(root) -> dict[str, Any]:
    """The parsed manifest of ``root``; ``ValueError`` saying what is wrong when it is missing or malformed."""
    path = Path(root) / MANIFEST
    try:
        m = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"the archive has no manifest {path} (write it with `nnrnn verify --write-manifest`)") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"the manifest {path} cannot be read ({type(exc).__name__}: {exc})") from None
    if not isinstance(m, dict) or m.get("format") != _FORMAT or not isinstance(m.get("runs"), dict):
        raise ValueError(f"the manifest {path} is not a format-{_FORMAT} manifest with a 'runs' table")
    return m


def unlisted_runs(root) -> list[str]:
    """The run folders under ``root`` (``"<kind>/<hash>"``) that its manifest does not list (all of them without a
    manifest): in a checkout, the runs the book's live sweeps stored beside the archive's."""
    try:
        listed = read_manifest(root)["runs"]
    except ValueError:
        listed = {}
    return sorted(set(run_name(d) for d in run_folders(root)) - set(listed))


def check_archive(root, claims: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """Every problem of the archive under ``root``, each naming its run or claim (``[]``: intact).

    :func:`check_run` for every run, then against the manifest: runs missing, runs added, any
    file (``config.json`` included) added, removed or changed; with ``claims`` (the runs each
    claim reads now), every claim whose runs differ from the manifest's. Given ``claims``, a run
    folder the manifest does not list is a problem only if a claim reads it: one that no claim
    reads cannot move a verdict, and in a checkout the book's live sweeps store their runs beside the
    archive's (:func:`unlisted_runs` names them; they are not part of the archive).
    """
    try:
        manifest = read_manifest(root)
    except ValueError as exc:
        return [str(exc)]
    bad = [p for d in run_folders(root) for p in check_run(d)]
    now = {run_name(d): d for d in run_folders(root)}
    listed = manifest["runs"]
    bad += [f"{r}: listed in the manifest but missing from the archive" for r in sorted(set(listed) - set(now))]
    added = sorted(set(now) - set(listed))
    if claims is not None:  # a run no claim reads is not the archive's (a live build's run): unlisted_runs
        read = {r for runs in claims.values() for r in runs}
        added = [r for r in added if r in read]
    bad += [f"{r}: in the archive but not in the manifest (an added run: `nnrnn verify --write-manifest` after adding runs)"
            for r in added]
    for r in sorted(set(now) & set(listed)):
        if not now[r].is_dir():
            continue
        got, want = _digests(now[r]), listed[r]
        changed = sorted(f for f in set(got) | set(want) if got.get(f) != want.get(f))
        if changed:
            bad.append(f"{r}: files that differ from the manifest (changed, added or removed): {changed}")
    got, want = _result_digests(root), manifest.get("results", {})
    for f in sorted(set(got) | set(want)):
        if f not in got:
            bad.append(f"{f}: a stored result listed in the manifest but missing from the archive")
        elif f not in want:
            bad.append(f"{f}: a stored result not in the manifest (`nnrnn verify --write-manifest` after adding it)")
        elif got[f] != want[f]:
            bad.append(f"{f}: a stored result that differs from the manifest")
    for claim, runs in (claims or {}).items():
        was = set(manifest.get("claims", {}).get(claim, ()))
        if set(runs) != was:
            gone, new = sorted(was - set(runs)), sorted(set(runs) - was)
            bad.append(f"claim {claim!r}: reads other runs than the manifest lists (no longer read: {gone[:5]}"
                       f"{' …' if len(gone) > 5 else ''}; newly read: {new[:5]}{' …' if len(new) > 5 else ''})")
    return bad


# ----------------------------------------------------------------------------- the replicate runs
@dataclass(frozen=True)
class Stage2:
    """Where the replicate protocol of one benchmark task stands in a run store (:func:`stage2`).

    ``pilot`` is the pilot grid and ``pilot_runs`` its stored runs, ``scores`` their pilot scores
    (:func:`nnrnn.replicate.pilot_scores`; empty without runs). ``selection`` is the setting each
    initializer takes into stage 2 once the pilot is complete (``None`` before, or when the
    selection fails, with ``note`` saying why), and ``plan`` its stage-2 configs (``[]`` without a
    selection).
    """

    task: str
    pilot: Any
    pilot_runs: pd.DataFrame
    scores: pd.DataFrame
    selection: pd.DataFrame | None
    note: str
    plan: list


def stage2(task: str, root=None) -> Stage2:
    """The pilot of ``task`` in the run store under ``root`` and the stage-2 plan it selects: the one
    derivation of the plan, which the results page and the chapters' replicate sections read."""
    pilot = _replicate.pilot_grid(task)
    pilot_runs = _sweep.load_runs(task, configs=pilot, root=root)
    scores = (_replicate.pilot_scores(pilot_runs, _sweep.load_history(pilot_runs, root=root)) if len(pilot_runs)
              else pd.DataFrame(columns=["init", "scale", "lr", "hash", "score", "diverged"]))
    selection, note = None, f"the pilot is incomplete ({len(pilot_runs)} of {len(pilot)} runs)"
    if len(pilot_runs) == len(pilot):
        try:
            selection, note = _replicate.select(task, scores), ""
        except ValueError as e:
            note = str(e)
    plan = _replicate.stage2_grid(task, selection) if selection is not None else []
    return Stage2(task, pilot, pilot_runs, scores, selection, note, plan)


def stage2_plan(task: str, root=None) -> list:
    """The stage-2 configs of ``task`` once its pilot is complete in the archive, else ``[]`` (:func:`stage2`)."""
    return stage2(task, root).plan


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


def worker_seconds(runs: pd.DataFrame, root) -> float:
    """Worker time of ``runs``: each lockstep group's wall time, shared among its runs.

    A group resumed before checkpoints carried the clock (``lockstep``'s ``wall_s``) reports only
    its last segment; its wall time is then estimated from its runs' histories, whose clocks
    restart at each resume (:func:`nnrnn.checkpoints.wall_from_rows`, the longest member's).
    """
    groups: dict[tuple, list[float]] = {}
    for r in runs.itertuples(index=False):
        folder = run_folder(r.task, r.hash, root)
        prov = read_run_meta(folder, verify=False).get("provenance", {})
        wall, n = float(prov.get("wall_s", r.wall_s or 0.0)), max(1, int(prov.get("lockstep_runs", 1)))
        if prov.get("resumed"):
            rows = pd.read_csv(folder / "history.csv", usecols=["wall_s"]).to_dict("records")
            wall = max(wall, _checkpoints.wall_from_rows([{"rows": rows}]))
        groups.setdefault((r.task, prov.get("created", r.hash), n), []).append(wall)
    return float(sum(max(walls) / n * len(walls) for (_, _, n), walls in groups.items()))


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
        planned = len(_replicate.PROTOCOLS["v1"].stage2[task]["seeds"]) * len(_replicate.PILOT_SCALES)
        rows.append({"task": task, "pilot runs": f"{len(p)} / {len(pilot)}", "stage-2 runs": f"{len(s2)} / {planned}",
                     "worker hours": float(sum(worker_seconds(r, root) for r in (p, s2)) / 3600)})
    for cell in CELLS:  # the language models: no pilot, one run per worker (nnrnn.lm.replicate)
        cfgs = _lm_replicate.configs(cell)
        stored = [c for c in cfgs if is_stored(_lm_runs.run_dir(c, root))]
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


def lm_checkpoint_status(root=None) -> pd.DataFrame:
    """The language models' replicate runs being trained: one row per epoch checkpoint of a planned
    run (``cell``, ``init``, ``seed``, ``hash``, epochs done of ``epochs``, worker hours so far,
    when saved, UTC, and a ``note``: an unreadable checkpoint is listed as such, with no epoch,
    and one a resume would refuse says why (:func:`nnrnn.lm.runs.checkpoint_state`))."""
    rows = []
    for cell in CELLS:
        for c in _lm_replicate.configs(cell):
            path = _lm_runs.checkpoint_path(c, root)
            if not path.is_file() or is_stored(_lm_runs.run_dir(c, root)):
                continue
            state, problem = _lm_runs.checkpoint_state(c, root)
            saved = pd.Timestamp(path.stat().st_mtime, unit="s").strftime("%Y-%m-%d %H:%M")
            row = {"cell": cell, "init": c.init, "seed": c.seed, "hash": c.hash(), "epochs": c.epochs, "saved (UTC)": saved}
            try:
                row.update(epoch=int(state["epoch"]), **{"worker hours": float(state.get("wall_s", 0.0)) / 3600})
            except (TypeError, KeyError, ValueError):  # no state, or not a checkpoint's
                rows.append({**row, "note": f"unreadable: {problem[1] if problem else 'no epoch in it'}"})
                continue
            rows.append({**row, "note": f"a resume refuses it: {problem[1]}" if problem else ""})
    cols = ["cell", "init", "seed", "hash", "epoch", "epochs", "worker hours", "saved (UTC)", "note"]
    return pd.DataFrame(rows, columns=cols).astype({"epoch": "Int64"})
