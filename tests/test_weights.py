"""nnrnn.weights: Table 2 and Fig. 5 aggregation over stored runs, and the analysis controls."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from nnrnn import analysis, init, sweep, weights
from nnrnn.lm import analysis as lm_analysis
from nnrnn.plotting import lm as lmplot
from nnrnn.plotting import weights as wplot
from nnrnn.weights import measures
from nnrnn.train import TrainConfig, train


# ----------------------------------------------------------------------------- controls
def test_chain_control_is_a_single_spike_at_lag_one():
    c = weights.control_diagonal_means(30, n_orthogonal=1, alpha=1.3)
    chain = c[c["control"] == "chain"].set_index("lag")["mean"]
    assert chain.loc[1] == pytest.approx(1.3)
    assert np.abs(chain.drop(index=1)).max() == 0.0


def test_orthogonal_control_is_nearly_flat_and_far_below_the_chain():
    c = weights.control_diagonal_means(50, n_orthogonal=10, seed=3)
    orth = c[c["control"] == "orthogonal"]
    near = orth[(orth["lag"].abs() <= 10) & (orth["lag"] != 0)]
    # every mean weight near zero lag is tiny compared with the chain's spike of 1 ...
    assert near["mean"].abs().max() < 0.1
    # ... and averaged over the 10 matrices the diagonal means are centred near zero
    assert abs(near["mean"].mean()) < 0.03
    assert (orth["n"] == 10).all()


def test_pulse_settings_are_used_and_validated():
    w = init.chain_matrix(12, 1.0)
    # pulse into unit 4: units 4..11 peak in chain order, units 0..3 never respond
    lags, prof = analysis.pulse_diagonal_means(w, nonlinearity="linear", steps=20, channel=4,
                                               generator=torch.Generator().manual_seed(0))
    assert prof[lags == 1][0] > 0.5
    with pytest.raises(ValueError, match=r"jitter must be >= 0.0, got -1.0"):
        weights.PulseSettings(jitter=-1.0)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        weights.PulseSettings(steps=0)


def test_aggregate_diagonal_means_mean_and_sem():
    p = pd.DataFrame({"task": "t", "init": "i", "state": "trained", "hash": list("abc"), "lag": 1,
                      "weight": [1.0, 2.0, 6.0]})
    a = weights.aggregate_diagonal_means(p).iloc[0]
    assert a["mean"] == pytest.approx(3.0)
    assert a["sem"] == pytest.approx(np.std([1, 2, 6], ddof=1) / math.sqrt(3))
    assert a["n"] == 3


def test_the_fig5_quantity_has_one_name_and_it_is_not_profile():
    """"profile" names the build profiles (smoke, demo, paper, replicate); Fig. 5's quantity, the mean
    of the pulse-ordered W along each diagonal i - j, is its "diagonal means" everywhere, the LSTM
    gates' of Fig. 6 included (issue 22)."""
    names = [n for m in (analysis, measures, weights, wplot, lm_analysis, lmplot) for n in m.__all__]
    names += [f.name for f in dataclasses.fields(weights.Analysis)]
    assert [n for n in names if "profile" in n] == []
    assert {"diagonal_means", "pulse_diagonal_means"} <= set(analysis.__all__)
    assert {"network_diagonal_means", "aggregate_diagonal_means", "control_diagonal_means",
            "diagonal_means_peak", "diagonal_means", "gate_diagonal_means", "diagonal_means_shape",
            "fig6_gate_diagonal_means"} <= set(names)


# ----------------------------------------------------------------------------- Henrici on known matrices
def test_henrici_known_matrices():
    g = torch.Generator().manual_seed(0)
    assert analysis.henrici(init.identity_matrix(25, 1.01)) == pytest.approx(0.0, abs=1e-12)
    assert analysis.henrici(init.orthogonal_matrix(25, 1.0, generator=g)) < 1e-6
    assert analysis.henrici(init.chain_matrix(25, 1.0)) == pytest.approx(math.sqrt(24))
    # a 2x2 Jordan-like block [[a, b], [0, c]]: d = |b|
    assert analysis.henrici(np.array([[0.3, 2.0], [0.0, -0.5]])) == pytest.approx(2.0)


def test_table2_against_paper_values():
    df = pd.DataFrame({"task": "addition", "init": "identity", "selection": "success", "hidden": 100,
                       "henrici_before": [0.0, 0.0, 0.0], "henrici_after": [1.0, 2.0, 3.0]})
    t = weights.table2(df)
    row = t.loc[("addition", "identity")]
    assert row["n"] == 3 and row["after_mean"] == pytest.approx(2.0)
    assert row["after_sem"] == pytest.approx(1 / math.sqrt(3))
    assert (row["paper_mean"], row["paper_sem"]) == (2.33, 1.02)
    assert row["before_mean"] == 0.0


# ----------------------------------------------------------------------------- stored runs
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A tiny run store: identity/orthogonal/chain addition runs (T = 20, N = 8)."""
    root = tmp_path_factory.mktemp("store")
    g = sweep.Grid("addition", {"identity": (1.0,), "orthogonal": (1.0,), "chain": (1.0,)}, lrs=(1e-3,), seeds=(1, 2),
                   base=dict(T=20, hidden_size=8, n_train=32, n_val=32, epochs=1))
    sweep.run_sweep(g, root=root, executor="serial", progress=False)
    return root, g


def test_initial_state_matches_the_trainer():
    # early_stop above any loss: train() stops at update 0, so its final weights are the initial ones
    cfg = TrainConfig(task="addition", init="orthogonal", scale=1.0, lr=1e-3, seed=5, T=10, hidden_size=6,
                      n_train=16, n_val=16, epochs=1, early_stop=1e9)
    r = train(cfg, progress=False)
    assert r.n_updates == 0
    s = weights.initial_state(cfg)
    assert s.keys() == r.state_dict.keys()
    for k in s:
        assert torch.equal(s[k], r.state_dict[k]), k


def test_henrici_table_before_is_zero_for_normal_inits(store):
    root, g = store
    runs = sweep.load_runs("addition", configs=g, root=root)
    per = weights.henrici_table(runs, root=root)
    assert len(per) == len(runs) == 6
    normal = per[per["init"].isin(["identity", "orthogonal"])]
    assert (normal["henrici_before"] < 1e-6).all()
    # the rounding floor (issue 12 item 4): normal inits start below it, chains and trained networks end above it
    assert (normal["henrici_before"] <= normal["henrici_floor_before"]).all()
    assert np.allclose(per["henrici_floor_after"],
                       [analysis.henrici_noise_floor(sweep.load_weights("addition", h, root=root)["rnn.weight_hh"])
                        for h in per["hash"]])
    assert (per["henrici_after"] > per["henrici_floor_after"]).all()
    chain = per[per["init"] == "chain"]
    assert np.allclose(chain["henrici_before"], math.sqrt(7))
    # after training: recomputed from the stored weights
    for r in per.itertuples():
        w = sweep.load_weights("addition", r.hash, root=root)["rnn.weight_hh"]
        assert r.henrici_after == pytest.approx(analysis.henrici(w))
    assert (per["henrici_after"] > 0).all()
    # one store per task works as well
    by_task = weights.henrici_table(runs, root={"addition": root})
    assert np.allclose(by_task["henrici_after"], per["henrici_after"])


def test_select_networks_success_or_labelled_fallback(store):
    root, g = store
    runs = sweep.load_runs("addition", configs=g, root=root)
    fake = runs.copy()
    fake["success"] = (fake["init"] == "identity") & (fake["seed"] == 2)
    sel = weights.select_networks(fake)
    ident = sel[sel["init"] == "identity"]
    assert len(ident) == 1 and ident["selection"].iloc[0] == weights.SUCCESS
    orth = sel[sel["init"] == "orthogonal"]
    assert len(orth) == 2 and set(orth["selection"]) == {weights.FALLBACK}
    assert "chain" not in set(sel["init"])
    assert weights.select_networks(fake, fallback=False)["init"].unique().tolist() == ["identity"]


def test_network_diagonal_means_trained_and_untrained(store):
    root, g = store
    runs = sweep.load_runs("addition", configs=g, root=root)
    sel = runs[runs["init"] == "identity"].assign(selection="success")
    prof = weights.network_diagonal_means(sel, weights.PulseSettings(steps=30), root=root)
    assert set(prof["state"]) == {"trained", "untrained"}
    assert set(prof["lag"]) == set(range(-7, 8))
    un = prof[prof["state"] == "untrained"]
    # identity init: only the diagonal (lag 0) is non-zero, and it equals the scale
    assert np.allclose(un[un["lag"] == 0]["weight"], 1.0)
    assert np.allclose(un[un["lag"] != 0]["weight"], 0.0)
    agg = weights.aggregate_diagonal_means(prof)
    assert (agg["n"] == 2).all()
    # deterministic: the same settings give the same diagonal means
    again = weights.network_diagonal_means(sel, weights.PulseSettings(steps=30), root=root)
    pd.testing.assert_frame_equal(prof, again)
    assert "ordering" not in prof.columns


def test_network_diagonal_means_no_pulse_control(store):
    """control=True adds the amplitude-0 run of every network, kept apart by an ``ordering`` column:
    its order is the jitter alone, and aggregation never mixes it into the pulse ordering."""
    root, g = store
    runs = sweep.load_runs("addition", configs=g, root=root)
    sel = runs[runs["init"] == "chain"].assign(selection="success")
    settings = weights.PulseSettings(steps=30)
    prof = weights.network_diagonal_means(sel, settings, root=root, control=True)
    assert set(prof["ordering"]) == {weights.PULSE, weights.NO_PULSE}
    pulse = prof[prof["ordering"] == weights.PULSE].drop(columns="ordering").reset_index(drop=True)
    pd.testing.assert_frame_equal(pulse, weights.network_diagonal_means(sel, settings, root=root))
    agg = weights.aggregate_diagonal_means(prof)
    assert "ordering" in agg.columns and (agg["n"] == 2).all()
    un = agg[(agg["state"] == "untrained") & (agg["lag"] == 1)].set_index("ordering")["mean"]
    # the untrained chain: the pulse finds its links (lag 1, weight 1); without a pulse, chance does not
    assert un[weights.PULSE] == pytest.approx(1.0) and un[weights.NO_PULSE] < 0.5
    peaks = weights.diagonal_means_peak(agg, 3)
    assert set(peaks["ordering"]) == {weights.PULSE, weights.NO_PULSE}


def test_no_pulse_control_draws_an_order_per_network(store):
    """The control's random order is drawn per network (seeded by PulseSettings.seed and the run's
    hash), so two chains with the same recurrent weights get different chance diagonal means, while the
    same network gets the same order trained and untrained, and on every call."""
    root, g = store
    runs = sweep.load_runs("addition", configs=g, root=root)
    sel = runs[runs["init"] == "chain"].assign(selection="success")
    assert sel["hash"].nunique() == 2
    settings = weights.PulseSettings(steps=30)
    prof = weights.network_diagonal_means(sel, settings, root=root, control=True)
    ctrl = prof[(prof["ordering"] == weights.NO_PULSE) & (prof["state"] == "untrained")]
    a, b = (ctrl[ctrl["hash"] == h].sort_values("lag")["weight"].to_numpy() for h in sel["hash"])
    w = [weights.initial_state(weights.run_config("addition", h, root=root))["rnn.weight_hh"] for h in sel["hash"]]
    assert torch.equal(w[0], w[1])  # the chain init is deterministic: only the order can differ
    assert not np.allclose(a, b)
    seeds = {measures._control_seed(settings, h) for h in sel["hash"]}
    assert len(seeds) == 2 and all(0 <= s < 2**63 for s in seeds)
    assert measures._control_seed(weights.PulseSettings(seed=1), sel["hash"].iloc[0]) not in seeds
    pd.testing.assert_frame_equal(prof, weights.network_diagonal_means(sel, settings, root=root, control=True))


def test_pulse_ordering_subtracts_the_free_run_by_default():
    """Fig. 5's order comes from |h(pulse) - h(no pulse)|; PulseSettings(subtract_free=False)
    restores the raw-state order, which bias drift can decide (issue 12 item 2)."""
    n = 20
    state = {"rnn.weight_hh": init.chain_matrix(n, 1.0), "rnn.weight_ih": init.source_(torch.empty(n, 1, dtype=torch.float64)),
             "rnn.bias": 0.5 * torch.randn(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)}
    lags, prof = measures._pulse_diagonal_means(state, "elu", weights.PulseSettings(steps=40))
    assert prof[lags == 1][0] == 1.0 and np.abs(prof[lags != 1]).max() == 0.0
    lags, raw = measures._pulse_diagonal_means(state, "elu", weights.PulseSettings(steps=40, subtract_free=False))
    assert np.abs(raw[lags != 1]).max() > 0.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: weights.PulseSettings(amplitude=float("nan")), r"^amplitude must be a finite number, got nan$"),
        (lambda: weights.PulseSettings(steps=2.0), r"^steps must be a positive integer, got 2.0$"),
        (lambda: weights.PulseSettings(seed=-1), r"^seed must be a non-negative integer, got -1$"),
        (lambda: weights.PulseSettings(subtract_free="yes"), r"^subtract_free must be True or False, got 'yes'$"),
        (lambda: weights.control_diagonal_means(0), r"^n must be a positive integer, got 0$"),
        (lambda: weights.control_diagonal_means(5, n_orthogonal=-1), r"^n_orthogonal must be a non-negative integer, got -1$"),
        (lambda: weights.diagonal_means_peak(weights.control_diagonal_means(5, n_orthogonal=1), 0), r"^max_lag must be a positive integer, got 0$"),
        (lambda: weights.aggregate_diagonal_means(pd.DataFrame({"lag": [0], "weight": [1.0]})), r"^means must be a table with columns"),
        (lambda: weights.table2(pd.DataFrame()), r"^per_network must be a table with columns \['task', 'init'"),
        (lambda: weights.network_diagonal_means(pd.DataFrame(), control=1), r"^control must be True or False, got 1$"),
        (lambda: weights.network_diagonal_means([1, 2]), r"^networks must be a table with columns .*, got list$"),
        (lambda: weights.select_networks(pd.DataFrame()), r"^runs must be a table with columns \['task', 'init', .*, got one without"),
        (lambda: weights.select_networks(pd.DataFrame(), fallback="no"), r"^fallback must be True or False, got 'no'$"),
        (lambda: weights.henrici_table(pd.DataFrame({"task": ["addition"]})), r"^networks must be a table .*without \['hash'\]$"),
        (lambda: weights.diagonal_means_peak([1, 2]), r"^agg must be a table with columns \['lag', 'mean'\], got list$"),
        (lambda: weights.run_config("addition", "../../etc"), r"12 lower-case hex digits, got '../../etc'"),
        (lambda: weights.run_config("copy", "0123456789ab", root={"addition": "/tmp"}),
         r"^root must be a results root or a mapping with an entry for task 'copy', got a mapping of \['addition'\]$"),
    ],
)
def test_bad_inputs_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
