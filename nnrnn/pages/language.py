"""The language-model chapters' main result: the ``replicate`` runs in the results archive.

Chapters 7 (vanilla RNNs, Table 1 and Fig. 4) and 9 (LSTMs, Table 3) open their results with
the runs of :mod:`nnrnn.lm.replicate`: the paper's character-PTB model at a reduced, stated size
and number of epochs, trained once outside the book and kept in the archive. A chapter reads
them with :func:`replicate_section` and shows each part with one call (``rep.curves()``, see
:mod:`nnrnn.pages.section`); nothing here trains or writes. The verdict is archive v1's row (its page,
``00-results-v1``; :func:`nnrnn.lm.replicate.claims_rows`), computed by the same function from the
same runs; the results page judges these runs by the analysis plan (:func:`nnrnn.evidence.lm_rows`).

Examples:
    >>> s = replicate_section("rnn", root="/nonexistent")
    >>> len(s.configs), len(s.results), s.claim["verdict"]
    (12, 0, "not tested at the paper's scale")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from .. import validate
from ..archive import archive_label, archive_root
from ..data import DataNotFoundError
from ..lm import replicate as _replicate
from ..lm import runs as _runs
from ..lm.analysis import GATE_NAMES, diagonal_means_shape, gate_diagonal_means, results_table
from ..lm.config import CELLS, PAPER_TABLE1, PAPER_TABLE3, LMConfig, paper_config
from ..lm.model import build_model
from ..plotting import INIT_LABELS
from ..store import is_stored
from . import report
from .section import Figure, Section, part
from .settings import settings_table

__all__ = ["LMReplicateSection", "replicate_section"]

#: Fig. 6's settings, as chapter 9's live part: layer 2 of 3 (0-based 1), 100 free steps after the pulse.
GATE_LAYER, GATE_STEPS = 1, 100
_NAMES = {"rnn": "vanilla-RNN", "lstm": "LSTM"}
#: an initializer whose mean test loss lies within this many bits of the unigram reference is said to
#: have learned character frequencies only (our threshold, :data:`nnrnn.lm.replicate.UNIGRAM_BAND`).
UNIGRAM_BAND = _replicate.UNIGRAM_BAND
#: the table's row for the unigram reference
UNIGRAM_ROW = "character frequencies only (computed)"
_TABLES = {"rnn": ("Table 1", "Fig. 4", PAPER_TABLE1), "lstm": ("Table 3", "Fig. 6", PAPER_TABLE3)}
_COST_COLUMNS = {
    "model": "model", "epochs": "epochs", "runs": "runs", "training µs per token (CPU, measured)":
    "training µs per token (CPU, measured)", "CPU hours per epoch": "CPU hours per epoch (measured)",
    "CPU hours per run": "CPU hours per run", "hours for all runs on 2 cores": "hours for all runs on 2 cores",
    "GPU hours for all runs (assumed rate)": "GPU hours for all runs (assumed, not measured)",
}


@dataclass
class LMReplicateSection(Section):
    """The stored ``replicate`` runs of one cell (:func:`replicate_section`).

    ``configs`` are the planned runs, ``results`` one row per stored run (``corpus``, ``init``,
    ``seed``, ``hash``, ``status``, ``test_bits``), ``history`` their validation rows, ``claim``
    the results page's row for this cell, ``archive`` the archive's name as the page gives it.
    Its parts, in page order (:data:`PARTS`; ``gates``: Fig. 6, LSTMs only): :meth:`protocol`,
    :meth:`costs`, :meth:`status`, :meth:`curves`, :meth:`table`, :meth:`verdict`, :meth:`gates`.
    """

    PARTS = ("protocol", "costs", "status", "curves", "table", "verdict", "gates")

    cell: str
    archive: str
    configs: list[LMConfig]
    results: pd.DataFrame
    history: pd.DataFrame
    claim: dict[str, Any]
    root: Path | None = None

    @property
    def complete(self) -> bool:
        return len(self.results) == len(self.configs)

    def protocol_text(self) -> str:
        """What the profile keeps and what it reduces, generated from the configs (Markdown)."""
        c, p = self.configs[0], paper_config(_replicate.CORPUS, self.cell)
        inits = ", ".join(INIT_LABELS.get(i, i) for i in dict.fromkeys(x.init for x in self.configs))
        seeds = ", ".join(str(s) for s in dict.fromkeys(x.seed for x in self.configs))
        return (f"The `replicate` profile trains the paper's {_NAMES[self.cell]} language model on character-level PTB "
                f"(`nnrnn.lm.replicate`): the whole corpus every epoch, {c.nlayers} layers with the decoder tied to the "
                f"embedding, BPTT windows of mean length {c.bptt}, batch {c.batch_size}, Adam at learning rate {c.lr:g} "
                f"with weight decay {c.wdecay:g} and clipping at {c.clip:g}, and the test at batch {c.test_batch_size} "
                "with the best-validation weights, as awd-lstm-lm's commands, which the paper's code follows (the paper "
                "states none of these). **Our choices, to fit two CPU cores:** layers of "
                f"{c.layer_sizes[0][1]} units instead of {p.layer_sizes[0][1]}, {c.epochs} epochs instead of "
                f"{p.epochs} ({100 * c.epochs / p.epochs:g} %) with the learning rate divided by 10 after epochs "
                f"{' and '.join(map(str, c.when))} (the same fractions of the run as awd-lstm-lm's schedule), "
                f"validation {c.evals_per_epoch} times per epoch, and one scale per initializer instead of the "
                f"paper's best of a sweep. Initializers {inits}; seeds {seeds}: {len(self.configs)} runs. The table "
                "puts these settings beside the paper's (`nnrnn.pages.settings.settings_table`).")

    def status_text(self) -> str:
        n, total = len(self.results), len(self.configs)
        if n == 0:
            return (f"The results archive ({self.archive}) holds **none of the {total} replicate runs** of the "
                    f"{_NAMES[self.cell]} language models yet; they train in the background "
                    f"(`python -m nnrnn.lm.replicate --cell {self.cell}`), so this section states the protocol and "
                    "shows no result until they are in.")
        tail = "." if self.complete else "; the figures below show the stored runs and will change as the rest arrive."
        return (f"The results archive ({self.archive}) holds {n} of the {total} replicate runs" + tail
                + " They are runs of archive v1, whose verdict this section gives; the [results page](00-results) "
                "judges the same runs by the analysis plan.")

    def status_table(self) -> pd.DataFrame:
        """Per initializer: the seeds stored and planned."""
        rows = {}
        for init in dict.fromkeys(c.init for c in self.configs):
            stored = sorted(self.results.loc[self.results["init"] == init, "seed"].tolist())
            planned = [c.seed for c in self.configs if c.init == init]
            rows[INIT_LABELS.get(init, init)] = {"runs stored": f"{len(stored)} of {len(planned)}",
                                                 "seeds stored": ", ".join(map(str, stored)) or "–"}
        return pd.DataFrame.from_dict(rows, orient="index")

    def cost_table(self) -> pd.DataFrame:
        """This cell's rows of :func:`nnrnn.lm.replicate.cost_table` (the paper's size and ours)."""
        t = _replicate.cost_table()
        return t.xs(self.cell, level="cell")

    def values(self) -> dict[str, Any]:
        """What the chapter's prose quotes: runs stored and planned, the verdict, epochs, the archive."""
        return {"n_stored": len(self.results), "n_planned": len(self.configs), "verdict": self.claim["verdict"],
                "epochs": self.configs[0].epochs, "archive": self.archive}

    def _missing(self) -> list:
        return [f"*Not in the archive yet:* none of the {len(self.configs)} replicate runs is stored."]

    @part
    def protocol(self) -> list:
        return [self.protocol_text(), report.table(_settings(self.configs), index_name="setting")]

    @part
    def costs(self) -> list:
        t = self.cost_table()
        paper, ours = t.loc["paper"], t.loc["replicate"]
        text = (f"At the paper's size one epoch of character PTB costs {paper['CPU hours per epoch']:.2f} CPU-hours on one "
                "core of the 2-core machine that trained the archive (measured, `nnrnn.lm.replicate.measure`), so one "
                f"run of {paper['epochs']:.0f} epochs takes about {paper['CPU hours per run']:.0f} CPU-hours and the "
                f"{paper['runs']:.0f} runs of one "
                f"table about {paper['hours for all runs on 2 cores'] / 24:.0f} days on two cores. The replicate runs "
                f"take {ours['CPU hours per run']:.2f} CPU-hours each. On a GPU, at an assumed sustained 10 TFLOP/s "
                f"(an assumption, not a measurement: no GPU was available), the paper's {paper['runs']:.0f} runs would "
                f"take about {paper['GPU hours for all runs (assumed rate)']:.0f} GPU-hours.")
        table = report.table(t, _COST_COLUMNS, keep=list(_COST_COLUMNS), index_name="size",
                             formats={"CPU hours per epoch": "{:.3f}", "CPU hours per run": "{:.2f}",
                                      "hours for all runs on 2 cores": "{:.1f}", "GPU hours for all runs (assumed rate)":
                                      "{:.1f}", "training µs per token (CPU, measured)": "{:.1f}"})
        return [text, table]

    @part
    def status(self) -> list:
        return [self.status_text(), report.table(self.status_table(), index_name="initializer")]

    @part
    def curves(self) -> list:
        if self.results.empty:
            return self._missing()
        from ..plotting import lm as lmplot  # lazy: pyplot only where figures are drawn

        inits = list(dict.fromkeys(c.init for c in self.configs))
        fig = lmplot.validation_curves(self.history, corpora=[_replicate.CORPUS], inits=inits)
        table, figure, _ = _TABLES[self.cell]
        paper = ("the paper's Fig. 4 shows these curves for its 1000-unit networks over 500 epochs (3 seeds, each "
                 "initializer at its best scale)" if self.cell == "rnn" else
                 "the paper shows no LSTM learning curves; its Table 3 gives the test losses")
        cap = (f"Validation loss (bits per character) against epoch of the replicate {_NAMES[self.cell]} "
               f"language models on character PTB, mean ± s.e.m. over the stored seeds (the untrained point left out), "
               f"computed {self.where()}; {paper}.")
        return [Figure(fig, cap, f"replicate-{self.cell}-curves")]

    def unigram_reference(self) -> float:
        """The test loss of a model that knows only the characters' frequencies in the training text
        (:func:`nnrnn.lm.replicate.unigram_reference` on the runs' own splits; loads the corpus once)."""
        return _replicate.unigram_reference(self.configs[0])

    @part
    def table(self) -> list:
        if self.results.empty:
            return self._missing()
        table, _, paper = _TABLES[self.cell]
        inits = list(dict.fromkeys(c.init for c in self.configs))
        ours = self.results[pd.to_numeric(self.results["test_bits"], errors="coerce").notna()]
        t = results_table(ours, paper, corpora=[_replicate.CORPUS], inits=inits, labels=INIT_LABELS)
        note = (f"Test loss in bits per character: ours, mean ± s.e.m. over the stored seeds ({self.where()}, "
                f"a smaller and shorter model); the paper's {table}, mean ± s.e.m. over 3 runs at its full size.")
        try:
            unigram = self.unigram_reference()
        except DataNotFoundError as e:  # the archive is readable without the corpus; the reference is not
            first = str(e).splitlines()[0]
            return [note + f" (The unigram reference row needs the corpus: {first} See the Data page.)",
                    report.table(t, index_name="initializer")]
        t.loc[UNIGRAM_ROW] = {c: (f"{unigram:.3f}" if c.endswith(": ours") else "—") for c in t.columns}
        note += (" The last row is the test loss of a model that knows the characters' frequencies in the training text "
                 f"and nothing of their order (computed from the corpus, `nnrnn.lm.analysis.unigram_bits`): {unigram:.3f} bits.")
        means = ours.groupby("init", sort=False)["test_bits"].mean()
        flat = [i for i in inits if i in means.index and abs(means[i] - unigram) < UNIGRAM_BAND]
        if flat:
            which = ", ".join(f"{INIT_LABELS.get(i, i)} ({means[i]:.3f} bits)" for i in flat)
            note += (f" Within {UNIGRAM_BAND:g} bits of it (our threshold): {which}. These networks learned the "
                     "characters' frequencies and nothing of their order.")
        return [note, report.table(t, index_name="initializer")]

    @part
    def verdict(self) -> list:
        c = self.claim
        if c["test"] == "-":
            return [f"There is no test yet: {c['ours']}. Verdict on the paper's claim: **{c['verdict']}**."]
        return [f"On the `replicate` profile: {c['ours']}; {c['test']}. Verdict on the paper's claim (\"{c['claim']}\"): "
                f"**{c['verdict']}**: the model is smaller and trained for fewer epochs than the paper's, so a "
                "difference here does not test the claim at the paper's scale (our rule, archive v1's, whose page "
                "computes this row with the same function; the results page judges these runs by the analysis plan)."]


    def gate_data(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Fig. 6 of the stored orthogonal LSTMs whose weights are kept: ``(trained, initial)`` gate
        diagonal means (:func:`nnrnn.lm.gate_diagonal_means`, layer :data:`GATE_LAYER`, one jitter seed per run)."""
        trained, initial = [], []
        stored = set(self.results["hash"])
        for c in self.configs:
            if c.init != "orthogonal" or c.hash() not in stored:
                continue
            path = _runs.run_dir(c, self.root)
            if not (path / "weights.pt").is_file():
                continue
            model = _runs.load_model(path)
            g = torch.Generator().manual_seed(c.seed)
            trained.append(gate_diagonal_means(model, GATE_LAYER, steps=GATE_STEPS, generator=g).assign(seed=c.seed))
            untrained = build_model(c, model.decoder.out_features)
            initial.append(gate_diagonal_means(untrained, GATE_LAYER, steps=GATE_STEPS, generator=g).assign(seed=c.seed))
        if not trained:
            return pd.DataFrame(columns=["gate", "lag", "weight", "seed"]), pd.DataFrame(columns=["gate", "lag", "weight", "seed"])
        return pd.concat(trained, ignore_index=True), pd.concat(initial, ignore_index=True)

    @part
    def gates(self) -> list:
        if self.cell != "lstm":
            return ["*Fig. 6 analyses LSTMs* (chapter 9); the vanilla networks' weights are analysed in chapter 8."]
        trained, initial = self.gate_data()
        if trained.empty:
            return ["*Not in the archive yet:* no trained orthogonal LSTM of the replicate profile with its weights is stored."]
        from ..plotting import lm as lmplot  # lazy: pyplot only where figures are drawn

        n = int(trained["seed"].nunique())
        max_lag = self.configs[0].layer_sizes[GATE_LAYER][1] // 2
        fig = lmplot.fig6_gate_diagonal_means(trained, initial, max_lag=max_lag)
        cap = (f"Mean recurrent weight against order difference i − j for the four gates of layer "
               f"{GATE_LAYER + 1} of 3 of the orthogonally initialized replicate LSTMs, after training (solid, mean ± "
               f"s.e.m. over {n} networks) and at initialization (dashed), units ordered by their response to an input "
               f"pulse as in the live part below, computed {self.where()}. The paper's Fig. 6 (layer 2 of a word-level "
               "PTB LSTM) shows roughly monotone diagonal means in the input, forget and output gates and a "
               "chain-like bump at small positive i − j in the update gate.")
        shape = pd.concat({"trained": diagonal_means_shape(trained, max_lag=max_lag),
                           "at initialization": diagonal_means_shape(initial, max_lag=max_lag)}, axis=1)
        shape.index = [GATE_NAMES[g] for g in shape.index]
        table = report.table(shape, {"monotonicity": "rank correlation with i − j", "forward_bump": "forward bump"},
                             formats="{:.3f}", index_name="gate")
        return [Figure(fig, cap, f"replicate-{self.cell}-gates"), table]


def _settings(configs: list[LMConfig]) -> pd.DataFrame:
    return settings_table(configs, "replicate")


def _load(configs: list[LMConfig], root) -> tuple[pd.DataFrame, pd.DataFrame]:
    hist, res = [], []
    for cfg in configs:
        if not is_stored(_runs.run_dir(cfg, root)):
            continue
        info = _runs.load_run(_runs.run_dir(cfg, root))  # refuses files that do not match their SHA-256
        ids = _runs.run_ids(cfg)  # the columns lm.sweep gives each run's rows
        hist.append(info["history"].assign(**ids))
        res.append({**ids, "status": info["result"]["status"], "test_bits": float(info["result"]["test_bits"])})
    columns = ["hash", "corpus", "init", "seed", "status", "test_bits"]
    empty = pd.DataFrame(columns=["point", "epoch", "val_bits", *columns[:4]])
    history = pd.concat(hist, ignore_index=True) if hist else empty
    return pd.DataFrame(res, columns=columns), history


def replicate_section(cell: str, root: str | Path | None = None, **changes: Any) -> LMReplicateSection:
    """Read the stored ``replicate`` runs of ``cell`` (``"rnn"`` or ``"lstm"``); never trains or writes.

    ``root`` defaults to :func:`nnrnn.archive.archive_root`; ``changes`` override config fields
    as in :func:`nnrnn.lm.replicate.configs` (tests use tiny sizes).
    """
    cell = validate.choice(cell, "cell", CELLS)
    root = Path(root) if root is not None else archive_root()
    configs = _replicate.configs(cell, **changes)
    results, history = _load(configs, root)
    claim = _replicate.claim_row(cell, results)
    return LMReplicateSection(cell, archive_label(root), configs, results, history, claim, root)
