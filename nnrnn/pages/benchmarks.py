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
from .. import divergence as _divergence
from .. import evidence
from .. import paper as _paper
from .. import replicate as _replicate
from .. import results as _results
from .. import sweep as _sweep
from .. import tasks as _tasks
from ..archive import archive_label, archive_root
from ..plotting import INIT_LABELS
from ..plotting import benchmarks as _plot
from ..plotting import divergence as _dplot
from ..verdicts import LABEL_MEANINGS, NOT_TESTABLE, VERDICTS, Verdict, difference_verdict
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
    #: the run set the section reads: protocol v1's archive (the earlier run set, labelled so).
    PROTOCOL = "v1"

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
    _root: Path | None = None  # the results root read (for the protocol-v2 progress it names)

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
                             "verdict": self.success_verdict.label if self.success_verdict is not None else VERDICTS[4],
                             "loss_verdict": self.loss_verdict.label if self.loss_verdict is not None else VERDICTS[4],
                             "verdict_source": ("archive v1's labels (protocol v1's tests; the results page gives the "
                                                "analysis plan's verdicts)")}
        if len(self.runs):
            counts = _results.success_counts(self.runs)
            for init in counts.index:
                v.update({f"success_{init}": int(counts.loc[init, "n_success"]), f"runs_{init}": int(counts.loc[init, "n_runs"])})
            v.update(_results.group_counts(counts), n_diverged=int(self.runs["diverged"].sum()))
        if self.success_verdict is not None:
            v["p_value"] = float(self.success_verdict.p_value)
        if self.loss_verdict is not None:
            v["loss_effect"] = float(self.loss_verdict.effect)
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
            f"{100 * self.pilot_grid.configs()[0].epochs / _paper.SYNTHETIC_BASE['epochs']:g} %", f"{self.budget_pct:g} %", "100 % (authors' code)"]
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
        head = "Archive v1 holds "
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

    def reads_text(self) -> str:
        """Which run set the section reads, first in its protocol part (Markdown)."""
        return (f"This section reads the earlier run set, **archive v1** ({self.archive}, protocol v1), kept readable: the "
                "[results page](00-results) judges the paper's claims by the analysis plan, on the protocol-v2 runs, and "
                f"this chapter reads those instead once every planned stage-2 run of {NAMES[self.task]} is stored "
                f"({evidence.progress(self.task, self._root)}).")

    def tests_text(self) -> str:
        """What the verdict sentences test, before them (Markdown)."""
        return ("The verdict sentences below are computed by protocol v1's tests, as on the [page of archive v1](00-results-v1) "
                "(the [results page](00-results) judges the claim by the analysis plan, on the protocol-v2 runs): Fisher's "
                "exact test (two-sided) of the success counts of the non-normal initializers (chain, feedback chain) against "
                "the normal ones (identity, orthogonal), and a bootstrap interval of the difference of their final validation "
                "losses (`nnrnn.verdicts`).")

    def _protocol_terms(self) -> tuple[Any, Any, int, str, str]:
        """What both protocols' texts quote: a pilot config, a stage-2 config, the pilot's validation points, the
        unit of the data ("digits" or "sequences") and the pilot's scales per initializer."""
        p, c = self.pilot_grid.configs()[0], self.plan[0]
        scales = "; ".join(f"{INIT_LABELS.get(i, i)} {_plot.SCALE_SYMBOLS.get(i, 'scale')} ∈ {{{', '.join(f'{s:g}' for s in v)}}}"
                           for i, v in self.pilot_grid.scales.items())
        return p, c, p.epochs * p.evals_per_epoch, "digits" if self.task == "psmnist" else "sequences", scales

    def protocol_text(self) -> str:
        """The protocol and budget of this task, generated from :mod:`nnrnn.replicate` (Markdown)."""
        p, c, points, unit, scales = self._protocol_terms()
        held = f" (the paper's {_paper.N_MNIST_TRAIN:,} less the {c.n_val:,} we validate on)" if self.task == "psmnist" else ""
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
            f"of {c.updates_per_epoch:,} updates ({self.budget_pct:g} % of the 100-epoch cap of the authors' code, early stop below "
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
        return [self.reads_text(), self.protocol_text(), report.table(self.settings(), index_name="setting")]

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
        return [self._figure(fig, cap, "success"), self.tests_text(), self.verdict_text()]

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


def _stage2_read(task: str, pilot, pilot_runs: pd.DataFrame, selection: pd.DataFrame | None, plan: list, where,
                 protocol: str) -> tuple[list, pd.DataFrame, pd.DataFrame, str]:
    """Stage 2 as a section reads it from the store ``where``: its configs (``plan``; before the selection, one
    placeholder setting per initializer gives stage 2's planned runs and budget), its stored runs and their
    histories, and where an unfinished stage 2 stands (:func:`nnrnn.pages.claims.training_text`)."""
    if selection is None:
        placeholder = pd.DataFrame({"scale": [v[0] for v in pilot.scales.values()], "lr": pilot.lrs[0]}, index=list(pilot.scales))
        plan = _replicate.stage2_grid(task, placeholder, protocol)
    runs = _sweep.load_runs(task, configs=plan, root=where) if selection is not None else pilot_runs.iloc[0:0]
    history = _sweep.load_history(runs, root=where) if len(runs) else pd.DataFrame(columns=["hash", "update", "val_loss"])
    training = training_text(task, plan, where) if selection is not None and len(runs) < len(plan) else ""
    return plan, runs, history, training


def replicate_section(task: str, root: str | Path | None = None, protocol: str = "auto") -> ReplicateSection:
    """Read the ``replicate`` runs of ``task`` from the archive (default :func:`nnrnn.archive.archive_root`).

    ``protocol``: ``"v2"`` reads the protocol-v2 runs (``<root>/v2``) with the analysis plan's verdicts
    (:class:`ReplicateSectionV2`), ``"v1"`` archive v1, the earlier run set; ``"auto"`` (the chapters')
    reads v2 once every planned stage-2 run of ``task`` is stored there (:func:`nnrnn.evidence.is_complete`),
    else v1, so no page mixes the two. Never trains and never writes. Protocol v1's pilot, selection
    and stage-2 plan are :func:`nnrnn.archive.stage2`'s, so its stage-2 runs are those of the page of
    archive v1 (:func:`nnrnn.archive.replicate_runs`).
    """
    task = check_task(task)
    root = Path(root) if root is not None else archive_root()
    if protocol == "auto":
        protocol = "v2" if evidence.is_complete(task, root) else "v1"
    if protocol == "v2":
        return _section_v2(task, root)
    if protocol != "v1":
        raise ValueError(f"protocol must be one of 'auto', 'v1', 'v2', got {protocol!r}")
    st = _archive.stage2(task, root)
    pilot, pilot_runs, scores, selection, note = st.pilot, st.pilot_runs, st.scores, st.selection, st.note
    baseline = _tasks.random_baseline(task, T=pilot.configs()[0].seq_len)
    plan, runs, history, training = _stage2_read(task, pilot, pilot_runs, selection, st.plan, root, "v1")
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
    return ReplicateSection(task, archive_label(root), pilot, pilot_runs, scores, selection, note, plan, runs, history, baseline, success,
                            loss, loss_note, training, root)


@dataclass
class ReplicateSectionV2(ReplicateSection):
    """The same parts on the protocol-v2 runs (``<root>/v2``, :data:`nnrnn.replicate.PROTOCOLS`), judged as
    the analysis plan says (:mod:`nnrnn.evidence`): the pilot at four scales and two seeds that stage 2
    does not use, the divergence screen (``screen_plan``, its stored runs ``screen_runs``), stage 2 at
    seeds 1-6, and the plan's rows (``rows``, :func:`nnrnn.evidence.benchmark_rows`) instead of protocol
    v1's verdicts (``success_verdict``/``loss_verdict`` stay ``None``)."""

    PROTOCOL = "v2"

    screen_plan: list = dataclasses.field(default_factory=list)
    screen_runs: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    rows: list = dataclasses.field(default_factory=list)

    @property
    def complete(self) -> bool:
        return bool(self.plan) and self.selection is not None and len(self.runs) == len(self.plan)

    def values(self) -> dict[str, Any]:
        v = super().values()
        v.pop("p_value", None)
        v.update(verdict=self.rows[0]["verdict"] if self.rows else evidence.PENDING,
                 loss_verdict=self.rows[1]["verdict"] if len(self.rows) > 1 else evidence.PENDING,
                 verdict_source="the analysis plan's verdicts (as on the results page)")
        return v

    def reads_text(self) -> str:
        return (f"This section reads the **protocol-v2 runs** ({self.archive}), the run set that the [results page](00-results) "
                f"judges by the analysis plan, committed (in {evidence.PLAN_COMMIT}) before any of them existed; the earlier "
                "run set, archive v1, keeps its own [page](00-results-v1).")

    def tests_text(self) -> str:
        return ("The verdicts below are the analysis plan's, computed as on the results page (`nnrnn.evidence`): success (0 or "
                "1) and the loss rank of each run (a diverged run ranks worst, an earlier divergence worse), non-normal "
                "initializers (chain, feedback chain) against normal ones (identity, orthogonal), by the exact permutation "
                "test within seeds, one-sided in the paper's direction; the four pairwise tests with Holm's adjustment are "
                "secondary, and the interval is the Hodges-Lehmann interval of the per-seed differences.")

    def protocol_text(self) -> str:
        p, c, points, unit, scales = self._protocol_terms()
        proto = _replicate.PROTOCOLS[self.PROTOCOL]
        n_scales = len(next(iter(self.pilot_grid.scales.values())))
        seeds = " and ".join(map(str, self.pilot_grid.seeds))
        return (
            f"**Pilot.** The paper's {len(self.pilot_grid.lrs)} learning rates × {n_scales} scales per initializer ({scales}) "
            f"× seeds {seeds}, which stage 2 does not use, × {p.epochs} epoch of {p.updates_per_epoch:,} updates: "
            f"{len(self.pilot_grid)} runs, validated {points} times on {p.n_val:,} held-out {unit}. A setting's score is the "
            f"mean over its seeds of its mean validation loss over the last {points - points // 2} validation points; a "
            "setting that diverged on either seed is not a candidate.\n\n"
            f"**Divergence screen.** Each initializer's {proto.screen} best candidates train for {proto.screen_epochs} epochs "
            "on the pilot seeds; one that diverges there is not selected, and if all of them diverge the next ones are "
            "screened, until one survives or none is left (that initializer then has no stage-2 runs).\n\n"
            f"**Selection, on validation data only.** Among the survivors whose score is within {100 * _replicate.BAND:g} % "
            f"of the random baseline ({_replicate.BAND * self.baseline:.3g}) of the best score, the smallest learning rate "
            "is chosen: among settings the pilot cannot tell apart, the slowest, most stable one, for every initializer "
            "alike.\n\n"
            f"**Stage 2.** Each initializer's selected setting × seeds {self._seeds_text()} × at most {c.epochs} epochs of "
            f"{c.updates_per_epoch:,} updates ({self.budget_pct:g} % of the 100-epoch cap of the authors' code, early stop below "
            f"{c.early_stop:g}), the same for every initializer: {len(self.plan)} runs, with T = {c.seq_len}, "
            f"N = {c.hidden_size}, {c.n_train:,} training {unit}, RMSprop, batch {c.batch_size} and clipping at "
            f"{c.clip_norm:g} as in the paper or its code. The analysis plan (`book/analysis-plan.md`) fixed this protocol "
            "and how its runs are judged before any of them existed (`nnrnn.replicate`; all of the reduction is our choice)."
        )

    def settings(self) -> pd.DataFrame:
        table = super().settings()
        proto = _replicate.PROTOCOLS[self.PROTOCOL]
        table.loc["divergence screen"] = [f"the {proto.screen} best candidates per initializer, {proto.screen_epochs} epochs "
                                          "on the pilot seeds", "survivors of the screen only", "none (the whole grid)"]
        return table

    def _screen_stored(self) -> int:
        return len(self.screen_runs)

    def status_table(self) -> pd.DataFrame:
        p, c, proto = self.pilot_grid.configs()[0], self.plan[0], _replicate.PROTOCOLS[self.PROTOCOL]
        screen = (f"{self._screen_stored()} of {len(self.screen_plan)}" if self.screen_plan else "not started")
        return pd.DataFrame({
            "runs stored": [f"{len(self.pilot_runs)} of {len(self.pilot_grid)}", screen,
                            f"{len(self.runs)} of {len(self.plan)}" if self.selection is not None else "not started"],
            "budget per run": [f"{p.epochs} epoch of {p.updates_per_epoch:,} updates", f"{proto.screen_epochs} epochs",
                               f"at most {c.epochs} epochs of {c.updates_per_epoch:,} updates"],
            "seeds": [", ".join(map(str, self.pilot_grid.seeds))] * 2 + [self._seeds_text()],
        }, index=pd.Index(["pilot", "divergence screen (every round so far)", "stage 2"], name="stage"))

    def status_text(self) -> str:
        where = evidence.progress(self.task, self._root)
        if self.complete:
            return (f"The protocol-v2 store holds every planned run of {NAMES[self.task]}: {where}.")
        text = (f"The protocol-v2 store does not hold every planned run of {NAMES[self.task]} yet ({where}); what is shown "
                f"below is what is stored, and the verdicts read *{evidence.PENDING}*.")
        return text + (f" Stage 2 is training in the background: {self.training}." if self.training else "")

    def screen_table(self) -> pd.DataFrame:
        """Every screened candidate: its pilot score, its screen runs that diverged, and whether it was selected."""
        rows = []
        settings = _replicate.setting_scores(self.scores) if len(self.scores) else self.scores
        for init, g in self.screen_runs.groupby("init", sort=False):
            for (scale, lr), h in g.groupby(["scale", "lr"], sort=False):
                got = settings[(settings["init"] == init) & np.isclose(settings["scale"], scale) & np.isclose(settings["lr"], lr)]
                chosen = (self.selection is not None and init in self.selection.index
                          and math.isclose(self.selection.loc[init, "scale"], scale) and math.isclose(self.selection.loc[init, "lr"], lr))
                rows.append({"init": INIT_LABELS.get(init, init), "scale": scale, "lr": lr,
                             "pilot score": float(got["score"].iloc[0]) if len(got) else math.nan,
                             "screen runs diverged": f"{int(h['diverged'].astype(bool).sum())} of {len(h)}",
                             "selected": "yes" if chosen else ""})
        return pd.DataFrame(rows, columns=["init", "scale", "lr", "pilot score", "screen runs diverged", "selected"])

    @part
    def pilot(self) -> list:
        if self.pilot_runs.empty:
            return [f"*Not stored yet:* none of the {len(self.pilot_grid)} pilot runs of {NAMES[self.task]} is stored."]
        settings = _replicate.setting_scores(self.scores)
        fig = _plot.pilot_scores(settings, baseline=self.baseline, selection=self.selection,
                                 band_width=_replicate.BAND * self.baseline, ylabel=f"pilot score ({LOSS_UNITS[self.task]})")
        state = ("the whole pilot" if self.pilot_complete
                 else f"**provisional**: {len(self.pilot_runs)} of {len(self.pilot_grid)} pilot runs stored")
        seeds = " and ".join(map(str, self.pilot_grid.seeds))
        cap = (f"Pilot scores of {NAMES[self.task]} ({state}), protocol v2, computed {self.where()} by "
               "`nnrnn.replicate.setting_scores`: each setting's mean validation loss over the second half of its validation "
               f"points, averaged over pilot seeds {seeds}, against its learning rate, one line per scale; a cross at the top "
               "marks a setting that diverged on either seed, the dashed line the random baseline. The paper ran no pilot: "
               "it trained its whole grid.")
        if self.selection is not None:
            cap += (" Ringed: the setting selected for stage 2 among the survivors of the divergence screen; shaded: "
                    f"settings within {100 * _replicate.BAND:g} % of the baseline of the best score.")
        items: list = [self._figure(fig, cap, "pilot")]
        if self.screen_plan and not self.screen_runs.empty:
            items += [f"The divergence screen ({self._screen_stored()} of {len(self.screen_plan)} runs stored): each "
                      "screened candidate with stored runs, its pilot score, how many of its screen runs diverged, and the "
                      "setting selected.",
                      report.table(self.screen_table(), {"init": "initializer", "lr": "learning rate"}, index=False,
                                   formats={"scale": "{:g}", "lr": "{:g}", "pilot score": "{:.4g}"})]
        if self.selection is not None:
            items.append(report.table(self.selection, {"scale": "scale", "lr": "learning rate",
                                                       "score": "score of the selected setting", "best_score": "best score",
                                                       "n_in_band": "settings in the band"},
                                      formats={"scale": "{:g}", "lr": "{:g}", "score": "{:.4g}", "best_score": "{:.4g}"},
                                      index=INIT_LABELS, index_name="initializer"))
        return items

    def verdict_text(self) -> str:
        if not self.rows or self.rows[0]["verdict"] == evidence.PENDING:
            return (f"No verdict yet: {evidence.PENDING} ({self.rows[0]['runs'] if self.rows else 'nothing stored'}); the "
                    "plan gives none on part of its runs.")
        succ, loss = self.rows[0], self.rows[1]
        why = ""
        if succ["verdict"] == NOT_TESTABLE:
            same = self.runs["success"].astype(bool)
            why = (f" (every run {'succeeded' if same.all() else 'failed'}: a {'ceiling' if same.all() else 'floor'} makes "
                   "the endpoints equal wherever they are compared)" if same.all() or not same.any() else
                   f" ({LABEL_MEANINGS[NOT_TESTABLE]})")
        return (f"Successful runs per initializer: {succ['ours']} ({succ['runs']}). {succ['test']}; the analysis plan's "
                f"verdict: **{succ['verdict']}**{why}. Secondary, each non-normal initializer against each normal one: "
                f"{succ['secondary']}. Success rate per seed, non-normal minus normal (positive: the paper's direction): "
                f"{succ['interval']}.\n\n"
                f"Validation loss: {loss['ours']}. By loss rank, a diverged run ranking worst: {loss['test']}; the analysis "
                f"plan's verdict: **{loss['verdict']}**. Secondary: {loss['secondary']}. Loss score per seed (minus the run's "
                f"rank, so positive favours the non-normal initializers, the paper's direction), non-normal minus normal: "
                f"{loss['interval']}.")

    @part
    def success(self) -> list:
        items = list(super().success())
        if self.complete and self.runs["diverged"].any():
            km = _divergence.survival(self.runs)
            fig = _dplot.survival_curves({self.task: km}, [*evidence.NON_NORMAL, *evidence.NORMAL])
            items.append(self._figure(fig, (
                f"Time to divergence of the stage-2 runs of {NAMES[self.task]} per initializer, computed {self.where()}: the "
                "Kaplan-Meier estimate of the fraction of runs not yet diverged against updates "
                "(`nnrnn.divergence.survival`); a tick marks a run censored at its last update (it did not diverge). The "
                "analysis plan reports it beside the loss claim; the paper does not mention divergence."), "survival"))
        return items

    def where(self) -> str:
        return f"on profile `replicate` from the protocol-v2 runs ({self.archive})"


def _section_v2(task: str, root: Path) -> ReplicateSectionV2:
    """The protocol-v2 section of ``task`` (:class:`ReplicateSectionV2`): everything stored so far under ``<root>/v2``."""
    where = _replicate.protocol_root(evidence.PROTOCOL, root)
    out = _replicate.run(task, protocol=evidence.PROTOCOL, root=root, dry_run=True, verbose=False)
    pilot = out["pilot"]
    pilot_runs = _sweep.load_runs(task, configs=pilot, root=where)
    scores = (_replicate.pilot_scores(pilot_runs, _sweep.load_history(pilot_runs, root=where)) if len(pilot_runs)
              else pd.DataFrame(columns=["init", "scale", "lr", "hash", "score", "diverged"]))
    baseline = _tasks.random_baseline(task, T=pilot.configs()[0].seq_len)
    selection = out.get("selection")
    if selection is not None and not len(selection):
        selection = None
    screen = list(out.get("screen") or [])
    screen_runs = _sweep.load_runs(task, configs=screen, root=where) if screen else pd.DataFrame(columns=["init", "scale", "lr", "diverged"])
    plan, runs, history, training = _stage2_read(task, pilot, pilot_runs, selection, list(out.get("stage2") or []), where,
                                                 evidence.PROTOCOL)
    note = "" if selection is not None else "the pilot or the divergence screen is not finished"
    return ReplicateSectionV2(task, archive_label(where), pilot, pilot_runs, scores, selection, note, plan, runs, history, baseline, None, None,
                              "", training, root, screen_plan=screen, screen_runs=screen_runs,
                              rows=evidence.benchmark_rows(task, root))
