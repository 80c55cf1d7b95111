"""Protocol v2 of the replicate profile (issue 21; book/analysis-plan.md): its grids, the seed-pooled
pilot scores, the divergence screen and the end-to-end flow on a tiny stand-in of the protocol."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from nnrnn import paper, replicate, store, sweep

V2 = replicate.PROTOCOLS["v2"]


# ----------------------------------------------------------------------------- the plan's grids
def test_v2_grids_are_the_plans():
    """The plan's numbers: 4 scales x 11 rates x 2 pilot seeds per initializer, pilot seeds disjoint
    from stage 2's seeds 1-6, copy at the authors' code's 100-epoch cap, addition 25 and psMNIST 20 epochs."""
    for task in replicate.TASKS:
        g = replicate.pilot_grid(task, "v2")
        assert len(g) == 4 * 4 * 11 * 2 and g.seeds == (101, 102) and g.lrs == paper.PAPER_LRS
        assert {c.epochs for c in g.configs()} == {1}
        assert not set(g.seeds) & set(V2.stage2[task]["seeds"]) and V2.stage2[task]["seeds"] == (1, 2, 3, 4, 5, 6)
    assert V2.scales == {"identity": (0.96, 0.99, 1.00, 1.02), "orthogonal": (0.96, 0.99, 1.00, 1.02),
                         "chain": (0.99, 1.00, 1.02, 1.04), "fb_chain": (0.01, 0.02, 0.04, 0.06)}
    pick = pd.DataFrame({"scale": [1.0], "lr": [1e-4]}, index=pd.Index(["chain"], name="init"))
    epochs = {t: {c.epochs for c in replicate.stage2_grid(t, pick, "v2")} for t in replicate.TASKS}
    assert epochs == {"copy": {100}, "addition": {25}, "psmnist": {20}}
    assert len(replicate.stage2_grid("copy", pick, "v2")) == 6


def test_v1_is_unchanged_and_v2_lives_in_its_own_folder(tmp_path):
    """Protocol v1's grids (the archive's config hashes) do not move; v2's runs go to <root>/v2."""
    assert replicate.pilot_grid("copy").configs() == replicate.pilot_grid("copy", "v1").configs()
    assert replicate.pilot_grid("copy", "v1").seeds == (3,) and len(replicate.pilot_grid("copy", "v1")) == 88
    assert replicate.protocol_root("v1", tmp_path) == tmp_path and replicate.protocol_root("v2", tmp_path) == tmp_path / "v2"
    with pytest.raises(ValueError, match=r"protocol must be one of \['v1', 'v2'\], got 'v3'"):
        replicate.pilot_grid("copy", "v3")


# ----------------------------------------------------------------------------- scores and the screen
def _scores(rows):
    return pd.DataFrame(rows, columns=["init", "scale", "lr", "hash", "score", "diverged"])


def test_a_setting_that_diverged_on_one_pilot_seed_is_no_candidate():
    s = replicate.setting_scores(_scores([
        ("chain", 1.0, 1e-4, "a", 0.040, False), ("chain", 1.0, 1e-4, "b", 0.050, False),
        ("chain", 1.02, 1e-4, "c", 0.010, False), ("chain", 1.02, 1e-4, "d", math.inf, True)]))
    assert s["score"].tolist() == [pytest.approx(0.045), math.inf] and s["diverged"].tolist() == [False, True]
    assert replicate.screen_candidates(s, "v2")[["scale", "lr"]].values.tolist() == [[1.0, 1e-4]]


def test_screen_rounds_take_the_next_three_by_pilot_score():
    rows = [("orthogonal", 1.0, lr, f"h{i}", 0.1 + i / 100, False) for i, lr in enumerate(paper.PAPER_LRS[:7])]
    s = replicate.setting_scores(_scores(rows))
    first, second, third = (replicate.screen_candidates(s, "v2", r) for r in range(3))
    assert first["lr"].tolist() == list(paper.PAPER_LRS[:3]) and second["lr"].tolist() == list(paper.PAPER_LRS[3:6])
    assert third["lr"].tolist() == [paper.PAPER_LRS[6]]
    with pytest.raises(ValueError, match="protocol 'v1' has no divergence screen"):
        replicate.screen_candidates(s, "v1")


def test_a_candidate_that_diverged_in_the_screen_is_not_selected():
    cands = pd.DataFrame({"init": ["chain", "chain"], "scale": [1.0, 1.02], "lr": [1e-4, 1e-4]})
    screen_runs = pd.DataFrame({"init": ["chain"] * 4, "scale": [1.0, 1.0, 1.02, 1.02], "lr": [1e-4] * 4,
                                "diverged": [False, False, False, True]})
    assert replicate.screen_survivors(cands, screen_runs)["scale"].tolist() == [1.0]
    assert replicate.screen_survivors(cands, screen_runs.iloc[:0]).empty  # an unstored screen run: no survivor


# ----------------------------------------------------------------------------- the flow, end to end
def test_the_v2_flow_stores_pilot_screen_and_stage2_under_v2(tmp_path, monkeypatch, capsys):
    """A tiny stand-in of protocol v2 (T = 25, 8 units, two rates, one scale per initializer) runs
    pilot, screen and stage 2 into <root>/v2; stage 2 takes only screened settings, on seeds the
    pilot did not use; a second call trains nothing."""
    tiny = dict(T=25, hidden_size=8, n_train=32, n_val=16, epochs=1, evals_per_epoch=2)
    monkeypatch.setattr(replicate, "_PILOT_BASE", {"copy": tiny})
    monkeypatch.setattr(paper, "PAPER_LRS", (1e-3, 1e-4))
    proto = replicate.Protocol("v2", {"orthogonal": (1.0,), "chain": (1.0,)}, (101, 102),
                               {"copy": {"seeds": (1, 2), "base": dict(tiny, epochs=2)}}, screen=1, screen_epochs=2,
                               folder="v2")
    out = replicate.run("copy", protocol=proto, root=tmp_path, max_workers=1, progress=False)
    root = tmp_path / "v2"
    assert len(sweep.load_runs("copy", configs=out["pilot"], root=root)) == 8
    assert len(out["screen"]) == 4 and all(c.epochs == 2 and c.seed in (101, 102) for c in out["screen"])
    screened = {(c.init, c.scale, c.lr) for c in out["screen"]}
    assert {(c.init, c.scale, c.lr) for c in out["stage2"]} <= screened
    assert sorted({c.seed for c in out["stage2"]}) == [1, 2] and all(store.is_stored(sweep.run_dir(c, root)) for c in out["stage2"])
    assert not (tmp_path / "runs").exists()  # nothing of v2 lands in v1's store
    trained = "".join(c.hash() for c in out["stage2"])
    first = capsys.readouterr().out
    assert "final val loss" in first  # each trained run is logged
    assert "n_in_band: settings within 5% of the random baseline of the best" in first  # the columns are explained
    again = replicate.run("copy", protocol=proto, root=tmp_path, max_workers=1, progress=False)
    assert "".join(c.hash() for c in again["stage2"]) == trained and "final val loss" not in capsys.readouterr().out


def test_v2_dry_run_prints_pilot_screen_and_stage2(tmp_path, capsys):
    assert replicate._main(["--task", "copy", "--protocol", "v2", "--dry-run", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name, runs in (("pilot (protocol v2)", 88), ("divergence screen (first round, before the pilot) (protocol v2)", 6),
                       ("stage 2 (before the selection) (protocol v2)", 6)):
        table = out.split(f"copy {name}:\n")[1].splitlines()
        assert [r.split()[:2] for r in table[2:6]] == [[i, str(runs)] for i in V2.scales]
    assert not (tmp_path / "v2" / "runs").exists()


def test_the_protocol_text_the_results_page_shows_states_protocol_v2s_values():
    """replicate.protocol_markdown("v2") is prose: every number it states is checked against PROTOCOLS["v2"]."""
    from nnrnn import paper

    text = " ".join(replicate.protocol_markdown("v2").split())
    p = replicate.PROTOCOLS["v2"]
    for init, scales in p.scales.items():
        listed = ", ".join(f"{s:.2f}" for s in scales)
        assert "{" + listed + "}" in text, f"{init}'s scales {listed} are not stated"
    assert f"x the {len(paper.PAPER_LRS)} learning rates" in text
    assert "pilot seeds " + " and ".join(str(s) for s in p.pilot_seeds) in text
    assert "three best candidates for three epochs" in text and (p.screen, p.screen_epochs) == (3, 3)
    seeds = {tuple(v["seeds"]) for v in p.stage2.values()}
    assert seeds == {(1, 2, 3, 4, 5, 6)} and "seeds 1-6 for every task" in text
    epochs = {t: v["base"]["epochs"] for t, v in p.stage2.items()}
    assert epochs["copy"] == paper.SYNTHETIC_BASE["epochs"] and f"copy at the {epochs['copy']}-epoch cap of the authors' code" in text
    assert f"addition for {epochs['addition']} epochs, psMNIST for {epochs['psmnist']}" in text
