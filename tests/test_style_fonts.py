"""Issue 23: pages 04, 09 and 10 showed "findfont: Font family ['STIXGeneral'] not found" lines as
stderr under their log-scale figures.

The style asks for no missing font: math text (a log axis's 10^k tick labels) loads the STIX and
Computer Modern fonts shipped with matplotlib. They were not found because matplotlib's font cache
(shared by every environment with the same matplotlib version) had been written where matplotlib's
own fonts were missing, so it listed the system's DejaVu fonts only. ``use_style`` now adds the
bundled fonts such a cache lacks (:func:`nnrnn.plotting.register_bundled_fonts`).
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from nnrnn.plotting import register_bundled_fonts, use_style  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

# a figure as chapters 4, 9 and 10 draw them: the package's style, a log axis (tick labels 10^k in
# math text) and a math label; prints every record of matplotlib's font manager and every warning
_DRAW = """
import io, json, logging, warnings
import matplotlib
matplotlib.use("Agg")
from matplotlib import font_manager
import matplotlib.pyplot as plt
from nnrnn.plotting import use_style

records = []
handler = logging.Handler()
handler.emit = lambda r: records.append(r.getMessage())
logging.getLogger("matplotlib.font_manager").addHandler(handler)
stale = "STIXGeneral" not in {f.name for f in font_manager.fontManager.ttflist}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    use_style()
    fig, ax = plt.subplots()
    ax.semilogy([0, 1, 2], [1e-3, 1.0, 1e3])
    ax.set_xlabel("$i - j$")
    fig.savefig(io.BytesIO(), format="png")
print(json.dumps({"stale": stale, "log": records, "warnings": [str(w.message) for w in caught]}))
"""


def _run(config_dir: Path, code: str) -> str:
    env = {**os.environ, "MPLCONFIGDIR": str(config_dir), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True,
                          check=True, timeout=120).stdout


def test_a_log_axis_finds_its_fonts_with_a_cache_that_lacks_matplotlibs_own(tmp_path):
    """The cache of this machine, reproduced: matplotlib's list of fonts without the fonts in its data
    folder. Before use_style registered them, drawing logged 'findfont: Font family [...] not found'."""
    _run(tmp_path, "import matplotlib.font_manager")  # writes a complete cache into tmp_path
    (cache,) = tmp_path.glob("fontlist-v*.json")
    data = json.loads(cache.read_text())
    bundled = os.path.realpath(matplotlib.get_data_path())  # the cache names these fonts relative to it
    for kind in ("ttflist", "afmlist"):
        data[kind] = [f for f in data[kind] if os.path.isabs(f["fname"]) and not os.path.realpath(f["fname"]).startswith(bundled + os.sep)]
    cache.write_text(json.dumps(data))
    out = json.loads(_run(tmp_path, _DRAW).splitlines()[-1])
    assert out["stale"], "the cache still lists matplotlib's STIX fonts: the test reproduces nothing"
    assert not [m for m in out["log"] + out["warnings"] if "findfont" in m], out


def test_a_log_axis_in_the_package_style_logs_no_findfont(caplog):
    """The same figure in this process, with this machine's font cache."""
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING, "matplotlib.font_manager"):
        warnings.simplefilter("always")
        use_style()
        fig, ax = plt.subplots()
        ax.semilogy([0, 1, 2], [2e-4, 1.0, 5e4])
        ax.set_xlabel("$T$ (steps)")
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)
    messages = [r.getMessage() for r in caplog.records] + [str(w.message) for w in caught]
    assert not [m for m in messages if "findfont" in m], messages


def test_registering_twice_adds_nothing():
    use_style()
    assert register_bundled_fonts() == []
