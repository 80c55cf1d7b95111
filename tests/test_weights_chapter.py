"""The chapters' helpers moved into the package (issue 9): nb01's Fisher-memory networks
(nnrnn.memory) and nb08's multi-task sweep and analysis (nnrnn.weights), with the replicate
archive missing and present (issue 11)."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

from nnrnn import archive, book, evidence, init, memory, sweep, verdicts, weights
from nnrnn.pages import weights_section
from nnrnn.plotting import weights as wplot
from nnrnn.verdicts import VERDICTS

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)


# ----------------------------------------------------------------------------- chapter 01: nnrnn.memory
def test_four_networks_are_the_chapters_matrices_and_inputs():
    nets = memory.four_networks(6, lam=0.8, alpha=1.3, fb_alpha=0.97, beta=0.05, generator=torch.Generator().manual_seed(4))
    assert list(nets) == list(memory.NETWORKS)
    # Q is the first draw of the generator, v the second: the order chapter 01 has always used
    g = torch.Generator().manual_seed(4)
    q = init.orthogonal_matrix(6, 0.8, generator=g)
    v = torch.randn(6, generator=g, dtype=torch.float64)
    assert torch.equal(nets["orthogonal"][0], q)
    assert torch.equal(nets["orthogonal"][1], v / torch.linalg.vector_norm(v))
    assert torch.equal(nets["identity"][1], nets["orthogonal"][1])  # the normal networks share one v
    assert torch.equal(nets["identity"][0], init.identity_matrix(6, 0.8))
    assert torch.equal(nets["chain"][0], init.chain_matrix(6, 1.3))
    assert torch.equal(nets["fb_chain"][0], init.fb_chain_matrix(6, 0.05, 0.97))
    for name in ("chain", "fb_chain"):  # the chains take the input at their source
        assert nets[name][1].tolist() == [1.0, 0, 0, 0, 0, 0]


def test_memory_curves_are_the_closed_forms():
    n, k_max, lam, alpha = 12, 18, 0.7, 1.1
    out = memory.memory_curves(n, k_max, lam=lam, alpha=alpha, generator=torch.Generator().manual_seed(0))
    assert set(out) == {f"{q}_{name}" for q in ("J", "norm", "jtot") for name in memory.NETWORKS}
    for name in ("identity", "orthogonal"):
        np.testing.assert_allclose(out[f"J_{name}"], memory.normal_memory_curve(lam, k_max), atol=1e-12)
        assert out[f"jtot_{name}"] == pytest.approx(1.0, abs=1e-10)
    np.testing.assert_allclose(out["J_chain"], memory.chain_memory_curve(n, alpha, k_max), rtol=1e-10)
    np.testing.assert_allclose(out["norm_chain"][:n], alpha ** np.arange(n), rtol=1e-12)
    assert out["jtot_chain"] == pytest.approx(memory.chain_total_memory(n, alpha), rel=1e-10)


def test_total_vs_n_draws_a_fresh_network_at_each_size():
    ns = [4, 9, 16]
    out = memory.total_vs_n(ns, alpha=1.2, generator=torch.Generator().manual_seed(1))
    assert out["ns"] == ns and all(len(out[k]) == 3 for k in (*memory.NETWORKS, "chain_closed"))
    np.testing.assert_allclose(out["orthogonal"], 1.0, atol=1e-10)
    np.testing.assert_allclose(out["chain"], [memory.chain_total_memory(n, 1.2) for n in ns], rtol=1e-10)
    assert out["chain_closed"] == [memory.chain_total_memory(n, 1.2) for n in ns]
    assert np.all(np.diff(out["fb_chain"]) > 0)
    with pytest.raises(ValueError, match=r"^each size in ns must be a positive integer, got 0$"):
        memory.total_vs_n([3, 0])


def test_reference_table_matches_the_rounded_reference_values():
    t = memory.reference_table(generator=torch.Generator().manual_seed(0))
    assert len(t["ours"]) == len(t["closed"]) == len(memory.REFERENCE_TOTALS)
    for (name, gain, fb, n, value, dec), ours, closed in zip(memory.REFERENCE_TOTALS, t["ours"], t["closed"]):
        assert abs(ours - value) <= 0.5 * 10.0**-dec + 1e-9, (name, gain, fb, n)
        assert math.isnan(closed) if name == "fb_chain" else ours == pytest.approx(closed, rel=1e-9)
    with pytest.raises(ValueError, match=r"^network must be one of \['chain', 'fb_chain', 'orthogonal'\], got 'ring'$"):
        memory.reference_table([("ring", 1.0, None, 5, 1.0, 3)])


# ----------------------------------------------------------------------------- chapter 08: nnrnn.weights
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A run store as chapters 4-5 leave it on smoke: chapter 5's whole addition grid (four
    initializers); copy is not stored yet."""
    root = tmp_path_factory.mktemp("store")
    sweep.run_sweep(sweep.grid("addition", "smoke"), root=root, executor="serial", progress=False)
    return root


@pytest.fixture(scope="module")
def trained(store):
    return weights.train_networks("smoke", tasks=("addition", "copy"), root=store, device="cpu")


def test_train_networks_reads_the_benchmark_chapters_runs_and_trains_the_rest(store, trained):
    runs = trained.runs
    grids = weights.network_grids("smoke", tasks=("addition", "copy"), device="cpu")
    for task in ("addition", "copy"):
        chapter = sweep.grid(task, "smoke", device="cpu")
        expected = {c.hash() for c in chapter.configs() if c.init in weights.INITS}
        assert {c.hash() for c in grids[task].configs()} == expected  # the chapter's configs, hence its hashes
        assert set(runs.loc[runs["task"] == task, "hash"]) == expected
        assert trained.roots[task] == store
    assert set(runs["init"]) == set(weights.INITS)
    # chapter 5 stored addition: nothing retrained; copy was missing: trained here
    assert not runs.loc[runs["task"] == "addition", "trained_now"].any()
    assert runs.loc[runs["task"] == "copy", "trained_now"].all()
    again = weights.train_networks("smoke", tasks=("addition", "copy"), root=store, device="cpu", cache="require")
    assert not again.runs["trained_now"].any() and list(again.runs["hash"]) == list(runs["hash"])


def test_network_grids_overrides_apply_to_their_task_only():
    grids = weights.network_grids("smoke", tasks=("addition", "copy"), overrides={"copy": {"hidden_size": 9}})
    assert {c.hidden_size for c in grids["copy"].configs()} == {9}
    assert {c.hidden_size for c in grids["addition"].configs()} == {sweep.grid("addition", "smoke").configs()[0].hidden_size}


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: weights.network_grids("smoke", tasks=("mnist",)), r"^each of tasks must be one of \['addition', 'psmnist', 'copy'\], got 'mnist'$"),
        (lambda: weights.network_grids("smoke", tasks=()), r"^tasks must be a non-empty sequence of"),
        (lambda: weights.network_grids("smoke", inits=("ring",)), r"^each of inits must be one of"),
        (lambda: weights.network_grids("smoke", tasks=("copy",), overrides={"psmnist": {}}),
         r"^overrides must be a mapping keyed by tasks among \['copy'\], got \['psmnist'\]$"),
        (lambda: weights.network_grids("tiny"), r"^profile must be one of"),
        (lambda: weights.analyse(pd.DataFrame({"task": []}), at_paper_scale=True), r"^runs must be a table with columns"),
        (lambda: weights.normality_summary(pd.DataFrame(), at_paper_scale=True), r"^per_network must be a table with columns"),
        (lambda: weights.normality_summary(_per([0.0, 0.0], [1.0, 2.0]), at_paper_scale="yes"),
         r"^at_paper_scale must be True or False, got 'yes'$"),
    ],
)
def test_bad_inputs_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _per(before, after, floor=3e-6):
    return pd.DataFrame({"task": "addition", "init": "orthogonal", "henrici_before": before, "henrici_after": after,
                         "henrici_floor_before": floor, "henrici_floor_after": floor})


def test_normality_is_judged_against_the_noise_floor():
    """Issue 12 item 4: d(W) > 0 after training is what float32 rounding alone gives; the counts and
    the verdict compare with the floor."""
    rounding = weights.normality_summary(_per([0.0, 1e-7, 0.0], [1e-7, 2.5e-7, 2e-7]), at_paper_scale=True)
    assert rounding["after_above_floor"] == 0 and rounding["before_within_floor"] == 3 and rounding["floor"] == 3e-6
    # every increase is positive, but all of them lie within the floor: not "reproduced"
    assert rounding["verdict"].label == "consistent"
    moved = weights.normality_summary(_per([0.0, 1e-7, 0.0], [0.5, 0.8, 0.6]), at_paper_scale=True)
    assert moved["after_above_floor"] == 3 and moved["verdict"].label == "reproduced"
    assert moved["verdict"] == verdicts.increase_verdict([0.5, 0.8 - 1e-7, 0.6], at_paper_scale=True, floor=3e-6)
    assert weights.normality_summary(_per([0.0, 0.0], [0.5, 0.8]), at_paper_scale=False)["verdict"].label == VERDICTS[4]
    assert weights.normality_summary(_per([0.0], [0.5]), at_paper_scale=True)["verdict"] is None
    text = weights.normality_sentence(moved)
    assert "3 of 3 networks are normal up to rounding" in text and "3 of 3 lie above it" in text
    assert "reproduced" in text and "3.0e-06" in text
    assert "no test, and no verdict" in weights.normality_sentence(weights.normality_summary(_per([0.0], [0.5]), at_paper_scale=True))


def test_replicate_archive_missing(tmp_path):
    """No stage-2 runs in the archive (today's state): every table is empty, and nothing is claimed."""
    runs = weights.collect_runs(archive.replicate_runs, weights.TASKS, tmp_path)
    assert runs.empty and "task" in runs.columns
    a = weights.analyse(runs, weights.PulseSettings(steps=20), root=tmp_path, at_paper_scale=True)
    assert a.tasks == [] and a.networks.empty and a.per_network.empty and a.table2.empty and a.peaks.empty
    assert a.normality["n"] == 0 and a.normality["verdict"] is None
    assert weights.table2_summary(a).empty
    assert weights.normality_sentence(a.normality).startswith("No networks were analysed")


def test_replicate_archive_present(store, trained, monkeypatch):
    """The chapter's replicate path on tiny real runs standing in for the archive's stage-2 runs."""
    monkeypatch.setattr(archive, "replicate_runs", lambda task, root: sweep.load_runs(task, root=root))
    runs = weights.collect_runs(archive.replicate_runs, weights.TASKS, store)
    assert set(runs["task"]) == {"addition", "copy"} and set(runs["init"]) == set(weights.INITS)  # chains left out
    # copy enters only where one of its runs succeeded (the paper's Table 2 has no copy row)
    runs = runs.assign(success=runs["success"] & (runs["task"] != "copy"))
    a = weights.analyse(runs, weights.PulseSettings(steps=20), root=store, max_lag=5, at_paper_scale=True)
    assert a.tasks == ["addition"]
    assert set(a.per_network["hash"]) == set(a.networks["hash"]) <= set(runs.loc[runs["task"] == "addition", "hash"])
    assert a.normality["n"] == len(a.networks) and a.normality["verdict"].label != VERDICTS[4]
    assert a.normality == {**weights.normality_summary(a.per_network, at_paper_scale=True)}
    assert set(a.diagonal_means["ordering"]) == {weights.PULSE, weights.NO_PULSE} and "ordering" in a.agg
    assert list(a.peaks["ordering"][:2]) == [weights.PULSE, weights.NO_PULSE]  # the control right below its row
    t = weights.table2_summary(a)
    assert list(t.index) == [("addition", "identity"), ("addition", "orthogonal")]
    for (task, init), row in t.iterrows():
        g = a.per_network[a.per_network["init"] == init]
        assert row["after: above floor"] == f"{int((g['henrici_after'] > g['henrici_floor_after']).sum())} / {len(g)}"
        assert row["d(W) after, paper"].startswith(f"{weights.PAPER_TABLE2[(task, init)][0]:.3g} ± ")
    copied = runs.assign(success=runs["success"] | ((runs["task"] == "copy") & (runs["seed"] == runs["seed"].min())))
    b = weights.analyse(copied, weights.PulseSettings(steps=20), root=store, max_lag=5, at_paper_scale=True)
    assert b.tasks == ["addition", "copy"]
    # the figures of the chapter's replicate section draw these tables with labelled axes
    for fig in (wplot.table2_henrici(a.per_network, tasks=a.tasks, paper=weights.PAPER_TABLE2),
                wplot.fig5_diagonal_means(a.agg[a.agg["ordering"] == weights.PULSE], tasks=a.tasks, max_lag=5)):
        assert fig.axes[0].get_ylabel() and any(ax.get_xlabel() for ax in fig.axes)
        plt.close(fig)


@pytest.mark.slow
def test_chapter_glue_matches_the_run_store(glued, smoke_book):
    """Table 2 as glued by chapter 8 on smoke is recomputed, through the chapter's own functions,
    from the book's run store (nothing is trained: cache='require')."""
    check_chapter_glue(glued("08-trained-weights"), smoke_book / "store")


def check_chapter_glue(g, root):
    assert g["nb08_profile"] == g["nb08_live_profile"] == "smoke"
    # the replicate section reads the committed archive, which grows as the replicate set trains:
    # the count is recomputed from the archive, not assumed; archive v1 until the protocol-v2 stage 2 of
    # addition and psMNIST is complete, then the protocol-v2 runs (book.chapter_protocol), never both
    arch = archive.archive_root()
    protocol = book.chapter_protocol("08-trained-weights", arch)
    assert g["nb08_protocol"] == protocol and g["nb08_rep_set"] == weights_section.chapter_text(protocol)["set"]
    if protocol == "v2":
        s = weights_section.weights_section(arch, evidence.weight_tasks(arch))
        assert g["nb08_rep_n_networks"] == len(s.networks) and g["nb08_archive_commit"] == s.commit
        assert g["nb08_rep_summary"] == s.values()["summary"]
    else:
        rep_runs = weights.collect_runs(archive.complete_replicate_runs, weights.TASKS, arch)
        # the chapter's rule (weights.analyse): copy's networks only once a copy run has succeeded
        rep_runs = rep_runs[rep_runs["task"].isin(weights.analysed_tasks(rep_runs))] if len(rep_runs) else rep_runs
        expected = len(weights.select_networks(rep_runs)) if len(rep_runs) else 0
        assert g["nb08_rep_n_networks"] == expected
        assert g["nb08_archive_commit"] == archive.archive_commit(arch)
    trained = weights.train_networks("smoke", overrides={"psmnist": {"hidden_size": 25}}, root=root, cache="require",
                                     device="cpu")
    runs = trained.runs
    a = weights.analyse(runs, root=trained.roots, at_paper_scale=False)
    assert g["nb08_copy_any"] == int("copy" in a.tasks) == int(runs[runs["task"] == "copy"]["success"].any())
    for (task, init), row in a.table2.iterrows():
        assert g[f"nb08_d_{task}_{init}"] == pytest.approx(row["after_mean"])
        assert g[f"nb08_d_n_{task}_{init}"] == row["n"]
        assert g[f"nb08_n_success_{task}_{init}"] == int(runs[(runs.task == task) & (runs.init == init)]["success"].sum())
    assert g["nb08_n_above_floor"] == a.normality["after_above_floor"]
    assert g["nb08_n_within_floor_before"] == a.normality["before_within_floor"] == g["nb08_n_networks"]
    assert g["nb08_normality_sentence"] == weights.normality_sentence(a.normality)
    assert g["nb08_verdict"] == VERDICTS[4]  # smoke is not the paper's scale


def test_a_table2_pair_without_a_row_is_named_with_why():
    """Chapter 8's archive-v1 Table 2 names each (task, initializer) pair it lacks (archive v1: addition
    identity, all 6 runs diverged) instead of leaving it out without a word; complete tables get no sentence."""
    from types import SimpleNamespace

    index = pd.MultiIndex.from_tuples([("addition", "orthogonal"), ("psmnist", "identity")], names=["task", "init"])
    a = SimpleNamespace(tasks=["addition", "psmnist"], table2=pd.DataFrame(index=index))
    runs = pd.DataFrame({"task": ["addition"] * 6 + ["psmnist"] * 2, "init": ["identity"] * 6 + ["orthogonal"] * 2,
                         "diverged": [True] * 6 + [True, False]})
    said = weights.absent_pairs_sentence(runs, a, ("identity", "orthogonal"))
    assert said.startswith("Table 2 has no row for addition, identity: all 6 of its runs diverged")
    assert "psMNIST, orthogonal: 1 of its 2 runs diverged and none of the other 1 could be analysed" in said
    assert "psMNIST, identity" not in said and "addition, orthogonal" not in said
    assert weights.absent_pairs_sentence(runs.iloc[:0], SimpleNamespace(tasks=[], table2=pd.DataFrame(index=index))) == ""
    no_runs = weights.absent_pairs_sentence(runs.iloc[:0], SimpleNamespace(tasks=["copy"], table2=pd.DataFrame(index=index)),
                                            ("identity",))
    assert no_runs.startswith("Table 2 has no row for copy, identity: it has no stored run")
