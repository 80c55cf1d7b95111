"""The language-modelling chapters glue test losses that match the stored runs."""

import numpy as np
import pytest

from nnrnn import lm

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("stem, cell, prefix", [("07-language-modelling", "rnn", "nb07"), ("09-lstm", "lstm", "nb09")])
def test_glued_test_bits_match_the_run_store(stem, cell, prefix, smoke_book, glued):
    g = glued(stem)
    assert g[f"{prefix}_profile"] == "smoke"
    configs = lm.profile_configs(cell, "smoke", seed=0)
    assert len(configs) == g[f"{prefix}_n_runs"]
    runs = [lm.load_run(smoke_book / "store" / "runs" / f"lm-{c.corpus}" / c.hash()) for c in configs]
    by_init: dict[str, list[float]] = {}
    for r in runs:
        bits = r["result"]["test_bits"]
        uniform = np.log2(50 if r["config"].corpus == "ptb-char" else 10_000)
        assert np.isfinite(bits) and 0 < bits < uniform  # better than guessing uniformly
        by_init.setdefault(r["config"].init, []).append(bits)
    for init, values in by_init.items():
        assert g[f"{prefix}_test_{init}"] == pytest.approx(float(np.mean(values)), rel=1e-9)
    best = min(by_init, key=lambda k: np.mean(by_init[k]))
    assert g[f"{prefix}_best_bits"] == pytest.approx(float(np.mean(by_init[best])), rel=1e-9)


@pytest.mark.parametrize("stem, cell, prefix", [("07-language-modelling", "rnn", "nb07"), ("09-lstm", "lstm", "nb09")])
def test_replicate_section_glues_the_results_pages_row(stem, cell, prefix, glued):
    """The chapters' main result reads the archive's replicate runs; its verdict is the results page's."""
    from nnrnn.archive import archive_root
    from nnrnn.lm import replicate as rep

    g = glued(stem)
    root = archive_root()
    row = rep.claims_rows(root)[("rnn", "lstm").index(cell)]
    assert g[f"{prefix}_rep_verdict"] == row["verdict"]
    assert g[f"{prefix}_rep_n_planned"] == len(rep.configs(cell)) == 12
    assert g[f"{prefix}_rep_n_stored"] == len(rep.load_results(cell, root))
    assert g[f"{prefix}_rep_epochs"] == rep.configs(cell)[0].epochs

