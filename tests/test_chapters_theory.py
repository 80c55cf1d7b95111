"""Numbers glued into the theory chapters (executed on smoke) agree with the closed forms."""

import math

import pytest

from nnrnn import memory

pytestmark = pytest.mark.slow


def test_nb01_total_memory(glued):
    g = glued("01-fisher-memory")
    assert g["nb01_profile"] == "smoke"
    # every normal network carries exactly one unit of Fisher memory
    assert g["nb01_jtot_identity"] == pytest.approx(1.0, abs=1e-8)
    assert g["nb01_jtot_orthogonal"] == pytest.approx(1.0, abs=1e-8)
    # the chain's total memory is the closed form, and it is extensive
    closed = memory.chain_total_memory(g["nb01_N"], g["nb01_alpha"])
    assert g["nb01_jtot_chain"] == pytest.approx(closed, rel=1e-10)
    assert g["nb01_jtot_chain_closed"] == pytest.approx(closed, rel=1e-12)
    assert 1 < g["nb01_jtot_fb_chain"] < g["nb01_jtot_chain"] <= g["nb01_N"]
    assert g["nb01_max_err_chain"] < 1e-10 and g["nb01_max_err_normal"] < 1e-10
    assert g["nb01_ref_max_abs_diff"] < 0.006  # PAPER.md's reference table is rounded to 3 places


def test_nb02_decoding(glued):
    g = glued("02-nonlinear-decoding")
    # (a) noiseless linear: everything is exactly decodable
    assert g["nb02_linear_min_chain"] == pytest.approx(1.0, abs=1e-6)
    # (b) noise: the chain beats the orthogonal network; (c) elu acts like noise
    assert g["nb02_noisy_chain_kshort"] > g["nb02_noisy_orthogonal_kshort"]
    assert g["nb02_elu_chain_klong"] > g["nb02_elu_orthogonal_klong"]
    assert g["nb02_relu_limit"] == pytest.approx(math.pi / (2 * math.pi - 2))


def test_nb03_initializers(glued):
    g = glued("03-initializers")
    n = g["nb03_N"]
    assert g["nb03_rho_exact"] == pytest.approx(2 * math.sqrt(g["nb03_fb_alpha"] * g["nb03_beta"]) * math.cos(math.pi / (n + 1)))
    assert g["nb03_rho_balanced"] == pytest.approx(g["nb03_rho_exact"], rel=1e-9)
    assert g["nb03_rho_naive"] > 1.5 * g["nb03_rho_exact"]  # the pitfall the chapter shows
    assert g["nb03_henrici_chain"] == pytest.approx(g["nb03_alpha"] * math.sqrt(n - 1), rel=1e-12)
    assert g["nb03_henrici_fb_balanced"] == pytest.approx(g["nb03_henrici_fb_closed"], rel=1e-9)
    assert g["nb03_henrici_orthogonal"] < 1e-6
    assert g["nb03_pulse_peaks_on_diagonal"] == 1.0  # the input enters at the source
    assert g["nb03_jtot_reversed"] < 0.01 < g["nb03_jtot_forward"]
