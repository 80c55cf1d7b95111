r"""Chapter 8's replicate section on the protocol-v2 runs: Table 2 and Fig. 5 as the analysis plan judges them.

The chapter reads archive v1 until every planned protocol-v2 stage-2 run of addition and psMNIST is
stored (:func:`nnrnn.evidence.chapter_protocol`), then this section, never both. :func:`weights_section`
reads the stage-2 runs of each task from the protocol-v2 store (:func:`nnrnn.evidence.stage2`) and
gives, per (task, normal initializer) group:

* Table 2: each network's trained :math:`d(W)` against the median of its null, :math:`W_0` plus
  random changes of the trained change's size (:func:`nnrnn.evidence.henrici_excesses`), as a
  figure, and the results page's rows (:func:`nnrnn.evidence.table2_rows`: successful networks
  primary, every network that did not diverge secondary; diverged ones counted and left out);
* Fig. 5: the trained networks' diagonal means ordered by the pulse and by the no-pulse control,
  with where the pulse-ordered profile peaks and the excess of its forward asymmetry over the
  control's (:func:`nnrnn.evidence.fig5_excesses`), and the results page's rows
  (:func:`nnrnn.evidence.fig5_rows`);
* a sentence, generated from the two rows' labels, on where Table 2 and Fig. 5 agree or disagree
  (:func:`agreement_sentence`).

The verdicts are the results page's own rows (:func:`nnrnn.evidence.table2_rows`,
:func:`nnrnn.evidence.fig5_rows`), given the per-network measures that the figures draw, so that
each network's null and pulse analysis is computed once.

:func:`chapter_text` is the chapter's prose that names the run set it reads, for either protocol.
Nothing here trains, and the stores are only read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from .. import evidence
from .. import paper as _paper
from .. import replicate as _replicate
from .. import validate
from .. import weights as _weights
from ..archive import archive_commit, archive_label, archive_root
from ..plotting import INIT_LABELS
from ..plotting import weights as _plot
from ..verdicts import NOT_TESTABLE
from . import report
from .section import Figure, Section, part

__all__ = ["WeightsSection", "weights_section", "agreement_sentence", "chapter_text", "PROTOCOLS"]

#: the run sets chapter 8 reads: archive v1, until the protocol-v2 stage 2 of its tasks is complete.
PROTOCOLS = ("v1", "v2")
_TASKS = (*evidence.TABLE2_TASKS, "copy")
_NAMES = {"addition": "addition", "psmnist": "psMNIST", "copy": "copy"}
#: the labels whose estimate is not significant either way (the plan's label meanings).
_NOT_SIGNIFICANT = {"consistent", "inconclusive"}
_WHY = ("Table 2 compares the overall departure from normality d(W), every non-normal direction at once, with that "
        "of a random change of the same size; Fig. 5 compares the forward structure that the pulse ordering reveals "
        "with the no-pulse control")


def _group(task: str, init: str) -> str:
    return f"{_NAMES.get(task, task)}, {INIT_LABELS.get(init, init)}"


def _peak_text(lag: float) -> str:
    if not math.isfinite(lag):
        return f"has no positive peak within {evidence.FIG5_MAX_LAG} units of the diagonal"
    return f"peaks at i − j = {lag:g}, " + ("forward" if lag >= 1 else "backward")


def agreement_sentence(task: str, init: str, table2_row: Mapping[str, Any], fig5_row: Mapping[str, Any],
                       peak_lag: float = math.nan) -> str:
    """Where Table 2 and Fig. 5 agree or disagree for one (task, initializer) group, from the labels of its two
    rows (:func:`nnrnn.evidence.table2_rows`, :func:`nnrnn.evidence.fig5_rows`) and where its trained
    pulse-ordered profile peaks, with why they can disagree (Markdown).

    Examples:
        >>> agreement_sentence("psmnist", "orthogonal", {"verdict": "not reproduced"}, {"verdict": "reproduced"}, 6.0)[:72]
        'For psMNIST, orthogonal, Table 2 and Fig. 5 disagree: Table 2 reads *not'
    """
    t, f = table2_row["verdict"], fig5_row["verdict"]
    group = _group(task, init)
    if evidence.PENDING in (t, f):
        return f"For {group}, Table 2 and Fig. 5 are not compared yet: {evidence.PENDING}."
    peak = f"its trained pulse-ordered profile {_peak_text(peak_lag)}"
    if f == "reproduced" and not (math.isfinite(peak_lag) and peak_lag >= 1):
        peak += ", so by the plan's rule (significant and peaking forward) Fig. 5 does not support the claim here"
    if t == f:
        return (f"For {group}, Table 2 and Fig. 5 agree: both read *{t}* ({peak}). They need not have, since they measure "
                f"different things ({_WHY}).")
    if {t, f} <= _NOT_SIGNIFICANT:
        return (f"For {group}, neither Table 2 (*{t}*) nor Fig. 5 (*{f}*) shows a significant effect either way "
                f"({peak}): their estimates point different ways, which these networks cannot tell apart from chance.")
    if NOT_TESTABLE in (t, f):
        which = "Table 2" if t == NOT_TESTABLE else "Fig. 5"
        return (f"For {group}, Table 2 reads *{t}* and Fig. 5 reads *{f}* ({peak}): {which} cannot show the paper's "
                "effect with these networks, so the two are not compared.")
    if f == "reproduced":
        how = ("A trained change can build a forward-ordered chain and still be no more non-normal overall than a "
               "random change of its size" + (" (here it is less)" if t == "not reproduced" else ""))
    elif t == "reproduced":
        how = ("A trained change can be more non-normal than a random change of its size in directions that no "
               "pulse ordering shows as a forward chain")
    else:
        how = "Neither measure implies the other"
    return (f"For {group}, Table 2 and Fig. 5 disagree: Table 2 reads *{t}*, Fig. 5 reads *{f}* ({peak}). That is "
            f"possible because they measure different things: {_WHY}. {how}.")


@dataclass
class WeightsSection(Section):
    """Chapter 8's replicate section on the protocol-v2 runs (:func:`weights_section`).

    ``archive`` names the protocol-v2 store as the page does, ``commit`` is its last commit
    (:func:`nnrnn.archive.archive_commit`); ``stored`` is each task's
    stage-2 runs stored and planned; ``runs`` the stored stage-2 runs (with ``task``); ``henrici`` and
    ``fig5_networks`` the per-network measures of the tasks whose stage 2 is complete
    (:func:`nnrnn.evidence.henrici_excesses`, :func:`nnrnn.evidence.fig5_excesses`, with ``task``);
    ``peaks`` where each group's trained pulse-ordered profile peaks; ``profiles`` the trained networks'
    diagonal means by task, initializer and ordering; ``table2_rows``/``fig5_rows`` the results page's
    rows. Its parts, in page order: :meth:`reads`, :meth:`table2`, :meth:`fig5`, :meth:`agreement`.
    """

    PARTS = ("reads", "table2", "fig5", "agreement")
    PROTOCOL = "v2"

    tasks: list[str]
    archive: str
    commit: str
    stored: dict[str, tuple[int, int]]
    runs: pd.DataFrame
    henrici: pd.DataFrame
    fig5_networks: pd.DataFrame
    peaks: dict[tuple[str, str], float]
    profiles: pd.DataFrame
    table2_rows: list[dict[str, Any]]
    fig5_rows: list[dict[str, Any]]

    @property
    def networks(self) -> pd.DataFrame:
        """The networks analysed: every normal-initialized stage-2 network that did not diverge, of the complete tasks."""
        return self.henrici

    @property
    def complete_tasks(self) -> list[str]:
        return [t for t in self.tasks if self.stored[t][1] and self.stored[t][0] == self.stored[t][1]]

    def groups(self) -> list[tuple[str, str]]:
        """The (task, initializer) groups, in the rows' order."""
        return [(t, i) for t in self.tasks for i in evidence.NORMAL]

    def where(self) -> str:
        return f"on profile `replicate` from the protocol-v2 runs ({self.archive})"

    def _diverged(self, task: str, init: str) -> int:
        g = self.runs[(self.runs["task"] == task) & (self.runs["init"] == init)]
        return int(g["diverged"].astype(bool).sum())

    def status_table(self) -> pd.DataFrame:
        """Per group: stage-2 runs stored of planned, networks analysed, successful, and diverged (left out)."""
        rows = []
        for task, init in self.groups():
            nets = self.henrici[(self.henrici["task"] == task) & (self.henrici["init"] == init)]
            got, planned = self.stored[task]
            done = task in self.complete_tasks
            rows.append({"task": _NAMES[task], "initializer": INIT_LABELS.get(init, init),
                         "stage-2 runs of the task stored": f"{got} of {planned}",
                         "networks analysed (did not diverge)": len(nets) if done else "-",
                         "successful (primary test)": int(nets["success"].sum()) if done else "-",
                         "diverged (left out)": self._diverged(task, init) if done else "-"})
        return pd.DataFrame(rows)

    @part
    def reads(self) -> list:
        names = " and ".join(_NAMES[t] for t in self.tasks)
        text = (f"This section reads the **protocol-v2 runs** ({self.archive}): the stage-2 runs of {names} at the paper's "
                "sequence lengths, judged as the analysis plan says (`book/analysis-plan.md`, committed in "
                f"{evidence.PLAN_COMMIT} before any protocol-v2 run existed), with the [results page](00-results)'s "
                "verdicts (`nnrnn.evidence`); the earlier run set, archive v1, keeps its own [page](00-results-v1). "
                "Each (task, initializer) group of identity- or orthogonally initialized networks is a claim of its own: "
                "its successful networks (final validation loss below half the random baseline) give the primary test, "
                "every network that did not diverge the secondary one, and a network that diverged is counted and left "
                "out, since its training ended at the divergence, not at the budget.")
        if missing := [t for t in self.tasks if t not in self.complete_tasks]:
            text += (" The stage 2 of " + " and ".join(_NAMES[t] for t in missing) + " is not complete yet, so its groups "
                     f"read *{evidence.PENDING}* and are not shown.")
        return [text, report.table(self.status_table(), index=False)]

    def _rows_table(self, rows: list[dict[str, Any]]) -> report.Table:
        frame = pd.DataFrame([{"group": _group(t, i), **r} for (t, i), r in zip(self.groups(), rows)])
        return report.table(frame, {"paper": "the paper", "ours": "ours (protocol v2)", "runs": "networks",
                                    "verdict": "the plan's verdict", "secondary": "secondary"},
                            keep=["group", "paper", "ours", "runs", "test", "verdict", "secondary"], index=False)

    @part
    def table2(self) -> list:
        head = ("**Table 2: departure from normality against a random change of the same size.** Any change of a normal "
                "matrix makes d(W) > 0, so the plan asks whether training made W more non-normal than a random change of "
                "its size would: for each network, d(W) after training against the median of d(W₀ + E) over 200 Gaussian "
                "changes E scaled to the Frobenius norm of the trained change W − W₀ (`nnrnn.stats.henrici_excess`, seed 0, "
                "as the plan fixes). The excess is the difference; the exact sign-flip test over the group's networks, "
                "one-sided in the paper's direction, asks whether it exceeds 0.")
        tasks = self.complete_tasks
        if not tasks:
            return [head, f"*Not stored yet:* {evidence.PENDING}.", self._rows_table(self.table2_rows)]
        paper = {k: v for k, v in _weights.PAPER_TABLE2.items() if k[0] in tasks}
        fig = _plot.table2_null(self.henrici, tasks=tasks, inits=evidence.NORMAL,
                                diverged={g: self._diverged(*g) for g in self.groups()}, paper=paper)
        said = "; ".join(f"{_group(t, i)} {m:.2f} ± {s:.2f}" for (t, i), (m, s) in paper.items())
        cap = ("**The paper's Table 2 against a random change of the same size (protocol v2).** Henrici's departure from "
               "normality d(W) of each identity- or orthogonally initialized stage-2 network after training, against the "
               "median d of its null (W₀ plus 200 random changes of the trained change's size), computed "
               f"{self.where()} by `nnrnn.evidence.henrici_excesses`; filled: successful networks (the primary test), "
               "open: the others that did not diverge (the secondary test); networks that diverged are left out and "
               "counted in each panel's title. Above the dashed line a network is more non-normal than a random change "
               "of its size. Dotted lines: the paper's Table 2, mean d(W) of its successful networks"
               + (f" ({said})" if said else "") + "; the paper gives no null.")
        return [head, Figure(fig, cap, "replicate-weights-table2"), "The plan's rows, as on the results page:",
                self._rows_table(self.table2_rows)]

    def _fig5_note(self, task: str, init: str) -> str:
        f = self.fig5_networks
        g = f[(f["task"] == task) & (f["init"] == init) & f["success"].astype(bool)]
        lag = self.peaks.get((task, init), math.nan)
        peak = f"peak i − j = {lag:g}" if math.isfinite(lag) else "no peak"
        return f"{peak}; mean excess {g['excess'].mean():+.4f}" if len(g) else peak

    @part
    def fig5(self) -> list:
        head = ("**Fig. 5: a forward chain against the no-pulse control.** For each network the forward asymmetry of the "
                f"pulse-ordered diagonal means (mean W_ij over lags 1 to {evidence.FIG5_MAX_LAG} minus over −"
                f"{evidence.FIG5_MAX_LAG} to −1) changes in training; the plan subtracts the same change under the no-pulse "
                "control ordering, where nothing is evoked and the order is random (`nnrnn.stats.asymmetry_excess`), and "
                "tests the excess over the group's networks as Table 2's. A group supports the paper's claim when its "
                "excess is significant in the paper's direction and its mean trained pulse-ordered profile peaks forward, "
                "at i − j ≥ 1 (`nnrnn.verdicts.supports_hidden_chain`).")
        tasks = self.complete_tasks
        if not tasks:
            return [head, f"*Not stored yet:* {evidence.PENDING}.", self._rows_table(self.fig5_rows)]
        fig = _plot.fig5_control(self.profiles, tasks=tasks, inits=evidence.NORMAL, max_lag=evidence.FIG5_MAX_LAG,
                                 peaks=self.peaks, notes={g: self._fig5_note(*g) for g in self.groups()},
                                 pulse=_weights.PULSE, control=_weights.NO_PULSE)
        cap = ("**The paper's Fig. 5 against the no-pulse control (protocol v2).** Mean recurrent weight W_ij against the "
               "order difference i − j of the units of each trained identity- or orthogonally initialized stage-2 network "
               "that did not diverge, ordered by the peak of their evoked response to one input pulse (colour) and, as the "
               "control, without a pulse (grey), mean ± s.e.m. over the networks, computed "
               f"{self.where()} by `nnrnn.weights.network_diagonal_means` (the pulse settings of "
               "`nnrnn.evidence.fig5_excesses`); lag 0 is left out, the dotted line marks the peak of the pulse-ordered "
               "profile, and each title gives the mean excess of the successful networks "
               "(`nnrnn.stats.asymmetry_excess`). The paper's Fig. 5 gives no numbers: it shows, for successful addition and "
               "psMNIST networks, an asymmetric bump peaking at small positive i − j after training.")
        return [head, Figure(fig, cap, "replicate-weights-fig5"), "The plan's rows, as on the results page:",
                self._rows_table(self.fig5_rows)]

    def agreement_table(self) -> pd.DataFrame:
        """Per group: the two rows' verdicts and where the trained pulse-ordered profile peaks."""
        return pd.DataFrame([{"group": _group(t, i), "Table 2": a["verdict"], "Fig. 5": b["verdict"],
                              "peak of the trained profile (i − j)": self.peaks.get((t, i), math.nan)}
                             for (t, i), a, b in zip(self.groups(), self.table2_rows, self.fig5_rows)])

    def sentences(self) -> list[str]:
        """:func:`agreement_sentence` of every group, in the rows' order."""
        return [agreement_sentence(t, i, a, b, self.peaks.get((t, i), math.nan))
                for (t, i), a, b in zip(self.groups(), self.table2_rows, self.fig5_rows)]

    @part
    def agreement(self) -> list:
        head = ("**Where Table 2 and Fig. 5 agree.** The two are separate claims of the paper, judged separately; per group, "
                "their verdicts side by side:")
        table = report.table(self.agreement_table(), index=False, formats={"peak of the trained profile (i − j)": "{:g}"})
        return [head, table, "\n\n".join(self.sentences())]

    def values(self) -> dict[str, Any]:
        """What the chapter's prose quotes: the networks analysed, the store and a one-line summary (plain text)."""
        t2 = "; ".join(f"{_group(t, i)} {r['verdict']}" for (t, i), r in zip(self.groups(), self.table2_rows))
        f5 = "; ".join(f"{_group(t, i)} {r['verdict']}" for (t, i), r in zip(self.groups(), self.fig5_rows))
        same = [g for g, a, b in zip(self.groups(), self.table2_rows, self.fig5_rows) if a["verdict"] == b["verdict"]]
        summary = (f"the analysis plan's verdicts on {len(self.henrici)} networks of the protocol-v2 runs ({self.archive}): "
                   f"Table 2, trained d(W) against a random change of the same size: {t2}. Fig. 5, the pulse ordering against "
                   f"the no-pulse control: {f5}. The two read the same for {len(same)} of {len(self.groups())} groups")
        return {"n_networks": len(self.henrici), "archive": self.archive, "commit": self.commit, "summary": summary}


def weights_section(root: str | Path | None = None, tasks: Sequence[str] = evidence.TABLE2_TASKS) -> WeightsSection:
    """Chapter 8's replicate section on the protocol-v2 runs of ``tasks`` under ``root`` (default
    :func:`nnrnn.archive.archive_root`; the runs in ``<root>/v2``): the results page's Table 2 and
    Fig. 5 rows and the per-network measures behind them, each computed once.
    A task whose stage 2 is not complete has rows that say so and no measures. Never trains or writes."""
    if isinstance(tasks, str) or not tasks:
        raise ValueError(f"tasks must be a non-empty sequence of tasks among {list(_TASKS)}, got {tasks!r}")
    tasks = [validate.choice(t, "each of tasks", _TASKS) for t in tasks]
    root = Path(root) if root is not None else archive_root()
    where = _replicate.protocol_root(evidence.PROTOCOL, root)
    stored, frames, excesses, measures = {}, [], {}, {}
    for task in tasks:
        cfgs, runs = evidence.stage2(task, root)
        stored[task] = (len(runs), len(cfgs))
        frames.append(runs.assign(task=task))
        if cfgs and len(runs) == len(cfgs):
            excesses[task] = evidence.henrici_excesses(task, runs, root)
            measures[task] = evidence.fig5_measures(task, runs, root)
    # the results page's rows, from the measures drawn above (each network's null and pulse analysis computed once)
    t2 = evidence.table2_rows(root, tasks, excesses=excesses)
    f5 = evidence.fig5_rows(root, tasks, measures=measures)
    henrici = [e.assign(task=t) for t, e in excesses.items()]
    fig5 = [m.networks.assign(task=t) for t, m in measures.items()]
    profiles = [m.profiles for m in measures.values() if len(m.profiles)]
    peaks = {(t, i): lag for t, m in measures.items() for i, lag in m.peaks.items()}

    def stack(parts: list, columns: list[str]) -> pd.DataFrame:
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)

    return WeightsSection(tasks, archive_label(where), archive_commit(where), stored,
                          stack(frames, ["task", "hash", "init", "diverged"]),
                          stack(henrici, ["task", "init", "seed", "success", "trained", "null_median", "excess"]),
                          stack(fig5, ["task", "init", "hash", "success", "excess"]), peaks,
                          stack(profiles, ["task", "init", "state", "ordering", "lag", "mean", "sem", "n"]), t2, f5)


def chapter_text(protocol: str) -> dict[str, str]:
    """Chapter 8's prose that names the run set its replicate section reads, for ``protocol`` ("v1": archive v1,
    "v2": the protocol-v2 runs): ``reads`` (the introduction's clause), ``set`` (the run set, short), ``overview``
    (its item of the overview) and ``networks`` (the list of "The networks", Markdown). The glued ones are plain text."""
    protocol = validate.choice(protocol, "protocol", PROTOCOLS)
    lengths = ", ".join(f"{_NAMES[t]} T = {_paper.SEQUENCE_LENGTH[t]}" for t in ("copy", *evidence.TABLE2_TASKS))
    live = ("2. **The runs of this build's profile**: each benchmark chapter's grid, restricted to identity and orthogonal "
            "initialization, so the hashes are those of chapters 4–6 and nothing stored is retrained. These are what a "
            "reader reruns live. Copy enters their analysis (`nnrnn.weights.analyse`) only if one of its runs succeeded. "
            "If no run of a (task, initializer) pair succeeded, which can happen on short training, we do not leave the "
            "pair out silently: we analyse the runs of its best setting instead and label them **best (not successful)** "
            "in every table and figure.")
    if protocol == "v1":
        return {
            "reads": "archive v1, the earlier run set; the results page judges these claims by the analysis plan on "
                     "the protocol-v2 runs, which this chapter reads once all of addition's and psMNIST's are stored",
            "set": "archive v1, the earlier run set",
            "overview": "Table 2 and Fig. 5 at the paper's sequence lengths, with protocol v1's test",
            "networks": "1. **The replicate runs of archive v1** (the earlier run set): the second-stage runs of the "
                        f"`replicate` profile at the paper's sequence lengths ({lengths}), with the paper's model, "
                        "optimizer and success criterion and a reduced, stated search (see the results page). They are read "
                        "from the results archive; nothing is trained here. They are analysed as the live runs below "
                        "(`nnrnn.weights.analyse`), copy only if one of its runs succeeded, and a pair without a successful "
                        "run by its best setting, labelled **best (not successful)**.\n" + live,
        }
    return {
        "reads": "the protocol-v2 runs, judged by the analysis plan as on the results page",
        "set": "the protocol-v2 runs, judged by the analysis plan",
        "overview": "Table 2 against a random change of the trained change's size, Fig. 5 against the no-pulse control, "
                    "each (task, initializer) group judged by the analysis plan, and where the two agree",
        "networks": "1. **The replicate runs of protocol v2**: the stage-2 runs of the `replicate` profile at the paper's "
                    f"sequence lengths ({lengths}), with the paper's model, optimizer and success criterion and a reduced, "
                    "stated search (chapters 5 and 6), judged as the analysis plan says (`nnrnn.evidence`). They are read from "
                    "the protocol-v2 store; nothing is trained here. In each (task, initializer) group the successful networks "
                    "give the primary test and every network that did not diverge the secondary one; a diverged network is "
                    "counted and left out. Copy joins only once its protocol-v2 stage 2 is complete and one of its "
                    "identity- or orthogonally initialized runs succeeded (the plan, as the paper's Table 2).\n" + live,
    }
