"""nnrnn.pages.language: the language-model chapters' replicate section, read from a (fake) archive."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nnrnn import verdicts
from nnrnn.lm import replicate as rep
from nnrnn.lm import runs as lm_runs
from nnrnn.pages import language as section, report
from nnrnn.pages.section import Figure, Part


def _store(root, cell, pick=None, bits=None):
    """Write stored runs for the replicate configs of ``cell`` (all, or those ``pick`` keeps), each with
    a falling validation curve and a test loss from ``bits(init, seed)``."""
    bits = bits or (lambda init, seed: 1.5 + 0.01 * seed + (0.0 if init in ("fb_chain", "mixed") else 0.05))
    for cfg in rep.configs(cell):
        if pick is not None and not pick(cfg):
            continue
        b = bits(cfg.init, cfg.seed)
        curve = "\n".join(f"{p},{p / 2:.1f},{b + 1.0 / (1 + p):.4f}" for p in range(5))
        lm_runs._write_payload({"hash": cfg.hash(), "config": cfg.key(), "provenance": {}, "weights": b"",
                                "result": {"status": "finished", "test_bits": b, "best_val_bits": b},
                                "history_csv": "point,epoch,val_bits\n" + curve + "\n"}, root)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_an_empty_archive_states_the_protocol_and_shows_no_result(tmp_path, cell):
    s = section.replicate_section(cell, root=tmp_path)
    assert len(s.configs) == 12 and s.results.empty and not s.complete
    text = s.protocol_text()
    c = rep.configs(cell)[0]
    assert f"layers of {c.layer_sizes[0][1]} units instead of" in text and f"{c.epochs} epochs instead of 500" in text
    assert "none of the 12 replicate runs" in s.status_text()
    for part in ("curves", "table"):
        assert getattr(s, part)()[0].startswith("*Not in the archive yet:*")
    assert s.claim["verdict"] == verdicts.VERDICTS[4] and "There is no test yet" in s.verdict()[0]
    protocol = s.protocol()
    assert isinstance(protocol[1], report.Table) and "ptb-char: paper" in protocol[1].data.columns


def test_stored_runs_give_curves_table_and_archive_v1s_verdict(tmp_path):
    _store(tmp_path, "rnn")
    s = section.replicate_section("rnn", root=tmp_path)
    assert s.complete and len(s.results) == 12 and "holds 12 of the 12 replicate runs." in s.status_text()
    (figure,) = s.curves()
    ax, caption = figure.fig.axes[0], figure.caption
    assert ax.get_xlabel() == "epoch" and "bits" in ax.get_ylabel() and "profile `replicate`" in caption
    assert "Fig. 4" in caption and "mean ± s.e.m." in caption
    note, table = s.table()
    assert "Table 1" in note and list(table.data.columns) == ["ptb-char: ours", "ptb-char: paper"]
    fb = table.data.loc["feedback chain", "ptb-char: ours"]
    assert fb.startswith(f"{np.mean([1.51, 1.52, 1.53]):.3f}") and "(n=3)" in fb
    # the verdict is archive v1's row (its page, 00-results-v1), computed from the same runs by the same function
    row = rep.claims_rows(tmp_path)[0]
    assert s.claim == row
    text = s.verdict()[0]
    assert row["ours"] in text and row["test"] in text and f"**{row['verdict']}**" in text
    assert "bootstrap" in row["test"] and "the results page judges these runs by the analysis plan" in text


def test_a_partial_archive_says_what_is_stored_and_what_is_missing(tmp_path):
    _store(tmp_path, "lstm", pick=lambda c: c.seed == 1 or c.init == "mixed")
    s = section.replicate_section("lstm", root=tmp_path)
    assert len(s.results) == 6 and "holds 6 of the 12 replicate runs; the figures below" in s.status_text()
    status = s.status_table()
    assert status.loc["mixed", "runs stored"] == "3 of 3" and status.loc["chain", "seeds stored"] == "1"
    assert "There is no test yet" in s.verdict()[0] and s.claim["verdict"] == verdicts.VERDICTS[4]
    assert isinstance(s.curves()[0], Figure)  # the stored runs are drawn


def test_costs_name_the_measurement_and_the_gpu_assumption(tmp_path):
    s = section.replicate_section("rnn", root=tmp_path)
    text, table = s.costs()
    t = rep.cost_table().xs("rnn", level="cell")
    assert f"{t.loc['paper', 'CPU hours per epoch']:.2f} CPU-hours" in text and "an assumption, not a measurement" in text
    assert "one run of 500 epochs takes about" in text and "{" not in text
    assert list(table.data.index) == ["paper", "replicate"]


def test_bad_input_is_refused_with_what_is_allowed(tmp_path):
    with pytest.raises(ValueError, match=r"cell must be one of \['rnn', 'lstm'\], got 'gru'"):
        section.replicate_section("gru", root=tmp_path)
    s = section.replicate_section("rnn", root=tmp_path)
    # the parts are public methods (issue 22): each returns a Part; a benchmark's part is no method here
    assert all(isinstance(getattr(s, p)(), Part) for p in s.PARTS) and not hasattr(s, "pilot")


def test_fig6_on_the_stored_orthogonal_lstms(tmp_path):
    """The gates part analyses the stored orthogonal LSTMs that kept their weights (lm.replicate.KEEP_WEIGHTS),
    trained against the same networks rebuilt at initialization, as chapter 9's live part does."""
    import io

    import torch

    from nnrnn import lm

    cfgs = [c for c in rep.configs("lstm") if c.init == "orthogonal"][:2]
    for c in cfgs:
        model = lm.build_model(c, 50)
        with torch.no_grad():  # "trained": the initial weights, perturbed
            model.rnns[1].weight_hh_l0.add_(0.01 * torch.randn_like(model.rnns[1].weight_hh_l0))
        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        lm_runs._write_payload({"hash": c.hash(), "config": c.key(), "provenance": {}, "weights": buf.getvalue(),
                                "result": {"status": "finished", "test_bits": 1.5, "ntoken": 50},
                                "history_csv": "point,epoch,val_bits\n0,0.0,2.0\n1,0.5,1.8\n"}, tmp_path)
    s = section.replicate_section("lstm", root=tmp_path)
    trained, initial = s.gate_data()
    assert set(trained["seed"]) == {c.seed for c in cfgs} and set(trained["gate"]) == {"i", "f", "g", "o"}
    figure, table = s.gates()
    fig, caption = figure.fig, figure.caption
    assert "over 2 networks" in caption and "Fig. 6" in caption and "profile `replicate`" in caption
    assert all(ax.get_xlabel() for ax in fig.axes[-2:]) and list(table.data.index)[2] == "update (cell) gate"
    # as in chapter 9's live part: one generator per run, for the trained network, then the rebuilt initial one
    g = torch.Generator().manual_seed(cfgs[0].seed)
    kw = dict(steps=section.GATE_STEPS, generator=g)
    want = [lm.gate_diagonal_means(lm_runs.load_model(lm_runs.run_dir(cfgs[0], tmp_path)), section.GATE_LAYER, **kw),
            lm.gate_diagonal_means(lm.build_model(cfgs[0], 50), section.GATE_LAYER, **kw)]
    for got, w in zip((trained, initial), want):
        pd.testing.assert_frame_equal(got[got["seed"] == cfgs[0].seed].drop(columns="seed").reset_index(drop=True), w)
    assert not np.allclose(trained["weight"], initial["weight"])
    assert section.replicate_section("rnn", root=tmp_path).gates()[0].startswith("*Fig. 6 analyses LSTMs*")
    assert section.replicate_section("lstm", root=tmp_path / "empty").gates()[0].startswith("*Not in the archive")


def test_unigram_bits_is_the_cross_entropy_of_the_test_frequencies():
    import math

    import torch

    from nnrnn.lm.analysis import unigram_bits

    train, test = torch.tensor([0, 0, 0, 1, 2, 2]), torch.tensor([0, 2, 2, 1])
    p = {0: 3 / 6, 1: 1 / 6, 2: 2 / 6}
    want = -(math.log2(p[0]) + 2 * math.log2(p[2]) + math.log2(p[1])) / 4
    assert unigram_bits(train, test, 3) == pytest.approx(want, rel=1e-12)
    # a test token the training text never shows makes the unigram model's loss infinite
    assert unigram_bits(torch.tensor([0, 0]), torch.tensor([0, 1]), 2) == math.inf
    with pytest.raises(ValueError, match=r"test holds token ids outside \[0, 2\), got 0..5"):
        unigram_bits(train[:2], torch.tensor([0, 5]), 2)
    with pytest.raises(ValueError, match="train must be a non-empty 1-d tensor of token ids"):
        unigram_bits(torch.zeros(2, 2, dtype=torch.long), test, 3)


def test_the_table_names_initializers_that_learned_frequencies_only(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("NNRNN_DATA_DIR", str(data_dir))
    s0 = section.replicate_section("rnn", root=tmp_path / "empty")
    unigram = s0.unigram_reference()
    assert 4.0 < unigram < 5.0  # 50 character types, far from uniform (log2 50 = 5.64)
    _store(tmp_path, "rnn", bits=lambda init, seed: unigram + 0.001 * (seed - 2) if init == "identity" else 1.5 + 0.01 * seed)
    note, table = section.replicate_section("rnn", root=tmp_path).table()
    assert table.data.loc[section.UNIGRAM_ROW, "ptb-char: ours"] == f"{unigram:.3f}"
    assert f"(our threshold): identity ({unigram:.3f} bits). These networks learned" in note
    assert "chain (" not in note.split("our threshold")[1]
    # without the corpus the stored runs still render, and the note says what is missing
    from nnrnn.data import DataNotFoundError

    def missing(self):
        raise DataNotFoundError("data file(s) not found: ptb-char/ptb.char.train.txt.\nSearched: nowhere")

    monkeypatch.setattr(section.LMReplicateSection, "unigram_reference", missing)
    note, table = section.replicate_section("rnn", root=tmp_path).table()
    assert "The unigram reference row needs the corpus: data file(s) not found" in note
    assert section.UNIGRAM_ROW not in table.data.index and "identity" in table.data.index


def test_a_part_ending_a_cell_displays_its_items(monkeypatch):
    """Issue 22: a notebook cell ending in ``rep.protocol()`` shows the part: IPython calls the Part's
    ``_ipython_display_``, which hands its items, in order, to ``report.show``."""
    from IPython.core.formatters import DisplayFormatter

    shown = []
    monkeypatch.setattr(report, "show", shown.append)
    p = Part(["*text*", 1.5])
    assert DisplayFormatter().format(p) == ({}, {}) and shown == [p] and list(shown[0]) == ["*text*", 1.5]
