"""Issue 19, faults and bad inputs: the C++ build lock, argument checks, the background driver script.

* The C++ build (:mod:`nnrnn.cpp_build`): a process that holds the build lock makes a load
  fall back to the pure-PyTorch engine once its timeout has passed, with one warning naming the
  lock file and its holder; a build killed half-way (its flock released by the kernel, torch's
  ``lock`` file left behind) blocks nothing; build folders follow the sources' contents.
* Bad inputs refused up front with what is allowed: ``TrainConfig(rms_alpha=5)``, a psMNIST seed
  outside ``torch.Generator``'s range, a profile slipped past ``--profile`` as ``-p profile ""``,
  ``NNRNN_DATA_DIR`` at a file or a missing folder in ``nnrnn data verify``, an empty folder
  argument.
* ``tools/replicate-background``: ``stop`` ends exactly the recorded drivers' process groups;
  ``start`` refuses while they run. It runs on a copy of the repository's layout whose
  ``.venv/bin/python`` is a shell script that sleeps.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest
import torch

from nnrnn import book, cli, cpp_build, data, models, profiles
from nnrnn.train import TrainConfig

REPO = Path(__file__).resolve().parent.parent

_HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from nnrnn import cpp_build
    folder = Path(sys.argv[1])
    with cpp_build.build_lock(folder, 60):
        if len(sys.argv) > 2:
            (folder / "lock").touch()  # torch's lock, as a build killed half-way leaves it
        print("held", flush=True)
        time.sleep(120)
""")


def _hold_lock(folder: Path, *extra: str) -> subprocess.Popen:
    """A process that holds ``folder``'s build lock (and sleeps) once it has printed "held"."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(folder), *extra], stdout=subprocess.PIPE,
                            text=True, cwd=REPO)
    assert proc.stdout.readline().strip() == "held", "the lock holder did not start"
    return proc


@pytest.fixture
def fresh_build_state(monkeypatch, tmp_path):
    """An empty extensions folder, nothing loaded in this process as far as the loaders know."""
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path / "ext"))
    monkeypatch.setattr(cpp_build, "_loaded", {})
    monkeypatch.setattr(models, "_ext_state", {"module": None, "error": None, "warned": False})
    return tmp_path / "ext"


def _can_compile() -> bool:
    from torch.utils import cpp_extension  # lazy: only the tests that compile need it

    try:
        cpp_extension.verify_ninja_availability()
    except RuntimeError:
        return False
    return shutil.which(os.environ.get("CXX", "c++")) is not None


# ----------------------------------------------------------------------------- the C++ build
def test_a_held_build_lock_falls_back_within_the_timeout_with_one_warning(fresh_build_state, monkeypatch):
    """Before the fix, a build lock another process held (or left behind) hung every nnrnn process."""
    timeout = 1.0
    monkeypatch.setenv(cpp_build.TIMEOUT_ENV, str(timeout))
    folder = cpp_build.build_folder(**models._EXTENSION)
    holder = _hold_lock(folder)
    try:
        start = time.monotonic()
        with pytest.warns(RuntimeWarning, match="could not be built") as caught:
            engine = models.resolve_engine("auto", torch.device("cpu"), torch.float32)
        waited = time.monotonic() - start
        assert engine == "python"
        message = str(caught[0].message)
        assert str(folder / "build.lock") in message and f"pid {holder.pid} " in message, message
        assert cpp_build.TIMEOUT_ENV in message
        # It waits the timeout, then at most one poll (0.05 s) more; the bound leaves room for a
        # loaded machine's scheduling, and is far below the default wait (300 s) or forever.
        assert timeout <= waited < timeout + 20, waited
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # one warning per process, and no second wait
            start = time.monotonic()
            assert models.resolve_engine("auto", torch.device("cpu"), torch.float32) == "python"
            assert time.monotonic() - start < timeout
        with pytest.raises(RuntimeError, match="build.lock"):
            models.resolve_engine("cpp", torch.device("cpu"), torch.float32)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.skipif(not _can_compile(), reason="no C++ compiler or ninja here")
def test_a_killed_build_leaves_nothing_that_blocks_the_next(fresh_build_state, tmp_path):
    """A builder killed half-way leaves torch's ``lock`` file (on which ``cpp_extension.load``
    waited forever) and its flock, which the kernel releases: the next load builds at once."""
    src = tmp_path / "probe.cpp"
    src.write_text('extern "C" int nnrnn_fault_probe() { return 42; }\n')
    folder = cpp_build.build_folder("nnrnn_fault_probe", [src])
    holder = _hold_lock(folder, "leave torch's lock")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (folder / "lock").exists()
    code = ("import sys; from nnrnn import cpp_build\n"
            "ops = cpp_build.load_cpp_extension('nnrnn_fault_probe', [sys.argv[1]], timeout_s=60)\n"
            "print('loaded' if ops is not None else cpp_build.build_error('nnrnn_fault_probe'))")
    res = subprocess.run([sys.executable, "-c", code, str(src)], capture_output=True, text=True, cwd=REPO,
                         timeout=300, env={**os.environ, "TORCH_EXTENSIONS_DIR": str(fresh_build_state)})
    assert res.stdout.strip() == "loaded", res.stdout + res.stderr
    assert not (folder / "lock").exists()
    assert (folder / f"{folder.name}.so").is_file()


def test_build_folders_follow_the_sources_not_their_paths(fresh_build_state, tmp_path):
    """Checkouts at different paths share a build; other sources or flags get their own folder."""
    a, b = tmp_path / "a" / "x.cpp", tmp_path / "b" / "x.cpp"
    for path in (a, b):
        path.parent.mkdir()
        path.write_text("int f() { return 1; }\n")
    first = cpp_build.build_folder("nnrnn_x", [a], ["-O3"])
    assert first == cpp_build.build_folder("nnrnn_x", [b], ["-O3"])
    assert first.parent == fresh_build_state and first.name.startswith("nnrnn_x_") and len(first.name) == 8 + 12
    assert cpp_build.build_folder("nnrnn_x", [a], ["-O2"]) != first
    (b.parent / "x.h").write_text("#define ONE 1\n")  # a header beside the source is part of it
    assert cpp_build.build_folder("nnrnn_x", [b], ["-O3"]) != first
    b.write_text("int f() { return 2; }\n")
    assert cpp_build.build_folder("nnrnn_x", [b], ["-O3"]) not in (first, cpp_build.build_folder("nnrnn_x", [a], ["-O3"]))
    assert cpp_build.build_folder("nnrnn_y", [a], ["-O3"]) != first


@pytest.mark.parametrize("value", ["0", "-5", "soon", "inf", "nan"])
def test_a_bad_build_timeout_is_named(fresh_build_state, monkeypatch, tmp_path, value):
    monkeypatch.setenv(cpp_build.TIMEOUT_ENV, value)
    with pytest.raises(ValueError, match=f"environment variable {cpp_build.TIMEOUT_ENV} must be a positive"):
        cpp_build.load_cpp_extension("nnrnn_x", [tmp_path / "x.cpp"])


# ----------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("alpha", [5, 1, 1.0, -0.1, math.nan, True, "0.9"])
def test_rms_alpha_is_a_decay_rate(alpha):
    with pytest.raises(ValueError, match=r"rms_alpha must be a number in \[0, 1\)"):
        TrainConfig(rms_alpha=alpha)


@pytest.mark.parametrize("eps", [0, -1e-7, math.inf])
def test_rms_eps_is_positive(eps):
    with pytest.raises(ValueError, match="rms_eps must be"):
        TrainConfig(rms_eps=eps)


def test_the_optimizer_defaults_and_edges_stay_accepted():
    assert (TrainConfig().rms_alpha, TrainConfig().rms_eps) == (0.9, 1e-7)
    assert TrainConfig(rms_alpha=0).rms_alpha == 0 and TrainConfig(rms_alpha=0.999).rms_alpha == 0.999


def test_a_psmnist_seed_out_of_the_generators_range_is_refused_up_front():
    """Before the fix the config was accepted and every worker failed in ``torch.Generator.manual_seed``."""
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*64 - 1\].*got 18446744073709551616"):
        TrainConfig(task="psmnist", seed=2**64)
    assert TrainConfig(task="psmnist", seed=2**64 - 1).seed == 2**64 - 1
    assert TrainConfig(task="copy", seed=2**64).seed == 2**64  # hashed into its streams: any seed works
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*64 - 1\]"):
        data.permutation(2**64)
    assert data.permutation(2**64 - 1).sort().values.equal(torch.arange(784))


@pytest.mark.parametrize("extra", [{"profile": ""}, {"profile": "demo2"}, {"device": "gpu"}])
def test_the_book_refuses_a_profile_or_device_passed_as_a_parameter(tmp_path, extra):
    """``-p profile ""`` used to override the checked ``--profile`` in every chapter."""
    with pytest.raises(ValueError, match="come from --profile and --device"):
        book.execute([], tmp_path, "smoke", "cpu", extra)


@pytest.mark.parametrize("profile", ["", "Demo", None])
def test_an_empty_or_unknown_profile_is_refused_with_the_allowed_values(profile):
    with pytest.raises(ValueError, match=r"profile must be one of \['smoke', 'demo', 'paper', 'replicate'\]"):
        profiles.check_profile(profile)


@pytest.mark.parametrize("kind", ["a file", "a missing folder"])
@pytest.mark.parametrize("action", ["verify", "fetch"])
def test_data_commands_name_a_bad_data_dir_variable(monkeypatch, capsys, tmp_path, kind, action):
    """Before the fix, `nnrnn data verify` printed "missing" for every file and hid why."""
    path = tmp_path / "data"
    if kind == "a file":
        path.write_text("")
    monkeypatch.setenv("NNRNN_DATA_DIR", str(path))
    assert cli.data_main([action, "mnist"]) == 2
    err = capsys.readouterr().err
    what = "is a file, not a folder" if kind == "a file" else "does not exist"
    assert f"data directory {path} (from the NNRNN_DATA_DIR) {what}" in err, err
    assert "missing mnist" not in err  # nothing was looked up (and nothing downloaded)


@pytest.mark.parametrize("text", ["", "  "])
def test_an_empty_folder_argument_is_refused(capsys, text):
    """``Path("")`` is the current folder: `--root ""` used to land there."""
    with pytest.raises(argparse.ArgumentTypeError, match="empty path"):
        cli.existing_dir(text)
    with pytest.raises(SystemExit) as exit_:
        cli.data_main(["verify", "mnist", "--data-dir", text])
    assert exit_.value.code == 2 and "must be an existing folder, got an empty path" in capsys.readouterr().err


# ----------------------------------------------------------------------------- tools/replicate-background
_FAKE_PYTHON = """#!/bin/sh
case "$1" in -c) echo "(the archive's tables)"; exit 0 ;; esac
exec sleep 120
"""


def _members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group ``pgid``."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


@pytest.fixture
def layout(tmp_path):
    """A git repository with the script and a fake virtualenv whose python sleeps."""
    if not (shutil.which("setsid") and shutil.which("git") and Path("/proc/self/stat").exists()):
        pytest.skip("needs setsid, git and /proc (Linux)")
    repo = tmp_path / "repo"
    (repo / "tools").mkdir(parents=True)
    shutil.copy2(REPO / "tools" / "replicate-background", repo / "tools")
    (repo / ".gitignore").write_text(".venv/\n.replicate-worktree/\n.replicate-logs/\n")
    python = repo / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(_FAKE_PYTHON)
    python.chmod(0o755)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "layout"], check=True)
    yield repo
    pids = repo / ".replicate-logs" / "pids"
    for line in pids.read_text().splitlines() if pids.exists() else []:
        try:
            os.killpg(int(line.split()[1]), signal.SIGKILL)
        except ProcessLookupError:
            pass


def _script(repo: Path, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(repo / "tools" / "replicate-background"), command], capture_output=True,
                          text=True, timeout=60)


def test_replicate_background_passes_bash_n():
    assert subprocess.run(["bash", "-n", str(REPO / "tools" / "replicate-background")]).returncode == 0


def test_replicate_background_stops_exactly_its_drivers(layout):
    started = _script(layout, "start")
    assert started.returncode == 0, started.stderr
    recorded = dict(line.split() for line in (layout / ".replicate-logs" / "pids").read_text().splitlines())
    assert sorted(recorded) == ["A", "B"]
    groups = [int(g) for g in recorded.values()]
    assert all(_members(g) for g in groups)
    # an editor open on nnrnn/replicate.py, as `pkill -f nnrnn.replicate` saw it
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "nnrnn/replicate.py",
                                  "nnrnn.replicate"])
    try:
        again = _script(layout, "start")
        assert again.returncode == 2 and "still running" in again.stderr and "stop" in again.stderr
        assert all(_members(g) for g in groups)  # nothing removed or restarted under them
        status = _script(layout, "status")
        assert status.returncode == 0 and all(f"driver {d} running (process group {g})" in status.stdout
                                              for d, g in recorded.items()), status.stdout
        stopped = _script(layout, "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert not any(_members(g) for g in groups)  # drivers and their (sleeping) python children
        assert bystander.poll() is None
        assert "no replicate driver running" in _script(layout, "status").stdout
        restarted = _script(layout, "start")
        assert restarted.returncode == 0, restarted.stderr
        assert _script(layout, "stop").returncode == 0
    finally:
        bystander.kill()
        bystander.wait()
