"""Pinned language-model config hashes and initial weights.

Stored runs are found by ``LMConfig.hash()``, so a refactor must leave every hash as it was.
The values below were computed with the code of commit ba959c5 (``nnrnn/lm.py`` before it
became a package); a failure here means stored runs would no longer be found, or would no
longer match the weights their config describes.
"""

from __future__ import annotations

import hashlib

import pytest
import torch

from nnrnn import lm

#: ``paper_config(corpus, cell, init).hash()`` (seed 1) for every corpus, cell and initializer.
PAPER_HASHES = {
    ("ptb", "rnn", "identity"): "1fc77e84f8d8",
    ("ptb", "rnn", "orthogonal"): "5e186be32d94",
    ("ptb", "rnn", "chain"): "31fce7266735",
    ("ptb", "rnn", "fb_chain"): "55f2c2732a9f",
    ("ptb", "rnn", "plain"): "21827e2589b3",
    ("ptb", "lstm", "orthogonal"): "9f94c336ede8",
    ("ptb", "lstm", "chain"): "d4b1c28f6eec",
    ("ptb", "lstm", "fb_chain"): "15bb57520041",
    ("ptb", "lstm", "plain"): "3e4e628815e1",
    ("ptb", "lstm", "mixed"): "45c319ce12f4",
    ("ptb-char", "rnn", "identity"): "9562ddd57475",
    ("ptb-char", "rnn", "orthogonal"): "4f1a85914847",
    ("ptb-char", "rnn", "chain"): "e05a28e98ab5",
    ("ptb-char", "rnn", "fb_chain"): "52d5e9495029",
    ("ptb-char", "rnn", "plain"): "1ff007857b9f",
    ("ptb-char", "lstm", "orthogonal"): "76987f507df7",
    ("ptb-char", "lstm", "chain"): "5c59b15cc2d9",
    ("ptb-char", "lstm", "fb_chain"): "ccff76c64940",
    ("ptb-char", "lstm", "plain"): "0355985f74f1",
    ("ptb-char", "lstm", "mixed"): "726288934c56",
    ("enwik8", "rnn", "identity"): "ab04a49121e3",
    ("enwik8", "rnn", "orthogonal"): "75c98c22b1ab",
    ("enwik8", "rnn", "chain"): "5c8159c44dde",
    ("enwik8", "rnn", "fb_chain"): "3c6a10c3bf21",
    ("enwik8", "rnn", "plain"): "2811c3df1ca0",
    ("enwik8", "lstm", "orthogonal"): "4108dfe46e2e",
    ("enwik8", "lstm", "chain"): "c836ef05d4c8",
    ("enwik8", "lstm", "fb_chain"): "ac3d93c69839",
    ("enwik8", "lstm", "plain"): "89292611d891",
    ("enwik8", "lstm", "mixed"): "5eef3fc07e2a",
}

#: ``[c.hash() for c in profile_configs(cell, profile)]`` (base seed 0), in order.
PROFILE_HASHES = {
    ("rnn", "smoke"): ["f028fce87d1c", "8a3bd1717e5a", "719a929da950", "2c04ed470f9c"],
    ("rnn", "demo"): ["3bc1c98b60c9", "a8996cef7efc", "3c9584028339", "18b2f6503f80",
                      "11d4511b499f", "3f6e72868d07", "b5efb2848c42", "afdb8560db15"],
    ("lstm", "smoke"): ["58c6af9bc4eb", "870cd61181cd", "67d7e5ff8324", "b06014484d42"],
    ("lstm", "demo"): ["4f3b0d855305", "9d04c8ba734c", "e4f480ddae3a", "a741c9c1a798",
                       "2c14107812d8", "d3c81a79f9c7", "d5f7c2ff67d1", "52b379539501"],
}

#: number of runs and a digest of their hashes, in order, for the paper-scale run lists.
PAPER_LISTS = {
    ("rnn", False): (36, "1b72609ef2546607"),
    ("lstm", False): (36, "fc288d86e56a8805"),
    ("rnn", True): (756, "65bcf4877677c375"),  # the vanilla scale grids (grid=True)
}


@pytest.mark.parametrize("key", sorted(PAPER_HASHES))
def test_paper_config_hashes_are_unchanged(key):
    assert lm.paper_config(*key).hash() == PAPER_HASHES[key]


@pytest.mark.parametrize("key", sorted(PROFILE_HASHES))
def test_profile_config_hashes_are_unchanged(key):
    assert [c.hash() for c in lm.profile_configs(*key)] == PROFILE_HASHES[key]


@pytest.mark.parametrize("key", sorted(PAPER_LISTS))
def test_paper_profile_hashes_are_unchanged(key):
    cell, grid = key
    cfgs = lm.profile_configs(cell, "paper", grid=grid)
    digest = hashlib.sha256(" ".join(c.hash() for c in cfgs).encode()).hexdigest()[:16]
    assert (len(cfgs), digest) == PAPER_LISTS[key]


def _weights_digest(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, value in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


# (cell, init, extra config fields) -> digest of the initial state_dict; orthogonal schemes are
# left out because their QR factorization may differ in the last bit between LAPACK builds.
WEIGHT_DIGESTS = [
    ("lstm", "fb_chain", {}, "e1543661fe9fa7b4"),
    ("lstm", "fb_chain", {"fb_alpha": 0.95, "scale": 0.07}, "af1dbaabd84e7c68"),
    ("lstm", "mixed", {}, "30a3522f004c23e2"),
    ("lstm", "chain", {}, "94aeb3550325b83f"),
    ("lstm", "plain", {}, "54133c5ff8c4eedd"),
    ("rnn", "fb_chain", {}, "8dfc02221628bf19"),
    ("rnn", "chain", {"scale": 0.9}, "13b0bc70330305be"),
]


@pytest.mark.parametrize("cell, init_name, extra, digest", WEIGHT_DIGESTS)
def test_initial_weights_are_unchanged(cell, init_name, extra, digest):
    cfg = lm.LMConfig(corpus="ptb-char", cell=cell, init=init_name, nlayers=2, emsize=6, nhid=8, seed=3, **extra)
    assert _weights_digest(lm.build_model(cfg, 11)) == digest
