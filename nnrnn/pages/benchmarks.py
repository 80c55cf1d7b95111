r"""The benchmark chapters' main result (copy, addition, psMNIST): the ``replicate`` runs of the archive.

:func:`replicate_section` reads a chapter's ``replicate`` runs from the committed results archive
(:mod:`nnrnn.replicate`): the protocol and budget beside the paper's settings, the pilot's scores
and selection, Fig. 3-style curves, the success counts with the results page's verdicts
(:mod:`nnrnn.verdicts`, called as :func:`nnrnn.pages.claims.claims` calls them), the spectral
radius and Henrici index of W during training, and the paper's values beside ours. Where the
archive lacks the runs it says so, from the counts, and shows what is there.

Nothing here trains, and the archive is only read.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import archive as _archive
from .. import paper as _paper
from .. import replicate as _replicate
from .. import results as _results
from .. import sweep as _sweep
from .. import tasks as _tasks
from ..archive import archive_label, archive_root
from ..plotting import INIT_LABELS
from ..plotting import benchmarks as _plot
from ..verdicts import VERDICTS, Verdict, difference_verdict
from . import report
from .claims import training_text
from .live_sweep import LOSS_UNITS, NAMES, check_task, mean_sem
from .section import Figure, Section, part
from .settings import settings_table

__all__ = ["ReplicateSection", "replicate_section"]

_NORMAL = _results.NORMAL
_AXES = ("task", "init", "scale", "lr", "seed")

@dataclass
class ReplicateSection(Section):
    """A chapter's main result: the ``replicate`` runs of ``task`` in the archive (:func:`replicate_section`).

    ``archive`` names the archive as the page does (its commit, never a path); ``pilot_grid`` is
    stage 1's grid, ``scores`` its stored runs' scores; ``selection`` is ``None`` until the pilot is
    complete (``selection_note`` says why); ``plan`` is stage 2's configs (before the selection, of
    a placeholder setting, for the budget only); ``success_verdict``/``loss_verdict`` are the
    results page's verdicts. Its parts, in page order (:data:`PARTS`): :meth:`protocol`,
    :meth:`status`, :meth:`pilot`, :meth:`curves`, :meth:`success`, :meth:`weights`, :meth:`paper`.
    """

    PARTS = ("protocol", "status", "pilot", "curves", "success", "weights", "paper")

    task: str
    archive: str
    pilot_grid: _sweep.Grid
    pilot_runs: pd.DataFrame
    scores: pd.DataFrame
    selection: pd.DataFrame | None
    selection_note: str
    plan: list
    runs: pd.DataFrame
    history: pd.DataFrame
    baseline: float
    success_verdict: Verdict | None
    loss_verdict: Verdict | None
    loss_note: str
    training: str = ""  # where an unfinished stage 2 stands (:func:`nnrnn.pages.claims.training_text`)

    @property
    def pilot_complete(self) -> bool:
        return len(self.pilot_runs) == len(self.pilot_grid)

    @property
    def seeds(self) -> list[int]:
        return sorted({c.seed for c in self.plan})

    def _seeds_text(self) -> str:
        s = self.seeds
        return f"{s[0]}-{s[-1]}" if s == list(range(s[0], s[-1] + 1)) and len(s) > 1 else ", ".join(map(str, s))

    @property
    def budget_pct(self) -> float:
        """Stage 2's epoch cap as a percentage of the paper's (100 epochs)."""
        return 100.0 * self.plan[0].epochs / _paper.SYNTHETIC_BASE["epochs"]

    def values(self) -> dict[str, Any]:
        """The numbers the chapter's prose quotes, by glue name (without the chapter's prefix)."""
        c = self.plan[0]
        v: dict[str, Any] = {"n_pilot": int(len(self.pilot_runs)), "n_pilot_planned": int(len(self.pilot_grid)),
                             "n_stage2": int(len(self.runs)), "n_stage2_planned": int(len(self.plan)), "T": int(c.seq_len),
                             "hidden": int(c.hidden_size), "epochs": int(c.epochs), "budget_pct": float(self.budget_pct),
                             "seeds": self._seeds_text(), "n_seeds": len(self.seeds), "archive": self.archive,
                             "verdict": self.success_verdict.label if self.success_verdict is not None else VERDICTS[4]}
        if len(self.runs):
            counts = _results.success_counts(self.runs)
            for init in counts.index:
                v.update({f"success_{init}": int(counts.loc[init, "n_success"]), f"runs_{init}": int(counts.loc[init, "n_runs"])})
            v.update(_results.group_counts(counts), n_diverged=int(self.runs["diverged"].sum()))
        if self.success_verdict is not None:
            v["p_value"] = float(self.success_verdict.p_value)
        if self.loss_verdict is not None:
            v.update(loss_verdict=self.loss_verdict.label, loss_effect=float(self.loss_verdict.effect))
        return v

    def settings(self) -> pd.DataFrame:
        """Stage 1, stage 2 and the paper's settings side by side (:func:`nnrnn.pages.settings.settings_table`)."""
        pilot = settings_table(self.pilot_grid)
        c = self.plan[0]
        base = {f.name: getattr(c, f.name) for f in dataclasses.fields(c) if f.name not in _AXES}
        inits = list(dict.fromkeys(cfg.init for cfg in self.plan))
        pick = {i: next(cfg for cfg in self.plan if cfg.init == i) for i in inits}
        stage2 = _sweep.Grid(self.task, {i: (pick[i].scale,) for i in inits}, (c.lr,), self.seeds, base, profile="replicate")
        col = settings_table(stage2).iloc[:, 0].copy()
        for i in inits:
            col[f"scales: {i}"] = (f"{pick[i].scale:g} (learning rate {pick[i].lr:g})" if self.selection is not None
                                   else "selected by the pilot")
        col["learning rates"] = ("one per initializer, selected by the pilot (beside its scale)" if self.selection is not None
                                 else "selected by the pilot")
        table = pd.DataFrame({"replicate: stage 1 (pilot)": pilot.iloc[:, 0], "replicate: stage 2": col,
                              "paper": pilot.iloc[:, 1]})
        table = table.rename(index={f"{what}: {i}": f"{what}: {INIT_LABELS.get(i, i)}" for what in ("scales", "runs")
                                    for i in _plot.SCALE_SYMBOLS})
        table.loc["epoch cap as a share of the paper's"] = [
            f"{100 * self.pilot_grid.configs()[0].epochs / _paper.SYNTHETIC_BASE['epochs']:g} %", f"{self.budget_pct:g} %", "100 %"]
        return table

    def status_table(self) -> pd.DataFrame:
        """Runs stored of those planned, per stage."""
        p, c = self.pilot_grid.configs()[0], self.plan[0]
        return pd.DataFrame({
            "runs in the archive": [len(self.pilot_runs), len(self.runs)],
            "runs planned": [len(self.pilot_grid), len(self.plan)],
            "budget per run": [f"{p.epochs} epoch(s) of {p.updates_per_epoch:,} updates",
                               f"at most {c.epochs} epochs of {c.updates_per_epoch:,} updates"],
            "seeds": [", ".join(map(str, self.pilot_grid.seeds)), self._seeds_text()],
        }, index=pd.Index(["stage 1 (pilot)", "stage 2"], name="stage"))

    def status_text(self) -> str:
        """Where the archive stands, in one paragraph generated from the counts."""
        name, np_, nP, n2, N2 = NAMES[self.task], len(self.pilot_runs), len(self.pilot_grid), len(self.runs), len(self.plan)
        head = (f"This section reads **archive v1** ({self.archive}), the earlier run set of protocol v1, kept readable; "
                "the [results page](00-results) judges the paper's claims by the analysis plan, on the protocol-v2 runs. "
                "Archive v1 holds ")
        if np_ == 0 and n2 == 0:
            return (head + f"**none of the replicate runs of {name} yet**: 0 of {nP} pilot runs and 0 of {N2} stage-2 runs. "
                    "The replicate runs are not in the archive yet, so this section states the protocol and shows no result; "
                    f"the verdict on the paper's claim stays *{VERDICTS[4]}* until they are in.")
        if not self.pilot_complete:
            return (head + f"{np_} of {nP} pilot runs of {name} and no stage-2 run: the pilot is still training, so the "
                    "selection and the stage-2 runs are not in the archive yet. The pilot's scores so far are below; the "
                    f"verdict on the paper's claim stays *{VERDICTS[4]}* until the stage-2 runs are in.")
        if self.selection is None:
            return head + f"the whole pilot of {name} ({nP} runs), but no setting can be selected: {self.selection_note}"
        tail = ("." if n2 == N2 else "; the results below are those of the stored runs and will change as the rest arrive.")
        if n2 < N2 and self.training:
            tail += f" Stage 2 is training in the background: {self.training}."
        return head + f"the whole pilot of {name} ({nP} runs) and {n2} of {N2} stage-2 runs" + tail

    def protocol_text(self) -> str:
        """The protocol and budget of this task, generated from :mod:`nnrnn.replicate` (Markdown)."""
        p, c = self.pilot_grid.configs()[0], self.plan[0]
        points, unit = p.epochs * p.evals_per_epoch, "digits" if self.task == "psmnist" else "sequences"
        held = f" (the paper's {_paper.N_MNIST_TRAIN:,} less the {c.n_val:,} we validate on)" if self.task == "psmnist" else ""
        scales = "; ".join(f"{INIT_LABELS.get(i, i)} {_plot.SCALE_SYMBOLS.get(i, 'scale')} ∈ {{{', '.join(f'{s:g}' for s in v)}}}"
                           for i, v in self.pilot_grid.scales.items())
        band = _replicate.BAND * self.baseline
        return (
            f"**Stage 1 (pilot).** The paper's {len(self.pilot_grid.lrs)} learning rates × {len(next(iter(self.pilot_grid.scales.values())))} "
            f"scales per initializer ({scales}) × seed {', '.join(map(str, self.pilot_grid.seeds))} × {p.epochs} epoch of "
            f"{p.updates_per_epoch:,} updates: {len(self.pilot_grid)} runs, validated {points} times on {p.n_val:,} held-out "
            f"{unit}.\n\n"
            f"**Selection, on validation data only.** A setting's score is its mean validation loss over the last "
            f"{points - points // 2} validation points; a setting that diverged is never chosen. Among the settings whose score "
            f"is within {100 * _replicate.BAND:g} % of the random baseline ({band:.3g}) of the best score, the smallest learning "
            "rate is chosen. A short pilot rewards fast starters; among settings it cannot tell apart, the rule prefers the "
            "slowest, most stable one, for every initializer alike, and a setting that is clearly better still wins.\n\n"
            f"**Stage 2.** Each initializer's selected setting × seeds {self._seeds_text()} × at most {c.epochs} epochs "
            f"of {c.updates_per_epoch:,} updates ({self.budget_pct:g} % of the paper's 100-epoch cap, early stop below "
            f"{c.early_stop:g}), the same for every initializer: {len(self.plan)} runs. Everything that defines the "
            f"experiment is the paper's or its code's: T = {c.seq_len}, N = {c.hidden_size}, {c.n_train:,} training "
            f"{unit}{held}, RMSprop, batch {c.batch_size}, clipping at "
            f"{c.clip_norm:g} (`nnrnn.replicate`; all of the reduction is our choice). The stage-2 run of seed "
            f"{self.pilot_grid.seeds[0]} at the selected setting shares its data, initial weights and batch order with the pilot "
            "run that selected the setting, so its first epoch replays that run bit for bit: one seed is the run the selection "
            "was made on (protocol v2 pilots on seeds that its stage 2 does not use)."
        )

    def curve_data(self, column: str = "val_loss") -> pd.DataFrame:
        """Mean and s.e.m. over seeds of a history column at the selected settings (empty without runs)."""
        if self.selection is None or self.history.empty:
            return pd.DataFrame(columns=["init", "epoch", "mean", "sem", "n"])
        return _results.best_curves(self.history, self.selection, column=column, x="epoch")

    def divergences(self) -> pd.DataFrame:
        """One row per diverged stage-2 run: when it diverged and W at its last validation point before."""
        rows = []
        for r in self.runs[self.runs["diverged"]].itertuples(index=False):
            h = self.history[self.history["hash"] == r.hash].sort_values("update")
            fin = h[np.isfinite(h["val_loss"].to_numpy(float))]
            last = fin.iloc[-1] if len(fin) else h.iloc[0]
            rows.append({"init": r.init, "scale": r.scale, "lr": r.lr, "seed": r.seed, "diverged_at": int(h["update"].iloc[-1]),
                         "last_update": int(last["update"]), "epoch": float(last["epoch"]),
                         "w_spectral_radius": float(last["w_spectral_radius"]), "w_henrici": float(last["w_henrici"]),
                         "radius_start": float(h["w_spectral_radius"].iloc[0])})
        return pd.DataFrame(rows, columns=["init", "scale", "lr", "seed", "diverged_at", "last_update", "epoch",
                                           "w_spectral_radius", "w_henrici", "radius_start"])

    def paper_table(self) -> pd.DataFrame:
        """Per initializer: ours (replicate) beside the paper's success counts, final loss and Table 2."""
        counts = _results.success_counts(self.runs)
        paper = _paper.PAPER_SUCCESS[self.task] or {}
        curves_fig, bars_fig = _paper.FIG3_PANELS[self.task]
        rows = {}
        for init in counts.index:
            g = self.runs[(self.runs["init"] == init) & ~self.runs["diverged"]]
            loss = mean_sem(g["final_val_loss"])
            after = [h.sort_values("update")["w_henrici"].dropna().iloc[-1]
                     for _, h in self.history[self.history["hash"].isin(g["hash"])].groupby("hash")
                     if h["w_henrici"].notna().any()]
            d = mean_sem(after)
            t2 = _paper.PAPER_TABLE2.get((self.task, init))
            k, n = paper.get(init, (None, None))
            rows[INIT_LABELS.get(init, init)] = {
                "successful runs: replicate": f"{counts.loc[init, 'n_success']} / {counts.loc[init, 'n_runs']}",
                "successful runs: paper": f"{k} / {n} ({100 * k / n:.1f} %)" if k is not None else f"bars only ({bars_fig})",
                "final validation loss: replicate": f"{loss[0]:.4g} ± {loss[1]:.2g}" if math.isfinite(loss[0]) else "–",
                "final validation loss: paper": f"curves only ({curves_fig})",
                "Henrici index after training: replicate": (f"{d[0]:.3g} ± {d[1]:.2g}" + ("" if counts.loc[init, "n_success"]
                                                            else " (no run succeeded)")) if math.isfinite(d[0]) else "–",
                "Henrici index after training: paper": f"{t2[0]:g} ± {t2[1]:g} (Table 2)" if t2 else "not reported",
            }
        return pd.DataFrame(rows).T

    def _figure(self, fig, caption: str, what: str) -> Figure:
        """One of the section's numbered figures (:class:`nnrnn.pages.section.Figure`), named by task and part."""
        return Figure(fig, caption, f"replicate-{self.task}-{what}")

    def _missing(self) -> str:
        return (f"*Not in the archive yet:* {len(self.runs)} of the {len(self.plan)} stage-2 runs of {NAMES[self.task]} are "
                "stored, so there is nothing to show here yet.")

    @part
    def protocol(self) -> list:
        return [self.protocol_text(), report.table(self.settings(), index_name="setting")]

    @part
    def status(self) -> list:
        return [self.status_text(), report.table(self.status_table())]

    @part
    def pilot(self) -> list:
        if self.pilot_runs.empty:
            return [f"*Not in the archive yet:* none of the {len(self.pilot_grid)} pilot runs of {NAMES[self.task]} is stored."]
        fig = _plot.pilot_scores(self.scores, baseline=self.baseline, selection=self.selection,
                                 band_width=_replicate.BAND * self.baseline,
                                 ylabel=f"pilot score ({LOSS_UNITS[self.task]})")
        state = ("the whole pilot" if self.pilot_complete
                 else f"**provisional**: {len(self.pilot_runs)} of {len(self.pilot_grid)} pilot runs stored, no selection yet")
        cap = (f"Pilot scores of {NAMES[self.task]} ({state}), computed {self.where()} by "
               "`nnrnn.replicate.pilot_scores`: each setting's mean validation loss over the second half of its validation "
               "points, against its learning rate, one line per scale; a cross at the top marks a diverged setting, the dashed "
               "line the random baseline. The paper ran no pilot: it trained its whole grid.")
        if self.selection is None:
            return [self._figure(fig, cap, "pilot")]
        cap += (" Ringed: the setting selected for stage 2 (`nnrnn.replicate.select`); shaded: settings within "
                f"{100 * _replicate.BAND:g} % of the baseline of the best score.")
        sel = report.table(self.selection, {"scale": "scale", "lr": "learning rate", "score": "score of the selected setting",
                                            "best_score": "best score", "n_in_band": "settings in the band"},
                           formats={"scale": "{:g}", "lr": "{:g}", "score": "{:.4g}", "best_score": "{:.4g}"},
                           index=INIT_LABELS, index_name="initializer")
        return [self._figure(fig, cap, "pilot"), sel] + ([note] if (note := self.fast_start_note()) else [])

    def fast_start_note(self) -> str:
        """A sentence naming initializers whose selected setting is the grid's largest learning rate
        and alone in the band, where the rule's preference for slow settings had nothing to choose."""
        fast = [INIT_LABELS[i] for i, r in self.selection.iterrows() if r["n_in_band"] == 1 and r["lr"] == max(self.pilot_grid.lrs)]
        if not fast:
            return ""
        return (f"For {' and '.join(fast)} the pilot selected the largest learning rate of the grid ({max(self.pilot_grid.lrs):g}), "
                "the only setting within the band of the best score: the rule's preference for the smallest learning rate "
                "had nothing else to choose from, so stage 2 trains a fast starter there. Read its results with that in mind.")

    @part
    def curves(self) -> list:
        if self.runs.empty:
            return [self._missing()]
        fig = _plot.fig3_curves(self.curve_data(), baseline=self.baseline, best=self.selection, x="epoch",
                                ylabel=f"validation loss ({LOSS_UNITS[self.task]})")
        c = self.plan[0]
        cap = (f"Validation loss of the stage-2 runs of {NAMES[self.task]} (T = {c.seq_len}, {len(self.runs)} "
               f"runs) at each initializer's setting selected by the pilot, mean ± s.e.m. over seeds {self._seeds_text()}, "
               f"computed {self.where()} by `nnrnn.results.best_curves`. Dashed: the random baseline ({self.baseline:.4g}); "
               f"dotted: the success threshold, half of it. The paper's {_paper.FIG3_PANELS[self.task][0]} shows the same at "
               f"T = {_paper.SEQUENCE_LENGTH[self.task]} for its best settings of the full grid (6 seeds, up to 100 epochs); "
               "its text says that the non-normal initializers generally do better.")
        return [self._figure(fig, cap, "curves")]

    @part
    def success(self) -> list:
        if self.runs.empty:
            return [self._missing()]
        counts = _results.success_counts(self.runs)
        fig = _plot.fig3_success(counts, paper=_paper.PAPER_SUCCESS[self.task], title=f"{NAMES[self.task]}, profile replicate")
        paper = _paper.PAPER_SUCCESS[self.task]
        said = ("reported " + ", ".join(f"{INIT_LABELS[i]} {k} / {n}" for i, (k, n) in paper.items()) +
                " over its full grid; the right panel puts the shares side by side") if paper else "shows these counts as bars only, without numbers"
        cap = (f"Stage-2 runs of {NAMES[self.task]} whose final validation loss is below half the random baseline, "
               f"per initializer, computed {self.where()}. The paper's {_paper.FIG3_PANELS[self.task][1]} {said}.")
        return [self._figure(fig, cap, "success"), self.verdict_text()]

    def verdict_text(self) -> str:
        """The verdict sentences: archive v1's success and loss verdicts (its page, ``00-results-v1``), with their tests."""
        if self.success_verdict is None:
            return f"There is no verdict yet: the archive holds no stage-2 run of both groups of initializers ({self.selection_note})."
        counts = _results.success_counts(self.runs)
        g = _results.group_counts(counts)
        out = (f"In archive v1, {g['success_nonnormal']} of the {g['runs_nonnormal']} chain and feedback-chain "
               f"stage-2 runs succeeded, against {g['success_normal']} of the {g['runs_normal']} identity and orthogonal runs; "
               f"{self.success_verdict.describe()}; protocol v1's label: **{self.success_verdict.label}** (the "
               "[results page](00-results) gives the analysis plan's verdict). ")
        power = _results.success_power_text(self.task, counts["n_runs"].to_dict())
        if power:  # copy: the paper's counts say how much a handful of seeds can show
            out += (f"With this many runs the test has little power: {power}. The paper's rates are over its whole grid; "
                    "its best settings may succeed more often. ")
        if self.loss_verdict is None:
            return out + self.loss_note
        div = self.runs[self.runs["diverged"]].groupby("init", sort=False).size()
        left_out = ("; runs that diverged are left out of it (" + ", ".join(
            f"{INIT_LABELS.get(i, i)} {int(div[i])} of {int((self.runs['init'] == i).sum())}" for i in div.index)
            + "), which protocol v1 did and the plan does not: there a diverged run ranks worst") if len(div) else ""
        return out + (f"Mean final validation loss, normal minus non-normal initializers (positive is the paper's direction): "
                      f"{self.loss_verdict.effect:.3g}{left_out}; {self.loss_verdict.describe()}; protocol v1's label: "
                      f"**{self.loss_verdict.label}**. The page of archive v1 "
                      "computes the same verdicts with the same functions (`nnrnn.verdicts`); the results page judges the "
                      "paper's claim by the analysis plan, on the protocol-v2 runs.")

    @part
    def weights(self) -> list:
        if self.runs.empty:
            return [self._missing()]
        div = self.divergences()
        paper = {i: _paper.PAPER_TABLE2[(self.task, i)] for i in _NORMAL if (self.task, i) in _paper.PAPER_TABLE2}
        fig = _plot.w_diagnostics(self.curve_data("w_spectral_radius"), self.curve_data("w_henrici"), diverged=div, paper_henrici=paper)
        said = ("The paper's Table 2 reports d(W) after training for the successful identity and orthogonal runs only "
                "(diamonds, mean ± s.e.m.)" if paper else "The paper reports no Henrici index for this task (its Table 2 has no "
                "copy row: no normal-initialized copy run succeeded there)")
        cap = (f"Spectral radius (left) and Henrici index (right) of the recurrent matrix W of the stage-2 runs of "
               f"{NAMES[self.task]} at every validation point, recorded during training by `nnrnn.train.weight_diagnostics`: "
               f"mean ± s.e.m. over seeds at the selected settings, computed {self.where()}. {said}; it reports no "
               "spectral radius.")
        items: list = [self._figure(fig, cap, "weights")]
        if div.empty:
            items.append(f"No stage-2 run of {NAMES[self.task]} diverged.")
            return items
        above = int((div["w_spectral_radius"] > 1).sum())
        text = (f"{len(div)} of {len(self.runs)} stage-2 runs diverged: their loss became NaN or infinite, they count as "
                "failures and drop out of the curves. At the last validation point before each divergence the spectral radius "
                f"of W was between {div['w_spectral_radius'].min():.3g} and {div['w_spectral_radius'].max():.3g}; in {above} of "
                f"them it was above 1, which lets W amplify the hidden state along the {self.plan[0].seq_len} steps of a "
                "sequence, one way for the forward pass to overflow.")
        if above < len(div):
            text += (" Where it was not, the radius alone does not explain the divergence: W was last measured "
                     f"{int((div['diverged_at'] - div['last_update']).max()):,} updates or fewer before it, and may have changed since.")
        grew = (div["init"] == "chain") & (div["radius_start"] < 1e-6) & (div["w_spectral_radius"] > 1e-6)
        if grew.any():  # said only of chain runs whose radius did grow before they diverged
            text += (f" A chain starts nilpotent, with spectral radius 0: in {int(grew.sum())} of the chain runs that diverged, "
                     "training had made its radius grow before the divergence.")
        table = report.table(div.assign(init=div["init"].map(lambda i: INIT_LABELS.get(i, i))),
                             {"init": "initializer", "lr": "learning rate", "diverged_at": "diverged at update",
                              "last_update": "last validation point (update)", "w_spectral_radius": "spectral radius there",
                              "w_henrici": "Henrici index there", "radius_start": "spectral radius at the start"},
                             keep=[c for c in div.columns if c != "epoch"], index=False,
                             formats={"scale": "{:g}", "lr": "{:g}", "w_spectral_radius": "{:.3g}", "w_henrici": "{:.3g}",
                                      "radius_start": "{:.3g}", "diverged_at": "{:,}", "last_update": "{:,}"})
        return items + [text, table]

    @part
    def paper(self) -> list:
        if self.runs.empty:
            return [self._missing()]
        grid = ("the paper's counts are over its whole grid of 594 or 462 runs per initializer" if _paper.PAPER_SUCCESS[self.task]
                else "the paper draws its success shares over its whole grid as bars, without counts")
        note = (f"The paper's numbers and ours (profile `replicate`, {len(self.runs)} stage-2 runs, seeds {self._seeds_text()}; "
                f"{grid}, ours are over each initializer's selected setting). Ours: mean ± s.e.m. over the runs that did not "
                "diverge.")
        return [note, report.table(self.paper_table(), index_name="initializer")]


def replicate_section(task: str, root: str | Path | None = None) -> ReplicateSection:
    """Read the ``replicate`` runs of ``task`` from the archive (default :func:`nnrnn.archive.archive_root`).

    Never trains and never writes. The pilot, its selection and the stage-2 plan are
    :func:`nnrnn.archive.stage2`'s, so the stage-2 runs are the results page's
    (:func:`nnrnn.archive.replicate_runs`).
    """
    task = check_task(task)
    root = Path(root) if root is not None else archive_root()
    st = _archive.stage2(task, root)
    pilot, pilot_runs, scores, selection, note = st.pilot, st.pilot_runs, st.scores, st.selection, st.note
    baseline = _tasks.random_baseline(task, T=pilot.configs()[0].seq_len)
    # before the selection, one placeholder setting per initializer gives stage 2's planned runs and budget
    placeholder = pd.DataFrame({"scale": [v[0] for v in pilot.scales.values()], "lr": pilot.lrs[0]}, index=list(pilot.scales))
    plan = st.plan if selection is not None else _replicate.stage2_grid(task, placeholder)
    runs = _sweep.load_runs(task, configs=plan, root=root) if selection is not None else pilot_runs.iloc[0:0]
    history = _sweep.load_history(runs, root=root) if len(runs) else pd.DataFrame(columns=["hash", "update", "val_loss"])
    complete = len(runs) > 0 and len(runs) >= len(plan)  # verdicts wait for all of stage 2, as on the results page
    success = _results.success_test(_results.success_counts(runs), at_paper_scale=True) if complete else None
    loss = None
    loss_note = f"{len(runs)} of {len(plan)} stage-2 runs are in; the verdicts wait for all." if 0 < len(runs) < len(plan) else ""
    if success is not None:
        normal, nonnormal = _results.group_losses(runs)
        try:
            loss = difference_verdict(normal, nonnormal, at_paper_scale=True)
        except ValueError:
            loss_note = (f"The loss difference needs two runs that did not diverge in each group; the archive holds "
                         f"{len(normal)} normal and {len(nonnormal)} non-normal ones.")
    training = training_text(task, plan, root) if selection is not None and len(runs) < len(plan) else ""
    return ReplicateSection(task, archive_label(root), pilot, pilot_runs, scores, selection, note, plan, runs, history, baseline, success,
                            loss, loss_note, training)
