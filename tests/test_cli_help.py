"""Every ``nnrnn <command>``: help that states each default and shows examples, argparse errors for bad values.

The commands run in this process through :func:`nnrnn.cli.main`. Each command's parser is caught
as it parses (a spy on ``argparse.ArgumentParser.parse_args``), so the checks walk its options
(sub-commands included) instead of reading the help text. A bad value must end the command with
exit status 2 and an ``error:`` line naming it, before anything is planned or trained: the
function that would plan is replaced by one that fails the test if it is reached.
"""

from __future__ import annotations

import argparse
import re
import json

import pytest

from nnrnn import cli
from nnrnn.lm import cli as lm_cli
from nnrnn.lm.runs import run_dir
from nnrnn.lm.settings import profile_configs

#: commands whose help still lacks a default somewhere, with the option and the file that owns it
MISSING_DEFAULT: dict[str, str] = {}


def _parsers(name: str, monkeypatch, capsys) -> tuple[argparse.ArgumentParser, str]:
    """The parser of ``nnrnn <name>`` and the text of ``nnrnn <name> --help``."""
    seen: list[argparse.ArgumentParser] = []
    parse_args = argparse.ArgumentParser.parse_args

    def spy(self, args=None, namespace=None):
        seen.append(self)
        return parse_args(self, args, namespace)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", spy)
    with pytest.raises(SystemExit) as exit_:
        cli.main([name, "--help"])
    assert exit_.value.code == 0
    assert len(seen) == 2, "nnrnn's own parser, then the command's"
    return seen[-1], capsys.readouterr().out


def _walk(parser: argparse.ArgumentParser):
    """``(parser, action)`` for every option of ``parser`` and of its sub-commands; and each parser."""
    yield parser, None
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _walk(sub)
        elif action.option_strings and action.default is not argparse.SUPPRESS:
            yield parser, action


def _help_string(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The option's help as the parser's formatter writes it (before ``%(default)s`` is filled in)."""
    return parser.formatter_class(prog=parser.prog)._get_help_string(action) or ""


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_help_has_examples_prog_names_and_one_flag_style(name, monkeypatch, capsys):
    parser, text = _parsers(name, monkeypatch, capsys)
    assert text.startswith(f"usage: nnrnn {name}") and "example" in text, text
    for p, action in _walk(parser):
        if action is None:
            assert p.prog.startswith(f"nnrnn {name}"), p.prog
            assert "example" in p.format_help(), f"{p.prog} --help has no example"
            continue
        assert action.help, f"{p.prog} {action.option_strings} has no help"
        long = [o for o in action.option_strings if o.startswith("--")]
        assert long and all("_" not in o for o in long), f"{p.prog}: {long} (one style: --hidden-size)"


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(
    n in MISSING_DEFAULT, strict=True, reason=f"no default in the help of {MISSING_DEFAULT.get(n)}"))
    for n in sorted(cli.COMMANDS)])
def test_help_states_the_default_of_every_option_that_has_one(name, monkeypatch, capsys):
    parser, _ = _parsers(name, monkeypatch, capsys)
    missing = [f"{p.prog} {a.option_strings[-1]}" for p, a in _walk(parser)
               if a is not None and a.nargs != 0 and not a.required  # switches and required options have none
               and "default" not in _help_string(p, a).lower()]
    assert not missing, f"help without a default: {missing}"


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_no_help_says_default_none(name, monkeypatch, capsys):
    """"default: None" tells a reader nothing: an option whose default is None says what it means."""
    parser, _ = _parsers(name, monkeypatch, capsys)
    vague = [f"{p.prog} {a.option_strings[-1]}" for p, a in _walk(parser)
             if a is not None and "default: none)" not in _help_string(p, a).lower()
             and re.search(r"default: None\b", _help_string(p, a))]
    assert not vague, f"help that says 'default: None': {vague}"


def test_train_lists_the_choices_of_task_init_and_nonlinearity(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--task {addition,copy,psmnist}" in text and "--nonlinearity {elu,relu,tanh}" in text
    assert "--init {identity,orthogonal,chain,fb_chain}" in text


def test_the_shared_formatter_appends_the_default_and_leaves_a_stated_one(capsys):
    p = argparse.ArgumentParser(prog="nnrnn x", formatter_class=cli.HelpFormatter, epilog="example:\n  nnrnn x")
    p.add_argument("--a", type=cli.positive_int, default=7, help="some count")
    p.add_argument("--b", default=None, help="a path (default: none)")
    p.add_argument("--c", action="store_true", help="a switch")
    text = " ".join(p.format_help().split())
    assert "some count (default: 7)" in text and "a path (default: none)" in text and "(default: False)" not in text
    assert "example:\n  nnrnn x" in p.format_help()  # the examples keep their lines


# ----------------------------------------------------------------------------- bad values
#: per command: the function that would plan or train (it must not be reached)
PLANNERS = {
    "sweep": ["nnrnn.sweep_cli.grid"],
    "lm": ["nnrnn.lm.cli.profile_configs"],
    "train": ["nnrnn.train.train"],
    "book": ["nnrnn.book.build"],
    "bench": ["nnrnn.bench.rnn_command", "nnrnn.bench.sweep_command"],
    "data": ["nnrnn.data.fetch"],
    "replicate": ["nnrnn.replicate.run", "nnrnn.replicate.prune_pilot_weights"],
    "verify": ["nnrnn.verify.archived_runs"],
}
MISSING = "/nonexistent/nnrnn-folder"

BAD = [
    ("sweep", ["--task", "copy", "--workers", "0"], "'0'"),
    ("sweep", ["--task", "copy", "--group-size", "x"], "'x'"),
    ("sweep", ["--task", "nope"], "'nope'"),
    ("lm", ["--cell", "gru"], "'gru'"),
    ("lm", ["--cell", "rnn", "--profile", "replicate"], "'replicate'"),
    ("lm", ["--cell", "rnn", "--corpora", "ptb,wiki"], "'ptb,wiki'"),
    ("lm", ["--cell", "lstm", "--inits", "identity"], "identity"),
    ("lm", ["--cell", "lstm", "--grid"], "--grid"),
    ("lm", ["--cell", "rnn", "--workers", "0"], "'0'"),
    ("lm", ["--cell", "rnn", "--seed", "-1"], "'-1'"),
    ("lm", ["--cell", "rnn", "--data-dir", MISSING], MISSING),
    ("lm", ["--cell", "rnn", "--device", "tpu"], "'tpu'"),
    ("lm", ["--cell", "rnn", "--scheduler", "tcp://host:8786"], "--executor serial"),
    ("train", ["--task", "copy", "--epochs", "x"], "'x'"),
    ("train", ["--task", "copy", "--epochs", "0"], "0"),
    ("book", ["--profile", "huge"], "'huge'"),
    ("book", ["--device", "gpu"], "'gpu'"),
    ("book", ["--only", "99-no-such-chapter"], "99-no-such-chapter"),
    ("bench", ["rnn", "--repeats", "0"], "'0'"),
    ("bench", ["rnn", "--threads", "-2"], "'-2'"),
    ("bench", ["rnn", "--device", "gpu"], "'gpu'"),
    ("bench", ["sweep", "--cores", "x"], "'x'"),
    ("bench", ["sweep", "--window", "0"], "--window"),
    ("bench", ["sweep", "--ks", "8,x"], "'8,x'"),
    ("data", ["fetch", "imagenet"], "'imagenet'"),
    ("data", ["verify", "ptb", "--data-dir", MISSING], MISSING),
    ("replicate", ["--task", "copy", "--workers", "0"], "'0'"),
    ("replicate", ["--task", "copy", "--group-size", "-1"], "'-1'"),
    ("replicate", ["--task", "copy", "--stage", "three"], "'three'"),
    ("replicate", ["--task", "nope", "--dry-run"], "'nope'"),
    ("verify", ["--sample", "-1"], "'-1'"),
    ("verify", ["--points", "0"], "'0'"),
    ("verify", ["--seed", "x"], "'x'"),
    ("verify", ["--max-updates", "0"], "'0'"),
    ("verify", ["--root", MISSING], MISSING),
]


@pytest.mark.parametrize("name, args, named", BAD, ids=[" ".join([n, *a]) for n, a, _ in BAD])
def test_bad_values_are_argparse_errors_before_anything_is_planned(name, args, named, monkeypatch, capsys):
    def reached(*a, **k):
        raise AssertionError(f"nnrnn {name} {' '.join(args)} got past its argument checks")

    for target in PLANNERS[name]:
        monkeypatch.setattr(target, reached)
    with pytest.raises(SystemExit) as exit_:
        cli.main([name, *args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1 and lines[0].startswith(f"nnrnn {name}") and named in lines[0], err
    assert "Traceback" not in err


@pytest.mark.parametrize("name, args", [("replicate", ["--task", "copy"]), ("lm", ["--cell", "rnn", "--profile", "smoke"])])
def test_a_root_that_cannot_be_written_is_refused_before_training(name, args, tmp_path, monkeypatch, capsys):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    for target in PLANNERS[name]:
        monkeypatch.setattr(target, lambda *a, **k: pytest.fail("trained into an unwritable root"))
    with pytest.raises(SystemExit) as exit_:
        cli.main([name, *args, "--root", str(blocked)])
    assert exit_.value.code == 2 and "not writable" in capsys.readouterr().err


# ----------------------------------------------------------------------------- dry runs
def test_replicate_dry_run_prints_each_stage_with_measured_core_hours(tmp_path, capsys):
    assert cli.main(["replicate", "--task", "copy", "--dry-run", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    pilot = out.split("copy pilot (protocol v1):\n")[1]
    stage2 = out.split("copy stage 2 (before the selection) (protocol v1):\n")[1]
    for table in (pilot, stage2):
        head, *rows = table.splitlines()[:6]
        assert "to train" in head and "core-hours (at most)" in head
        assert [r.split()[0] for r in rows[1:]] == ["identity", "orthogonal", "chain", "fb_chain"]
    assert float(stage2.splitlines()[2].split()[-1]) > float(pilot.splitlines()[2].split()[-1]) > 0
    assert out.count("ms per update of one run") == 2
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("config.json"))  # nothing trained


def test_replicate_dry_run_explains_the_selection_columns_under_the_table(capsys):
    """Issue 23: ``score``, ``best_score`` and ``n_in_band`` of the printed selection (here the committed
    archive's, read only) are explained by a legend line right under the table."""
    assert cli.main(["replicate", "--task", "copy", "--stage", "stage2", "--dry-run"]) == 0
    lines = capsys.readouterr().out.split("copy selection:\n")[1].splitlines()
    assert lines[0].split() == ["scale", "lr", "score", "best_score", "n_in_band"]
    assert [r.split()[0] for r in lines[2:6]] == ["identity", "orthogonal", "chain", "fb_chain"]
    legend = lines[6]
    for column in ("score", "best_score", "n_in_band"):
        assert re.search(rf"(^|; ){column}: \w+", legend.strip()), legend
    assert "mean validation loss" in legend and "smallest learning rate is chosen" in legend


def test_lm_dry_run_prints_a_plan_table_with_measured_core_hours(tmp_path, capsys):
    assert cli.main(["lm", "--cell", "rnn", "--profile", "smoke", "--dry-run", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "windows per run" in out and "core-hours" in out and "CPU ms per training window of 20 x 8" in out
    assert "total:" in out and "to train 4 runs" in out
    assert not (tmp_path / "runs").exists()  # nothing trained


def test_lm_plan_table_counts_only_the_runs_to_train(tmp_path):
    cfgs = profile_configs("rnn", "smoke", inits=["chain"], n_seeds=2)
    stored = run_dir(cfgs[0], tmp_path)
    stored.mkdir(parents=True)
    (stored / "config.json").write_text(json.dumps({}))
    cost = {"train_cpu_s": 1e-3, "valid_cpu_s": 1e-4, "test_cpu_s": 1e-4}
    row = lm_cli.plan_table(cfgs, tmp_path, {"ptb-char": cost}).loc[("ptb-char", "chain")]
    assert (row["runs"], row["stored"], row["to train"]) == (2, 1, 1)
    assert row["windows per run"] == 100  # 2 epochs of 8,000 tokens in 8 columns, windows of 20 rows
    assert row["core-hours"] == round(lm_cli.run_core_seconds(cfgs[1], cost) / 3600, 3) > 0
    assert "core-hours" not in lm_cli.plan_table(cfgs, tmp_path)  # nothing measured, no estimate
