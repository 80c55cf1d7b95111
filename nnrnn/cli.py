"""The ``nnrnn`` command: one entry point for the package's command lines.

Each subcommand hands the rest of the command line, unchanged, to the module that owns it, so
``nnrnn sweep ARGS`` is ``python -m nnrnn.sweep ARGS`` (which keeps working)::

    nnrnn sweep --task copy --profile demo --dry-run     # a sweep of training runs (chapters 04-06)
    nnrnn lm --cell rnn --profile smoke                  # language-model runs (chapters 07, 09)
    nnrnn train --task copy                              # one training run
    nnrnn book --profile smoke                           # execute the chapters, build the book
    nnrnn bench rnn --quick                              # the RNN engine against torch.nn.RNN
    nnrnn data verify mnist ptb                          # the data sets: list, fetch, verify
    nnrnn replicate --task copy --dry-run                # the replicate protocol's plan and cost
    nnrnn verify                                         # re-check archived runs
    nnrnn <command> --help                               # that command's options, defaults, examples

A ``ValueError`` from a command (the package's way to reject a bad value) ends the command with
a one-line ``error:`` message and exit status 2, as argparse does for a bad option, instead of a
traceback; ``nnrnn --traceback <command> ...`` shows the traceback. The commands import torch
only when they run, so ``nnrnn --help`` answers at once.

The commands' parsers share :class:`HelpFormatter` (every option's help ends with its default,
the examples keep their lines) and the ``type=`` functions below (:func:`positive_int`,
:func:`non_negative_int`, :func:`positive_float`, :func:`device`, :func:`existing_dir`,
:func:`name_list`), so a bad value is an argparse error (exit status 2, one line naming the value
and what is allowed) before anything is planned or trained.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from . import __version__

__all__ = [
    "COMMANDS",
    "Command",
    "main",
    "data_main",
    "HelpFormatter",
    "positive_int",
    "non_negative_int",
    "positive_float",
    "device",
    "existing_dir",
    "name_list",
]


# ----------------------------------------------------------------------------- shared by the parsers
class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Description and epilog as written; each option's help ends with ``(default: ...)``.

    A help text that already names its default is left alone, and so are switches
    (``store_true``), required options and positional arguments, which have no default to show.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("default" in text.lower() or action.default is argparse.SUPPRESS or not action.option_strings
                or action.nargs == 0 or action.required):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


def _int(text: str, minimum: int, allowed: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """``type=`` for an integer >= 1.

    Examples:
        >>> positive_int("3")
        3
        >>> positive_int("0")
        Traceback (most recent call last):
        argparse.ArgumentTypeError: must be a positive integer, got '0'
    """
    return _int(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """``type=`` for an integer >= 0.

    Examples:
        >>> non_negative_int("0")
        0
    """
    return _int(text, 0, "a non-negative integer")


def positive_float(text: str) -> float:
    """``type=`` for a finite number > 0.

    Examples:
        >>> positive_float("0.5")
        0.5
        >>> positive_float("nan")
        Traceback (most recent call last):
        argparse.ArgumentTypeError: must be a positive number, got 'nan'
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def device(text: str) -> str:
    """``type=`` for a torch device name: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (checked without torch).

    Examples:
        >>> device("cuda:1")
        'cuda:1'
        >>> device("gpu")
        Traceback (most recent call last):
        argparse.ArgumentTypeError: must be auto, cpu, cuda or cuda:N, got 'gpu'
    """
    index = text[5:] if text.startswith("cuda:") else None
    if text in ("auto", "cpu", "cuda") or (index is not None and index.isdigit()):
        return text
    raise argparse.ArgumentTypeError(f"must be auto, cpu, cuda or cuda:N, got {text!r}")


def existing_dir(text: str) -> str:
    """``type=`` for a folder that must exist (returned as given); an empty path, which would mean the
    current folder, is refused.

    Examples:
        >>> existing_dir("")
        Traceback (most recent call last):
        argparse.ArgumentTypeError: must be an existing folder, got an empty path ''
    """
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must be an existing folder, got an empty path {text!r}")
    path = Path(text)
    if not path.is_dir():
        what = "a file" if path.is_file() else "no such folder"
        raise argparse.ArgumentTypeError(f"must be an existing folder, got {text!r} ({what})")
    return text


def name_list(known: Sequence[str], what: str = "names") -> Callable[[str], tuple[str, ...]]:
    """A ``type=`` for a comma-separated subset of ``known`` (order kept, duplicates dropped).

    Examples:
        >>> name_list(["ptb", "enwik8"], "corpora")("enwik8,ptb")
        ('enwik8', 'ptb')
        >>> name_list(["ptb", "enwik8"], "corpora")("ptb,wiki")
        Traceback (most recent call last):
        argparse.ArgumentTypeError: must be comma-separated corpora among ['ptb', 'enwik8'], got 'ptb,wiki'
    """
    known = list(known)

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
        if not names or any(n not in known for n in names):
            raise argparse.ArgumentTypeError(f"must be comma-separated {what} among {known}, got {text!r}")
        return names

    parse.__name__ = what  # argparse names the type in some messages
    return parse


@dataclass(frozen=True)
class Command:
    """A subcommand: the ``module:function`` that runs it and its one-line help."""

    target: str
    help: str

    def load(self) -> Callable[[list[str]], int]:
        """Import the module and return its main function, which takes ``argv`` and returns a status."""
        module, _, func = self.target.partition(":")
        return getattr(importlib.import_module(module), func)

    def available(self) -> bool:
        """Whether the module that runs the command exists in this version of the package."""
        return importlib.util.find_spec(self.target.partition(":")[0]) is not None


COMMANDS: dict[str, Command] = {
    "sweep": Command("nnrnn.sweep_cli:main", "train (or resume) a sweep of copy, addition or psMNIST runs"),
    "lm": Command("nnrnn.lm.cli:main", "train (or resume) the language-model runs of chapters 07 and 09"),
    "train": Command("nnrnn.train:_main", "train one vanilla RNN on copy, addition or psMNIST and print its history"),
    "book": Command("nnrnn.book:main", "execute every chapter with papermill and build the book"),
    "bench": Command("nnrnn.bench:main", "time the RNN engine against torch.nn.RNN (speed and memory)"),
    "data": Command("nnrnn.cli:data_main", "list the data sets, download them, verify their SHA-256"),
    "replicate": Command("nnrnn.replicate:_main", "run or resume the replicate protocol (pilot, selection, stage 2)"),
    "verify": Command("nnrnn.verify:main", "re-run a sample of archived runs and compare their results"),
}

_EPILOG = """\
examples:
  nnrnn sweep --task copy --profile demo --dry-run     # the plan and its core-hours, nothing trained
  nnrnn lm --cell rnn --profile smoke                  # the language-model runs of chapter 07
  nnrnn replicate --task copy --dry-run                # the replicate protocol, stage by stage
  nnrnn book --profile smoke                           # execute the chapters and build the book
  nnrnn data fetch mnist ptb                           # download and check the data sets
  nnrnn bench rnn --quick                              # the RNN engine against torch.nn.RNN
  nnrnn verify --sample 2                              # retrain two archived runs and compare

Each command has its own options, with their defaults and examples: nnrnn <command> --help.
`python -m nnrnn.<module>` (e.g. python -m nnrnn.sweep) runs the same commands."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnrnn",
        description="Non-normal RNN memory (Orhan & Pitkow, ICLR 2020): training sweeps, the book, "
        "benchmarks and data.",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"nnrnn {__version__}")
    parser.add_argument("--traceback", action="store_true",
                        help="on an error, show the full Python traceback instead of a one-line message")
    sub = parser.add_subparsers(dest="command", metavar="<command>", title="commands", required=True)
    for name, cmd in COMMANDS.items():
        sub.add_parser(name, help=cmd.help, add_help=False)
    return parser


def _run(name: str, argv: list[str], show_traceback: bool) -> int:
    """Run one subcommand with ``argv``; a ``ValueError`` becomes an ``error:`` line and status 2."""
    cmd = COMMANDS[name]
    if not cmd.available():
        print(f"nnrnn {name}: not available yet in nnrnn {__version__} "
              f"({cmd.target.partition(':')[0]} is not installed).", file=sys.stderr)
        return 1
    try:
        status = cmd.load()(argv)
    except ValueError as exc:
        if show_traceback:
            raise
        print(f"nnrnn {name}: error: {exc}", file=sys.stderr)
        print("(run `nnrnn --traceback " + name + " ...` to see where it was raised)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nnnrnn {name}: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``nnrnn [--traceback] <command> [options]``; return the exit status.

    Everything after the command name goes, unchanged, to that command's own parser.

    Examples:
        >>> sorted(COMMANDS)
        ['bench', 'book', 'data', 'lm', 'replicate', 'sweep', 'train', 'verify']
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    # The first word that is not an option is the command; what follows belongs to it.
    at = next((i for i, a in enumerate(argv) if not a.startswith("-")), len(argv))
    args = parser.parse_args(argv[: at + 1])  # exits 2 on an unknown command, 0 on --help
    return _run(args.command, argv[at + 1:], args.traceback)


# ----------------------------------------------------------------------------- nnrnn data
def _size(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def data_main(argv: Sequence[str] | None = None) -> int:
    """``nnrnn data list|fetch|verify``: the data sets of :mod:`nnrnn.data`.

    ``list`` shows each data set and its files; ``fetch NAME...`` finds each file (in the
    data directory, then the download folder) or downloads it, and checks its SHA-256;
    ``verify NAME...`` does the same without downloading and exits with status 1 if any
    file is missing or differs.
    """
    from . import data  # lazy: nnrnn.data imports torch (1.4 s); `nnrnn --help` answers without it

    names = list(data.DATASETS)
    parser = argparse.ArgumentParser(
        prog="nnrnn data",
        description="List, download and verify the data sets (files checked against their SHA-256).",
        epilog="examples:\n  nnrnn data list\n  nnrnn data fetch mnist ptb ptb-char\n"
        "  NNRNN_DATA_DIR=/data/nnrnn nnrnn data verify all",
        formatter_class=HelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", metavar="<action>", required=True)
    sub.add_parser("list", help="the data sets, their files and sizes", description="The data sets, their files "
                   "and sizes.", epilog="example:\n  nnrnn data list", formatter_class=HelpFormatter)
    for action, text in (("fetch", "find or download the files and check them"),
                         ("verify", "check the files that are here; download nothing")):
        p = sub.add_parser(action, help=text, description=text.capitalize() + ".", formatter_class=HelpFormatter,
                           epilog=f"examples:\n  nnrnn data {action} mnist ptb\n"
                           f"  nnrnn data {action} all --data-dir /data/nnrnn")
        p.add_argument("names", nargs="+", metavar="NAME", choices=[*names, "all"],
                       help=f"data sets: {', '.join(names)} or all")
        p.add_argument("--data-dir", default=None, metavar="DIR", type=existing_dir,
                       help="an existing data directory, searched first (default: $NNRNN_DATA_DIR, then the "
                       "download folder)")
    args = parser.parse_args(argv)

    if args.action == "list":
        for name, description in data.DATASETS.items():
            files = [f for f in data.FILES if f.split("/")[0] == name]
            total = sum(data.FILES[f][1] for f in files)
            print(f"{name:<9} {description} ({len(files)} file{'s' * (len(files) != 1)}, {_size(total)})")
            for f in files:
                print(f"    {f:<34} {_size(data.FILES[f][1]):>9}  sha256 {data.FILES[f][0][:16]}...")
        return 0

    try:  # a named data directory that is missing or a file is an error, not "every file missing"
        data.check_data_dir(args.data_dir)
    except data.DataNotFoundError as exc:
        print(f"nnrnn data: error: {exc}", file=sys.stderr)
        return 2
    chosen = names if "all" in args.names else list(dict.fromkeys(args.names))
    download = args.action == "fetch"
    missing, wrong = [], []
    for name in chosen:
        for f in (f for f in data.FILES if f.split("/")[0] == name):
            try:
                path = data.fetch(f, data_dir=args.data_dir, download=download)
            except data.DataNotFoundError as exc:
                missing.append(f)
                # without downloads, "not here" is the whole story; a failed download says why
                print(f"missing {f}" + (f": {exc}" if download else ""), file=sys.stderr)
            except (data.DataError, OSError) as exc:
                wrong.append(f)
                print(f"FAILED  {f}: {exc}", file=sys.stderr)
            else:
                print(f"ok      {f}  {path}")
    if missing and not download:
        sets = ' '.join(dict.fromkeys(f.split('/')[0] for f in missing))  # only the data sets with a missing file
        print(f"{len(missing)} file(s) missing: `nnrnn data fetch {sets}` downloads them; "
              "`nnrnn data list` shows every file and its SHA-256.", file=sys.stderr)
    if wrong:
        print(f"{len(wrong)} file(s) unusable (see above)", file=sys.stderr)
    return 1 if missing or wrong else 0
