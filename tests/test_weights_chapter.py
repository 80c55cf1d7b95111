"""The chapters' helpers moved into the package (issue 9): nb01's Fisher-memory networks
(nnrnn.memory) and nb08's multi-task sweep and analysis (nnrnn.weights), with the replicate
archive missing and present (issue 11)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nnrnn import init, memory


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
