"""The results page's claim table: every claim of the paper that the book tests gets one row.

A row holds the paper's value (cited), ours (the profile, the number of runs and seeds), a
statistical test and a **verdict computed from them** (:func:`nnrnn.verdicts.verdict`); no verdict
is written by hand, and the chapters' own verdict sentences call the same functions.
:func:`claims` builds the table from the committed archive (or any results root), and withholds
every verdict read from an archive that fails its integrity check (:data:`WITHHELD`).

As everywhere in :mod:`nnrnn.pages`, ``root=None`` is the committed archive
(:func:`nnrnn.archive.archive_root`), never the scratch run store.
"""

from __future__ import annotations

import tempfile
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from .. import archive as _archive
from .. import decoding as _decoding
from .. import evidence as _evidence
from .. import memory as _memory
from .. import paper as _paper
from .. import replicate as _replicate
from .. import sweep as _sweep
from .. import validate
from .. import weights as _weights
from ..executors import torch_threads
from ..store import is_stored
from ..init import orthogonal_matrix
from ..lm import replicate as _lm_replicate
from ..lm import runs as _lm_runs
from ..plotting import INIT_LABELS
from ..results import group_losses, success_counts, success_power_text, success_test
from ..archive import archive_root
from ..verdicts import VERDICTS, Verdict, difference_verdict, increase_verdict, verdict

__all__ = ["DECODING_CLAIM", "WITHHELD", "training_text", "paper_success_text", "motif_test", "claim_runs",
           "integrity_problems", "claims", "plan_claims", "verdict_changes"]

#: the setting of the Fig. 2 claim, computed when the page builds (seconds): N = T (the paper's N), the
#: chain's gain α (the paper's argument) and the scale λ of λQ, sequences to fit and to score the readouts,
#: independent repetitions, seed (chapter 02's defaults; all but N and α our choice).
DECODING_CLAIM = {"n": 100, "alpha": 1.0, "lam": 0.9, "n_train": 2000, "n_test": 1000, "repeats": 6, "seed": 0}
_DECODING_CACHE: dict[tuple, dict[str, np.ndarray]] = {}
#: the verdict of a claim read from an archive that fails its integrity check (:func:`claims`).
WITHHELD = "withheld: the archive fails its integrity check"
#: the order differences 1.._MAX_LAG of the Fig. 5 claim (chapter 08's max_lag).
_MAX_LAG = 15



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
    """Where the unfinished stage 2 of ``task`` (its configs ``plan``, :func:`nnrnn.archive.stage2_plan`) stands,
    from its lockstep checkpoints ("" if none)."""
    ck = _archive.checkpoint_status(root, task)
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
    figs = _paper.FIG3_PANELS[task]
    name = _evidence.TASK_NAMES[task]
    paper_success = paper_success_text(task)
    plan, runs = _archive.stage2_runs(task, root)
    n_seeds = len(_replicate.PROTOCOLS["v1"].stage2[task]["seeds"])  # planned per initializer
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


def motif_test(diagonal_means: pd.DataFrame, *, max_lag: int = 15, at_paper_scale: bool,
               seed: int = 0) -> tuple[pd.DataFrame, Verdict | None]:
    """The test of Fig. 5's hidden chain on :func:`nnrnn.weights.network_diagonal_means` (``control=True``).

    Per network, the forward - backward mean weight over order differences ``1..max_lag``
    (:func:`nnrnn.weights.diagonal_means_peak`'s ``asymmetry``) of the units ordered by their pulse
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
    if diagonal_means.empty:
        return pd.DataFrame(columns=cols), None
    peaks = _weights.diagonal_means_peak(_weights.aggregate_diagonal_means(diagonal_means, by=by), max_lag)
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
    runs = _weights.collect_runs(_archive.complete_replicate_runs, _weights.TASKS, root)
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
    motif, v = motif_test(a.diagonal_means, max_lag=_MAX_LAG, at_paper_scale=True)
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
    root = archive_root() if root is None else root
    for task in _replicate.TASKS:
        pilot = _sweep.load_runs(task, configs=_replicate.pilot_grid(task), root=root)
        out[f"{task}: Fig. 3"] = [f"{task}/{h}" for h in [*pilot["hash"], *_archive.replicate_runs(task, root)["hash"]]]
    nets = _weights.collect_runs(_archive.complete_replicate_runs, _weights.TASKS, root)
    out["Table 2, Fig. 5"] = [f"{t}/{h}" for t, h in zip(nets["task"], nets["hash"])]
    for cell, table in (("rnn", "Table 1"), ("lstm", "Table 3")):
        done = [c for c in _lm_replicate.configs(cell) if is_stored(_lm_runs.run_dir(c, root))]
        out[table] = [f"{_lm_runs.run_dir(c, root).parent.name}/{c.hash()}" for c in done]
    return out


def integrity_problems(root=None) -> list[str]:
    """What :func:`nnrnn.archive.check_archive` finds wrong with the archive under ``root`` (``[]``: intact), given
    the runs each claim reads now (:func:`claim_runs`): a changed, missing or added run that a claim reads, or a
    claim that reads other runs than the manifest records, withholds the verdicts; a run no claim reads (a
    live build's, stored beside the archive in a checkout) does not."""
    root = archive_root() if root is None else root
    claims = None
    if _archive.unlisted_runs(root):  # the claims are derived only where a run folder is unlisted
        try:
            claims = claim_runs(root)
        except (ValueError, OSError):  # a damaged run (RunCorrupt): withheld on the strict check
            pass
    return _archive.check_archive(root, claims)


#: the "see also" of the copy and addition rows: (page, link text) of the chapter on divergence.
SEE_DIVERGENCE = ("10-divergence", "chapter 10: where and why these runs diverge")


def _with_see_also(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its ``"see also"`` column: where the book looks further, the chapter on divergence for
    the benchmarks whose runs diverge (copy and addition, issue 24)."""
    table["see also"] = [SEE_DIVERGENCE if str(c).split(" ", 1)[0].rstrip(":") in ("copy", "addition") else ""
                         for c in table["claim"]]
    return table


def claims(root=None, *, tasks: Sequence[str] = _replicate.TASKS) -> pd.DataFrame:
    """The results page's table: one row per claim, with the paper's value, ours, test and verdict.

    When the archive fails its integrity check (:func:`integrity_problems`), every row read from
    it shows :data:`WITHHELD` in place of its verdict and test: a verdict from edited, missing or
    added runs is no verdict.
    """
    root = archive_root() if root is None else root
    rows = _theory_rows() + _decoding_rows()
    for task in tasks:
        rows += _benchmark_rows(task, root)
    rows += _weight_rows(root)
    rows += _language_rows(root)
    table = _with_see_also(pd.DataFrame(rows))
    if integrity_problems(root):
        from_archive = ~table["profile"].str.startswith("theory")
        table.loc[from_archive, ["verdict", "test"]] = [WITHHELD, "-"]
    return table


def plan_claims(root=None, *, tasks: Sequence[str] = _replicate.TASKS) -> pd.DataFrame:
    """The results page's table under the analysis plan (``book/analysis-plan.md``, issue 21).

    The two theory claims as in :func:`claims` (computed when the page builds), then
    :func:`nnrnn.evidence.claims`: the benchmarks, Table 2 and Fig. 5 from the protocol-v2 runs
    (``<root>/v2``), the language models from the archive's runs under ``root``. A benchmark whose
    planned v2 runs are not all stored gets no verdict (:data:`nnrnn.evidence.PENDING`, with how
    many are in). When either store fails its integrity check against its manifest, no stored run
    is read at all (a changed file is refused when read): every claim read from the archive is
    listed with :data:`WITHHELD` and nothing else.
    """
    root = archive_root() if root is None else root
    theory = pd.DataFrame(_theory_rows() + _decoding_rows())
    if integrity_problems(root) or integrity_problems(_replicate.protocol_root(_evidence.PROTOCOL, root)):
        with tempfile.TemporaryDirectory() as empty:  # each claim's row from a store with no runs: its name only
            stored = _evidence.claims(empty, tasks=tasks, lm_root=empty)
        stored[["ours", "runs", "test", "secondary", "interval"]] = "-"
        stored["verdict"] = WITHHELD
    else:
        stored = _evidence.claims(root, tasks=tasks, lm_root=root)
    # a theory row has no training budget, secondary test or interval of the plan: "-"
    return _with_see_also(pd.concat([theory, stored], ignore_index=True).fillna("-"))


def verdict_changes(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Each claim's verdict in ``old`` (:func:`claims`, archive v1) beside its verdicts in ``new``
    (:func:`plan_claims`), matched by where the paper states the claim. The plan splits Table 2 and
    Fig. 5 into one claim per task and initializer: column ``plan`` lists each ``(group, verdict)``
    (group "" for a claim the plan keeps whole; none where the plan has no such claim), and
    ``analysis plan, archive v2`` says the same in words.

    Examples:
        >>> old = pd.DataFrame({"claim": ["W changes"], "where in the paper": ["Table 2"], "verdict": ["reproduced"]})
        >>> new = pd.DataFrame({"claim": ["Table 2, addition, identity: more", "Table 2, addition, orthogonal: more"],
        ...                     "where in the paper": ["Table 2"] * 2, "verdict": ["consistent", "not testable"]})
        >>> verdict_changes(old, new).iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
        {'claim': 'W changes', 'where in the paper': 'Table 2', 'archive v1': 'reproduced',
         'analysis plan, archive v2': 'addition, identity: consistent; addition, orthogonal: not testable',
         'plan': [('addition, identity', 'consistent'), ('addition, orthogonal', 'not testable')]}
    """
    for name, table in (("old", old), ("new", new)):
        missing = {"claim", "where in the paper", "verdict"} - set(table.columns)
        if missing:
            raise ValueError(f"{name} lacks the column(s) {sorted(missing)}; it has {list(table.columns)}")
    rows = []
    for r in old.to_dict("records"):
        where = r["where in the paper"]
        group = new[new["where in the paper"] == where]
        if len(group) <= 1:
            plan = [("", v) for v in group["verdict"]]
        else:  # "Table 2, addition, identity: ..." -> "addition, identity"
            plan = [(str(c).split(":", 1)[0].split(", ", 1)[-1], v) for c, v in zip(group["claim"], group["verdict"])]
        text = "; ".join(f"{g}: {v}" if g else v for g, v in plan) or "no claim under the plan"
        rows.append({"claim": r["claim"], "where in the paper": where, "archive v1": r["verdict"],
                     "analysis plan, archive v2": text, "plan": plan})
    return pd.DataFrame(rows, columns=["claim", "where in the paper", "archive v1", "analysis plan, archive v2", "plan"])
