"""The ``nnrnn`` console script: help for every subcommand, argparse errors instead of tracebacks.

The commands run as a user runs them, in a subprocess: the installed ``nnrnn`` script (next to
this Python) and ``python -m nnrnn``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnrnn import cli

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "nnrnn"

# the subcommand -> options its --help must mention
HELP = {
    "sweep": ["--task", "--profile", "--dry-run"],
    "lm": ["--cell", "--profile"],
    "train": ["--task"],
    "book": ["--profile", "--device"],
    "bench": ["rnn"],
    "data": ["list", "fetch", "verify"],
}


def _nnrnn(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    if not SCRIPT.exists():
        pytest.fail(f"{SCRIPT} is missing: install the package (pip install --no-deps -e .) to get the nnrnn script")
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=REPO, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_help_lists_every_subcommand_with_a_line_of_help():
    out = _nnrnn("--help")
    assert out.returncode == 0, out.stderr
    for name, cmd in cli.COMMANDS.items():
        line = next((ln for ln in out.stdout.splitlines() if ln.split()[:1] == [name]), None)
        assert line is not None, f"{name} missing from nnrnn --help:\n{out.stdout}"
        assert cmd.help.split()[0] in line
    assert "nnrnn <command> --help" in out.stdout


def test_python_dash_m_nnrnn_is_the_same_command():
    out = subprocess.run([sys.executable, "-m", "nnrnn", "--help"], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0 and "usage: nnrnn" in out.stdout, out.stderr
    assert all(name in out.stdout for name in cli.COMMANDS)


def test_version():
    import nnrnn

    out = _nnrnn("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"nnrnn {nnrnn.__version__}"


@pytest.mark.parametrize("name", sorted(HELP))
def test_each_subcommand_has_help(name):
    out = _nnrnn(name, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage:"), out.stdout
    for option in HELP[name]:
        assert option in out.stdout, f"nnrnn {name} --help does not mention {option}:\n{out.stdout}"


def test_verify_runs_or_says_it_is_not_available():
    out = _nnrnn("verify", "--help")
    if cli.COMMANDS["verify"].available():
        assert out.returncode == 0 and out.stdout.startswith("usage:"), out.stderr
    else:
        assert out.returncode == 1 and "not available yet" in out.stderr
        assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope"], "invalid choice: 'nope'"),
        ([], "required"),
        (["sweep", "--task", "nope"], "invalid choice: 'nope'"),
        (["sweep", "--task", "copy", "--workers", "many"], "must be a positive integer, got 'many'"),
        (["book", "--profile", "huge"], "invalid choice: 'huge'"),
        (["bench", "rnn", "--repeats", "0"], "--repeats"),
        (["data", "fetch", "imagenet"], "invalid choice: 'imagenet'"),
        # a ValueError raised by the package after parsing: an error line, not a traceback
        (["sweep", "--task", "copy", "--inits", "nope", "--dry-run"], "nope"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_bad_values_are_argparse_errors_not_tracebacks(args, message):
    out = _nnrnn(*args)
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert "error:" in out.stderr and message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_value_error_in_a_command_is_one_line_unless_traceback_is_asked(monkeypatch, capsys):
    def boom(argv):
        raise ValueError(f"alpha must be finite, got {argv[0]}")

    monkeypatch.setitem(cli.COMMANDS, "sweep", cli.Command("nnrnn.cli:data_main", "test"))
    monkeypatch.setattr(cli.Command, "load", lambda self: boom)
    assert cli.main(["sweep", "nan"]) == 2
    err = capsys.readouterr().err
    assert "nnrnn sweep: error: alpha must be finite, got nan" in err and "--traceback" in err
    with pytest.raises(ValueError, match="alpha must be finite"):
        cli.main(["--traceback", "sweep", "nan"])


def test_arguments_after_the_command_reach_it_unchanged(monkeypatch):
    seen = []
    monkeypatch.setattr(cli.Command, "load", lambda self: lambda argv: seen.append((self.target, argv)) or 0)
    assert cli.main(["bench", "rnn", "--quick", "--", "--traceback"]) == 0
    assert seen == [("nnrnn.bench:main", ["rnn", "--quick", "--", "--traceback"])]


def test_data_verify_reports_present_and_missing_files(tmp_path, data_dir):
    ok = _nnrnn("data", "verify", "mnist", "--data-dir", str(data_dir), env={"NNRNN_CACHE_DIR": str(tmp_path)})
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.count("ok ") == 4 and "t10k-labels-idx1-ubyte.gz" in ok.stdout

    empty = tmp_path / "empty"
    empty.mkdir()
    missing = _nnrnn("data", "verify", "ptb", "--data-dir", str(empty), env={"NNRNN_CACHE_DIR": str(tmp_path / "cache")})
    assert missing.returncode == 1
    assert missing.stderr.count("missing ptb/") == 3 and "nnrnn data fetch ptb" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_data_verify_all_names_only_the_data_sets_that_miss_a_file(tmp_path, data_dir):
    """The data directory holds MNIST only: the hint fetches what is missing, not every data set."""
    only_mnist = tmp_path / "only-mnist"
    only_mnist.mkdir()
    (only_mnist / "mnist").symlink_to(data_dir / "mnist", target_is_directory=True)
    out = _nnrnn("data", "verify", "all", "--data-dir", str(only_mnist), env={"NNRNN_CACHE_DIR": str(tmp_path / "c")})
    hint = [line for line in out.stderr.splitlines() if "file(s) missing" in line]
    assert out.returncode == 1 and out.stdout.count("ok      mnist/") == 4 and len(hint) == 1, out.stderr
    fetch = hint[0].split("`nnrnn data fetch ")[1].split("`")[0].split()
    assert fetch == ["ptb", "ptb-char", "enwik8"], hint


def test_data_verify_names_a_corrupt_file(tmp_path, data_dir):
    bad = tmp_path / "bad" / "ptb"
    bad.mkdir(parents=True)
    for f in (data_dir / "ptb").glob("ptb.*.txt"):
        bad.joinpath(f.name).write_bytes(f.read_bytes())
    with open(bad / "ptb.valid.txt", "ab") as f:
        f.write(b"extra line\n")
    out = _nnrnn("data", "verify", "ptb", "--data-dir", str(tmp_path / "bad"), env={"NNRNN_CACHE_DIR": str(tmp_path / "c")})
    assert out.returncode == 1
    assert "FAILED  ptb/ptb.valid.txt" in out.stderr and "checksum mismatch" in out.stderr
    assert out.stdout.count("ok ") == 2


def test_data_list_shows_every_file_and_digest():
    from nnrnn import data

    out = _nnrnn("data", "list")
    assert out.returncode == 0, out.stderr
    for name in data.DATASETS:
        assert any(line.startswith(name + " ") for line in out.stdout.splitlines()), name
    for rel, (digest, _) in data.FILES.items():
        assert rel in out.stdout and digest[:16] in out.stdout
