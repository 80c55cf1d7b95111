"""Config hashes name the folders of the run store and the committed results archive.

A refactor that changes what goes into a hash silently orphans every stored run, so the
hashes of a few configs per task and profile are pinned here (computed at commit ba959c5,
before the restructure of issue 9).
"""

import pytest

from nnrnn import sweep

PINNED = {
    ("copy", "smoke"): (8, ["c0524a40a543", "e4c0aaecac5e", "3b34c84414f9"]),
    ("copy", "demo"): (48, ["2a4fcde4b5b9", "8a1620e8ac19", "091abffe2f3d"]),
    ("copy", "paper"): (2112, ["4040d9267263", "890cf652288c", "949358ef62c7"]),
    ("addition", "smoke"): (8, ["828c04062055", "ea2a9a621ec2", "2b63dab77c07"]),
    ("addition", "demo"): (48, ["8a2010c8ee50", "4d8755105d55", "01de6e82179d"]),
    ("addition", "paper"): (2112, ["cb9e4820c481", "f5cbe7fcc4a3", "036ce59d1de0"]),
    ("psmnist", "smoke"): (4, ["4360dfac5d59", "4218aa1bbddd", "25668440e135"]),
    ("psmnist", "demo"): (24, ["d5286d6391ef", "bf9995874e05", "d01e6f6a71aa"]),
    ("psmnist", "paper"): (2112, ["9951f9e6f5b9", "2f2997f15fe2", "c6d8c86ebd58"]),
}


@pytest.mark.parametrize(("task", "profile"), sorted(PINNED))
def test_grid_hashes_are_stable(task, profile):
    n, expected = PINNED[(task, profile)]
    cfgs = sweep.grid(task, profile).configs()
    assert len(cfgs) == n
    assert [c.hash() for c in (cfgs[0], cfgs[n // 2], cfgs[-1])] == expected


def test_replicate_hashes_are_stable():
    """The replicate archive's runs are stored under these hashes (pilot and stage 2)."""
    import pandas as pd

    from nnrnn import replicate

    assert [c.hash() for c in replicate.pilot_grid("copy").configs()][:3] == ["35395dda2bf8", "09999ec1da9f", "d54a3bd9f334"]
    assert [c.hash() for c in replicate.pilot_grid("psmnist").configs()][:2] == ["7f64683488ea", "4fe7f7928dbe"]
    sel = pd.DataFrame([{"init": "chain", "scale": 1.02, "lr": 5e-5}]).set_index("init")
    assert [c.hash() for c in replicate.stage2_grid("copy", sel)] == ["af6497c481f3", "92486f7f3305", "f7b039dc3c6c"]
    assert [c.hash() for c in replicate.stage2_grid("addition", sel)][:2] == ["7548c12887fe", "f782d5efd1f2"]
    paper = {c.hash() for c in sweep.grid("copy", "paper").configs()}
    assert {c.hash() for c in replicate.stage2_grid("copy", sel)} <= paper  # copy stage 2 runs are paper-grid runs
