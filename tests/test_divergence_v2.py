"""Chapter 10 on either protocol (issue: the divergence chapter reads the protocol-v2 runs once every task's
v2 stage 2 is complete, archive v1 until then, never both on one page).

The store is conftest's tiny protocol v2 (``tiny_v2_protocol``): addition's pilot, divergence screen and stage 2,
trained once for this module, beside a protocol-v1 pilot of the same tiny addition. Copy and psMNIST have no
runs there; ``evidence.is_complete`` is patched to call them complete (or not), since they would take hours.
The chapter is executed in this process, cell by cell as IPython would, so that the tiny protocol's patches
reach it; what it displays and glues is collected.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import IPython.display  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from nnrnn import divergence, evidence, replicate, sweep  # noqa: E402
from nnrnn.pages import divergence as dpage  # noqa: E402
from nnrnn.pages import report  # noqa: E402
from nnrnn.pages.section import Figure  # noqa: E402
from nnrnn.plotting import divergence as dplot  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CHAPTER = REPO / "notebooks" / "10-divergence.ipynb"
INITS = ("identity", "orthogonal", "chain", "fb_chain")
_STORE: dict[str, Path] = {}


@pytest.fixture
def store(tiny_v2_protocol, tmp_path_factory) -> Path:
    """A results root with the tiny addition's protocol-v2 runs (every stage) and its protocol-v1 pilot,
    trained on first use (the tiny protocol's patches are the same in every test), and the chapter's own
    runs (``divergence/``, the committed ones, linked)."""
    if "root" not in _STORE:
        root = tmp_path_factory.mktemp("ch10-store")
        replicate.run("addition", protocol="v2", root=root, max_workers=1, progress=False, verbose=False)
        replicate.run("addition", protocol="v1", stages=("pilot",), root=root, max_workers=1, progress=False, verbose=False)
        assert evidence.is_complete("addition", root), evidence.progress("addition", root)
        (root / "divergence").symlink_to(REPO / "data" / "divergence", target_is_directory=True)
        _STORE["root"] = root
    return _STORE["root"]


def _complete_but(monkeypatch, incomplete: tuple[str, ...]) -> None:
    """``evidence.is_complete`` (which ``evidence.chapter_protocol`` asks) as it is for addition (the stored tiny
    runs), and True for copy and psMNIST unless named."""
    real = evidence.is_complete
    monkeypatch.setattr(evidence, "is_complete", lambda t, root=None: real(t, root) if t == "addition" else t not in incomplete)


def _execute(archive: Path, monkeypatch) -> tuple[dict, list, dict]:
    """Run the chapter's code cells (the Colab cell left out) with ``archive`` and ``cache="require"``:
    its namespace, what it displayed (a cell's last expression too) and what it glued."""
    shown, glued = [], {}
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    monkeypatch.setattr(report, "glue", lambda name, value, display=False: glued.__setitem__(name, value))
    monkeypatch.setenv("NNRNN_ARCHIVE_DIR", str(archive))  # the chapter sets it too; restored after the test
    ns: dict = {"__name__": "__main__"}
    with plt.rc_context():  # the chapter's style stays in the chapter
        for cell in json.loads(CHAPTER.read_text())["cells"]:
            tags = cell["metadata"].get("tags", [])
            if cell["cell_type"] != "code" or "remove-cell" in tags:
                continue
            tree = ast.parse("".join(cell["source"]))
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            exec(compile(tree, CHAPTER.name, "exec"), ns)
            if last is not None and (value := eval(compile(ast.Expression(last.value), CHAPTER.name, "eval"), ns)) is not None:
                shown.append(value)
            if "parameters" in tags:
                ns.update(archive=str(archive), cache="require")
    plt.close("all")
    return ns, shown, glued


def _figures(shown) -> dict[str, Figure]:
    return {f.name: f for f in shown if isinstance(f, Figure)}


def _words(shown, glued) -> str:
    """Every sentence the page shows: its Markdown, its captions and its glued text."""
    texts = [s.data for s in shown if isinstance(s, IPython.display.Markdown)] + [s for s in shown if isinstance(s, str)]
    texts += [f.caption for f in _figures(shown).values()] + [v for v in glued.values() if isinstance(v, str)]
    return "\n".join(texts)


def test_the_chapter_reads_archive_v1_until_every_task_is_complete(store, monkeypatch):
    """Addition's v2 runs are all stored, but copy's are not: the page is protocol v1's alone, though v2
    runs lie in the same store (never both)."""
    _complete_but(monkeypatch, ("copy",))
    assert evidence.chapter_protocol("10-divergence", store) == "v1"
    ns, shown, glued = _execute(store, monkeypatch)
    assert ns["protocol"] == "v1" and glued["nb10_runs"] == "archive v1" and glued["nb10_stages"] == "pilot, stage 2"
    assert set(ns["maps"]["addition"]["seed"]) == {replicate.PILOT_SEED}  # the v1 pilot, not v2's seeds 101 and 102
    assert ns["screens"] == {} and all(s.empty for s in ns["stage2"].values())  # v1 has no screen, and no stage 2 here
    figs = _figures(shown)
    assert set(figs) == {"nb10-maps"} and "protocol v1" in figs["nb10-maps"].caption
    words = _words(shown, glued)
    assert "No stage-2 run of protocol v1 is stored" in words and "Protocol v1 had no divergence screen" in words
    assert "protocol v2" not in words.lower() and "protocol-v2" not in words


def test_the_chapter_reads_protocol_v2_once_every_task_is_complete(store, monkeypatch):
    _complete_but(monkeypatch, ())
    assert evidence.chapter_protocol("10-divergence", store) == "v2"
    ns, shown, glued = _execute(store, monkeypatch)
    assert ns["protocol"] == "v2" and glued["nb10_runs"] == "the protocol-v2 runs"
    assert glued["nb10_stages"] == "pilot, divergence screen, stage 2"
    # the pilot at both pilot seeds, one cell per setting; the screen and stage 2 as stored
    assert set(ns["maps"]["addition"]["seed"]) == {101, 102} and (ns["cells"]["addition"]["seeds"] == 2).all()
    _, want = evidence.stage2("addition", store)
    assert sorted(ns["stage2"]["addition"]["hash"]) == sorted(want["hash"]) and set(want["seed"]) == {1, 2}
    assert sorted(ns["screens"]["addition"]["hash"]) == sorted(_screen_runs(store)["hash"])
    figs = _figures(shown)
    assert set(figs) == {"nb10-maps", "nb10-screen", "nb10-rho", "nb10-henrici", "nb10-km"}
    for name, f in figs.items():
        assert "protocol v2" in f.caption or "protocol-v2" in f.caption, name
        assert "protocol v1" not in f.caption and "archive v1" not in f.caption, name
    assert "worse outcome of its two seeds" in figs["nb10-maps"].caption  # how two seeds are shown, stated
    assert "addition at seeds 1 and 2 for at most 25" in figs["nb10-km"].caption  # stage 2 as the protocol defines it
    words = _words(shown, glued)
    assert "one seed, one epoch" not in words and "page of archive v1" not in words and "seeds 1-3 on copy" not in words
    assert glued["nb10_screen_text"].startswith("Trained for longer at the pilot seeds") and "addition: none of its 4" in glued["nb10_screen_text"]
    assert glued["nb10_maps_text"].startswith("Settings that diverged in the pilots on either of seeds 101 and 102")
    assert "addition: none of its 8 runs diverged" in glued["nb10_km_text"]


def _screen_runs(root) -> pd.DataFrame:
    out = replicate.run("addition", protocol="v2", root=root, dry_run=True, verbose=False)
    return sweep.load_runs("addition", configs=out["screen"], root=replicate.protocol_root("v2", root))


def test_the_v2_stage2_runs_are_evidence_stage2s(store):
    got = divergence.stage2_runs("addition", store, protocol="v2")
    _, want = evidence.stage2("addition", store)
    assert len(want) == 8 and sorted(got["hash"]) == sorted(want["hash"])
    assert set(got["outcome"]) <= set(divergence.OUTCOMES) and (got["diverged_at"].notna() == got["diverged"].astype(bool)).all()
    assert divergence.stage2_runs("addition", store).empty  # protocol v1's (the default): none stored here
    traj = divergence.trajectories(got, store, protocol="v2")  # their histories live under <root>/v2
    assert set(traj["hash"]) == set(want["hash"]) and np.isfinite(traj["rho"].astype(float)).all()
    empty = divergence.stage2_runs("copy", store, protocol="v2")  # nothing planned yet: the columns, no rows
    assert empty.empty and {"init", "diverged", "n_updates", "outcome", "diverged_at"} <= set(empty.columns)
    with pytest.raises(ValueError, match=r"protocol must be one of \['v1', 'v2'\], got 'v3'"):
        divergence.stage2_runs("addition", store, protocol="v3")


def test_the_screen_outcomes_are_the_stored_screen_runs(store):
    runs = _screen_runs(store)
    got = divergence.screen_outcomes("addition", store)
    assert len(runs) == 8 and sorted(got["hash"]) == sorted(runs["hash"])  # one candidate per initializer x 2 seeds
    by = got.set_index("hash")
    for r in runs.itertuples(index=False):
        assert (by.loc[r.hash, "outcome"] == "diverged") == r.diverged and by.loc[r.hash, "n_updates"] == r.n_updates
        assert np.isnan(by.loc[r.hash, "diverged_at"]) != r.diverged
    sel = replicate.run("addition", protocol="v2", root=store, dry_run=True, verbose=False)["selection"]
    chosen = got[got["selected"]]
    assert sorted(set(zip(chosen["init"], chosen["scale"], chosen["lr"]))) == sorted(
        (i, r["scale"], r["lr"]) for i, r in sel.iterrows())
    pilot = replicate.pilot_grid("addition", "v2").configs()[0]
    assert (got["pilot_updates"] == pilot.epochs * pilot.updates_per_epoch).all()
    assert divergence.screen_outcomes("copy", store).empty  # no pilot stored: no screen


def test_a_screen_divergence_is_timed(monkeypatch):
    """A diverged screen run's ``diverged_at`` is the updates it survived; the others' is NaN."""
    cfg = replicate.pilot_grid("copy", "v2").configs()[0]
    runs = pd.DataFrame({"hash": ["a", "b"], "init": ["identity"] * 2, "scale": [0.99] * 2, "lr": [1e-4] * 2,
                         "seed": [101, 102], "status": ["diverged", "finished"], "final_val_loss": [np.nan, 0.03],
                         "baseline": [0.04] * 2, "success": [False] * 2, "diverged": [True, False], "n_updates": [3960, 11250]})
    sel = pd.DataFrame({"scale": [0.99], "lr": [5e-5]}, index=pd.Index(["identity"], name="init"))
    monkeypatch.setattr(replicate, "run", lambda *a, **k: {"pilot": replicate.pilot_grid("copy", "v2"), "screen": [cfg],
                                                           "selection": sel})
    monkeypatch.setattr(sweep, "load_runs", lambda *a, **k: runs)
    got = divergence.screen_outcomes("copy")
    assert got["outcome"].tolist() == ["diverged", "below baseline"] and got["diverged_at"].iloc[0] == 3960
    assert np.isnan(got["diverged_at"].iloc[1]) and not got["selected"].any()  # the selected setting is another lr
    assert (got["pilot_updates"] == 3750).all()  # the copy pilot's one epoch


def test_setting_outcomes_keep_the_worse_seed_and_the_earlier_divergence():
    p = pd.DataFrame({"init": ["chain"] * 4, "scale": [1.0] * 4, "lr": [1e-4, 1e-4, 1e-5, 1e-5], "seed": [101, 102] * 2,
                      "outcome": ["diverged", "diverged", "success", "below baseline"], "diverged_at": [900.0, 40.0, np.nan, np.nan]})
    got = divergence.setting_outcomes(p)
    assert got[["lr", "outcome", "seeds", "agree"]].to_dict("records") == [
        {"lr": 1e-4, "outcome": "diverged", "seeds": 2, "agree": True},
        {"lr": 1e-5, "outcome": "below baseline", "seeds": 2, "agree": False}]
    assert got["diverged_at"].iloc[0] == 40.0 and np.isnan(got["diverged_at"].iloc[1])  # the earlier of 900 and 40
    with pytest.raises(ValueError, match=r"each outcome must be one of .*, got \['exploded'\]"):
        divergence.setting_outcomes(p.assign(outcome="exploded"))
    with pytest.raises(ValueError, match=r"pilot must be a table with columns .*, got one without \['seed'\]"):
        divergence.setting_outcomes(p.drop(columns="seed"))


def test_the_maps_need_one_row_per_setting_and_mark_disagreeing_seeds():
    p = pd.DataFrame({"init": ["chain"] * 4, "scale": [1.0, 1.0, 1.02, 1.02], "lr": [1e-4] * 4, "seed": [101, 102] * 2,
                      "outcome": ["diverged", "success", "at baseline", "at baseline"], "diverged_at": [30.0, np.nan, np.nan, np.nan]})
    with pytest.raises(ValueError, match=r"maps\['copy'\] must have one row per setting .*divergence\.setting_outcomes"):
        dplot.stability_maps({"copy": p}, ["chain"])
    with pytest.raises(ValueError, match="maps must hold a task with pilot runs, got none among"):
        dplot.stability_maps({"copy": p.iloc[:0]}, ["chain"])
    fig = dplot.stability_maps({"copy": divergence.setting_outcomes(p)}, ["chain"])
    ax = fig.axes[0]
    # a row per initializer, a column per task (three columns fit the page: tests/test_figures_v2_readable.py)
    assert ax.get_xlabel() == "learning rate" and ax.get_ylabel() == "chain\nscale" and ax.get_title() == "copy"
    dots = [ln for ln in ax.get_lines() if ln.get_label() == "seeds disagree"]
    assert [(list(d.get_xdata()), list(d.get_ydata())) for d in dots] == [([0], [0])]  # scale 1.0 (row 0), the only lr
    assert "seeds disagree" in [t.get_text() for t in fig.legends[0].get_texts()]
    plt.close(fig)


def test_the_screen_figure_labels_its_axes_and_marks_divergence_and_the_pilot():
    s = pd.DataFrame({"init": ["identity"] * 4, "scale": [0.99] * 4, "lr": [1e-4, 1e-4, 5e-5, 5e-5], "seed": [101, 102] * 2,
                      "outcome": ["diverged", "diverged", "at baseline", "at baseline"], "diverged_at": [3960.0, 6263.0, np.nan, np.nan],
                      "n_updates": [3960, 6263, 11250, 11250], "pilot_updates": [3750] * 4, "selected": [False, False, True, True]})
    fig = dplot.screen_runs({"copy": s, "addition": s.iloc[:0]}, INITS)
    assert len(fig.axes) == 1  # a task without screen runs gets no panel
    ax = fig.axes[0]
    assert ax.get_xlabel() == "update (thousands)" and ax.get_ylabel() == "candidate (scale, learning rate)"
    assert ax.get_title() == "copy"
    crosses = [ln for ln in ax.get_lines() if ln.get_marker() == "x"]
    assert sorted(float(c.get_xdata()[0]) for c in crosses) == [3.96, 6.263]
    assert [ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_label() == "end of the pilot's run"] == [3.75]
    bold = [t.get_text() for t in ax.get_yticklabels() if t.get_fontweight() == "bold"]
    assert bold == ["0.99, 5e-5"]  # the selected candidate
    assert ax.get_xlim()[1] > 11.25  # the last bar is not cut at the edge
    plt.close(fig)
    with pytest.raises(ValueError, match="screens must hold a task with screen runs"):
        dplot.screen_runs({"copy": s.iloc[:0]}, INITS)


def test_the_design_is_read_from_the_protocol(tiny_v2_protocol):
    """The chapter's sentences follow the protocol's definition, not a copy of it: the tiny protocol (one
    scale, a one-epoch screen of one candidate, stage-2 seeds 1-2 on addition) reads as such."""
    v1, v2 = dpage.design("v1"), dpage.design("v2")
    assert v1["pilot"].startswith("one seed, 3, which stage 2 also uses; one epoch; two scales per initializer")
    assert v1["screen"] == "" and v1["page"] == "the [page of archive v1](00-results-v1)"
    assert v2["pilot"] == "two seeds, 101 and 102, which stage 2 does not use; one epoch; one scale per initializer × the paper's one learning rate"
    assert v2["screen"].startswith("each initializer's one best candidates trained for one epoch at both pilot seeds")
    assert v2["stage2"] == "copy at seeds 1-6 for at most 100 epochs, addition at seeds 1 and 2 for at most 25, psMNIST at seeds 1-6 for at most 20"
    t1, t2 = dpage.texts("v1"), dpage.texts("v2")
    assert t1["screen_caption"] == "" and "Each cell is one run." in t1["maps_caption"]
    assert all("protocol v1" in t1[k] for k in ("maps_caption", "rho_caption", "henrici_caption", "km_caption"))
    assert all("protocol v2" in t2[k] for k in ("maps_caption", "screen_caption", "rho_caption", "henrici_caption", "km_caption"))
    with pytest.raises(ValueError, match=r"protocol must be one of \['v1', 'v2'\], got 'v0'"):
        dpage.design("v0")
