"""Chapter 8 reads the protocol-v2 runs once addition's and psMNIST's v2 stage 2 are complete, archive v1 until
then, never both (nnrnn.pages.weights_section): the section's verdicts are the results page's rows, its
per-network measures are computed once, its figures have labelled axes, and a sentence per group says where
Table 2 and Fig. 5 agree or disagree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from nnrnn import book, evidence, replicate, stats, weights  # noqa: E402
from nnrnn.pages import report  # noqa: E402
from nnrnn.pages import weights_section as ws  # noqa: E402
from nnrnn.pages.section import Figure, plain_text  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
STEM = "08-trained-weights"
NOTEBOOK = REPO / "notebooks" / f"{STEM}.ipynb"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _cells() -> dict[str, dict]:
    return {c["id"]: c for c in json.loads(NOTEBOOK.read_text())["cells"]}


def _run_chapter(monkeypatch, archive: Path) -> tuple[dict, list, dict]:
    """Chapter 8's set-up cells, its list of networks and its replicate cell (the code cell after the heading
    tagged ``banner-archive``), run in one namespace as the kernel runs them on ``archive``: the namespace, what
    the cells display and what they glue."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    tags = [c["metadata"].get("tags", []) for c in cells]
    params = tags.index(["parameters"])
    setup_end = next(i for i in range(params, len(cells)) if cells[i]["cell_type"] == "markdown")
    banner = next(i for i, t in enumerate(tags) if "banner-archive" in t)
    rep_cell = next(i for i in range(banner, len(cells)) if cells[i]["cell_type"] == "code")
    networks = next(i for i, c in enumerate(cells) if c["id"] == "c013b")
    shown, glued = [], {}
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: shown.extend(objs))
    monkeypatch.setattr(report, "glue", lambda name, value, display=False: glued.__setitem__(name, value))
    namespace: dict = {}
    exec(compile("".join(cells[params]["source"]), NOTEBOOK.name, "exec"), namespace)
    namespace["archive"] = str(archive)  # as papermill's -p archive <folder>
    for i in [*range(params + 1, setup_end), networks, rep_cell]:
        exec(compile("".join(cells[i]["source"]), NOTEBOOK.name, "exec"), namespace)
    return namespace, shown, glued


def _texts(shown: list) -> str:
    return "\n".join(str(getattr(o, "data", o)) for o in shown if isinstance(o, str) or hasattr(o, "data"))


@pytest.fixture
def addition_only(monkeypatch):
    """Chapter 8 shrunk to addition, the task the tiny protocol trains (psMNIST is not shrunk): its protocol and
    its Table 2 and Fig. 5 tasks."""
    monkeypatch.setitem(book.CHAPTER_TASKS, STEM, ("addition",))
    monkeypatch.setattr(evidence, "TABLE2_TASKS", ("addition",))


def test_chapter_8_reads_archive_v1_until_its_tasks_v2_stage_2_is_complete_then_v2_only(tmp_path, tiny_v2_protocol,
                                                                                      monkeypatch, addition_only):
    """Before the switch the chapter shows archive v1's section and names archive v1; after it, the protocol-v2
    section alone, with the plan's verdicts, and its prose names the protocol-v2 runs."""
    ns, shown, glued = _run_chapter(monkeypatch, tmp_path)
    assert ns["protocol"] == "v1" and isinstance(ns["rep"], weights.Analysis)
    text = _texts(shown)
    assert "**The replicate runs of archive v1**" in text and "No replicate runs to analyse yet" in text
    assert not [o for o in shown if isinstance(o, Figure)] and "protocol-v2 runs**" not in text

    replicate.run("addition", protocol="v2", root=tmp_path, max_workers=1, progress=False, verbose=False)
    monkeypatch.setitem(book.CHAPTER_TASKS, STEM, ("addition", "psmnist"))
    assert book.chapter_protocol(STEM, tmp_path) == "v1"  # addition alone is not enough: psMNIST is not stored
    monkeypatch.setitem(book.CHAPTER_TASKS, STEM, ("addition",))
    assert book.chapter_protocol(STEM, tmp_path) == "v2"

    ns, shown, glued = _run_chapter(monkeypatch, tmp_path)
    s = ns["rep"]
    assert ns["protocol"] == "v2" and isinstance(s, ws.WeightsSection) and s.tasks == ["addition"]
    text = _texts(shown)
    assert "**The replicate runs of protocol v2**" in text and "**protocol-v2 runs**" in text
    assert "The results archive (" not in text and "No replicate runs to analyse yet" not in text  # nothing of v1
    assert "archive v1" not in shown[0].data  # the list of networks
    assert [f.name for f in shown if isinstance(f, Figure)] == ["replicate-weights-table2", "replicate-weights-fig5"]
    assert glued["nb08_rep_n_networks"] == len(s.networks) > 0 and glued["nb08_rep_summary"] == s.values()["summary"]
    assert glued["nb08_archive_commit"] == s.commit

    # the verdicts are the results page's rows, computed there by the same functions
    assert s.table2_rows == evidence.table2_rows(tmp_path, ["addition"])
    assert s.fig5_rows == evidence.fig5_rows(tmp_path, ["addition"])
    assert all(r["verdict"] != evidence.PENDING for r in s.table2_rows + s.fig5_rows)
    _, runs = evidence.stage2("addition", tmp_path)
    h = evidence.henrici_excesses("addition", runs, tmp_path)
    cols = ["init", "seed", "trained", "null_median"]  # the same computation in the same process: equal, not close
    assert s.henrici[cols].to_dict("records") == h[cols].to_dict("records")
    per, peak = evidence.fig5_excesses("addition", runs, tmp_path)
    assert s.peaks == {("addition", i): lag for i, lag in peak.items()}
    assert s.fig5_networks["excess"].tolist() == per["excess"].tolist()

    # the agreement table and sentences follow the two rows of each group
    table = s.agreement_table()
    assert table["Table 2"].tolist() == [r["verdict"] for r in s.table2_rows]
    assert table["Fig. 5"].tolist() == [r["verdict"] for r in s.fig5_rows]
    *_, sentences = s.agreement()
    for (task, init), a, b in zip(s.groups(), s.table2_rows, s.fig5_rows):
        assert ws.agreement_sentence(task, init, a, b, s.peaks.get((task, init), float("nan"))) in sentences

    # diverged networks are counted and named as left out; the analysed ones are those that did not diverge
    status = s.status_table()
    for (task, init), row in zip(s.groups(), status.itertuples(index=False)):
        g = runs[runs["init"] == init]
        assert row[3] == int((~g["diverged"]).sum()) and row[5] == int(g["diverged"].sum())

    # every figure: labelled axes, a caption that says what was computed, on which runs, and what the paper reported
    figures = [f for f in shown if isinstance(f, Figure)]
    for f in figures:
        assert all(ax.get_xlabel() and ax.get_ylabel() for ax in f.fig.axes), [(a.get_xlabel(), a.get_ylabel()) for a in f.fig.axes]
        assert "protocol-v2 runs" in f.caption and s.archive in f.caption and "paper" in plain_text(f.caption)
        assert re.search(r"computed .* by `nnrnn\.(evidence|weights)\.\w+`", f.caption)
    table2_fig = figures[0].fig
    assert [ax.get_title() for ax in table2_fig.axes] == [
        "addition\ndiverged, left out: " + ", ".join(f"{i} {int(runs[runs['init'] == i]['diverged'].sum())}" for i in evidence.NORMAL)]


def test_the_per_network_measures_are_computed_once(tmp_path, tiny_v2_protocol, monkeypatch):
    """The results page's rows recompute Henrici's null and the diagonal means the figures need; within the section
    both are computed once per network (the section hands its measures to the rows)."""
    replicate.run("addition", protocol="v2", root=tmp_path, max_workers=1, progress=False, verbose=False)
    calls = {"henrici": 0, "means": 0}
    henrici_excess, diagonal_means = stats.henrici_excess, weights.network_diagonal_means

    def counted_henrici(*a, **k):
        calls["henrici"] += 1
        return henrici_excess(*a, **k)

    def counted_means(networks, *a, **k):
        calls["means"] += len(networks)
        return diagonal_means(networks, *a, **k)

    monkeypatch.setattr(stats, "henrici_excess", counted_henrici)
    monkeypatch.setattr(weights, "network_diagonal_means", counted_means)
    s = ws.weights_section(tmp_path, ["addition"])
    assert calls["henrici"] == calls["means"] == len(s.networks) > 0  # not twice: rows and figures share them


@pytest.mark.parametrize("t2, f5, peak, said", [
    ("reproduced", "reproduced", 2.0, ["Table 2 and Fig. 5 agree: both read *reproduced*", "peaks at i − j = 2, forward",
                                       "They need not have, since they measure different things"]),
    ("not reproduced", "reproduced", 6.0, ["Table 2 and Fig. 5 disagree: Table 2 reads *not reproduced*, Fig. 5 reads *reproduced*",
                                           "overall departure from normality", "random change of the same size",
                                           "no-pulse control", "forward-ordered chain", "(here it is less)"]),
    ("reproduced", "inconclusive", -3.0, ["disagree: Table 2 reads *reproduced*, Fig. 5 reads *inconclusive*",
                                          "peaks at i − j = -3, backward", "directions that no pulse ordering shows"]),
    ("consistent", "reproduced", -9.0, ["disagree", "peaks at i − j = -9, backward",
                                        "Fig. 5 does not support the claim here", "forward-ordered chain"]),
    ("consistent", "inconclusive", float("nan"), ["neither Table 2 (*consistent*) nor Fig. 5 (*inconclusive*) shows a "
                                                  "significant effect", "has no positive peak"]),
    ("not testable", "reproduced", 1.0, ["Table 2 cannot show the paper's effect with these networks"]),
    (evidence.PENDING, evidence.PENDING, float("nan"), [f"are not compared yet: {evidence.PENDING}"]),
])
def test_the_agreement_sentence_follows_the_two_rows_labels(t2, f5, peak, said):
    """Synthetic rows: agreement, each direction of disagreement with why it is possible, a significant Fig. 5
    that peaks backward (no support by the plan's rule), two non-significant labels, and rows not yet judged."""
    text = ws.agreement_sentence("psmnist", "orthogonal", {"verdict": t2}, {"verdict": f5}, peak)
    assert text.startswith("For psMNIST, orthogonal, ")
    for part in said:
        assert part in text, (part, text)
    agree, disagree = "Table 2 and Fig. 5 agree", "Table 2 and Fig. 5 disagree"
    assert (agree in text) == (t2 == f5 != evidence.PENDING) and not (agree in text and disagree in text)


def test_the_chapter_names_the_run_set_it_reads():
    """The introduction, overview, list of networks and summary no longer say "archive v1" themselves: the
    words come from chapter_text, which names archive v1 only where the chapter reads it."""
    v1, v2 = ws.chapter_text("v1"), ws.chapter_text("v2")
    assert set(v1) == set(v2) == {"reads", "set", "overview", "networks"}
    assert all("archive v1" in v1[k] for k in ("reads", "set", "networks"))
    assert not [k for k, t in v2.items() if "archive v1" in t] and "protocol-v2 runs" in v2["reads"]
    assert "**The replicate runs of protocol v2**" in v2["networks"] and "**best (not successful)**" in v2["networks"]
    cells = _cells()
    for cid in ("c000", "c001", "c013", "c027"):
        assert "archive v1" not in cells[cid]["source"] and "Archive v1" not in "".join(cells[cid]["source"]), cid
    quoted = "".join(cells["c000"]["source"] + cells["c001"]["source"] + cells["c027"]["source"])
    assert {"nb08_rep_reads", "nb08_rep_set", "nb08_rep_overview", "nb08_rep_summary"} <= set(re.findall(r"`(nb08_rep_\w+)`", quoted))
    with pytest.raises(ValueError, match=r"protocol must be one of \['v1', 'v2'\], got 'v3'"):
        ws.chapter_text("v3")


def test_bad_tasks_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"each of tasks must be one of \['addition', 'psmnist', 'copy'\], got 'mnist'"):
        ws.weights_section(tmp_path, ["mnist"])
    with pytest.raises(ValueError, match=r"tasks must be a non-empty sequence of tasks among .*got 'addition'"):
        ws.weights_section(tmp_path, "addition")


def test_an_incomplete_task_reads_pending_and_draws_nothing(tmp_path, tiny_v2_protocol):
    """Forced before its stage 2 is stored (the chapter never does this), the section gives the results page's
    pending rows and no figure, and says which stage 2 is missing."""
    s = ws.weights_section(tmp_path, ["addition"])
    assert s.networks.empty and s.complete_tasks == [] and s.stored["addition"][0] == 0
    assert {r["verdict"] for r in s.table2_rows + s.fig5_rows} == {evidence.PENDING}
    items = [i for p in s.PARTS for i in getattr(s, p)()]
    assert not [i for i in items if isinstance(i, Figure)]
    assert "The stage 2 of addition is not complete yet" in items[0]
