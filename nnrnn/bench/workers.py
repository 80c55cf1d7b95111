"""The processes of ``bench sweep``: each steps its own runs and times windows on request.

A :class:`Variant` is one layout (processes x torch threads x runs per process) of one kind of
work: a function, picklable for the ``spawn`` start method, that builds the process's runs and
returns an iterator which takes one step and yields how many run-updates it made.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Hashable, Iterator, Mapping, Sequence

import torch

from .common import interleave, sync

try:
    import resource
except ImportError:  # Windows: no peak-memory figure
    resource = None

__all__ = ["time_updates", "Variant", "interleaved"]


def time_updates(updates: Iterator[int], seconds: float, min_steps: int, device: torch.device) -> tuple[int, float]:
    """Take steps of ``updates`` for at least ``seconds`` and ``min_steps`` steps; ``(run-updates, wall seconds)``."""
    done = steps = 0
    sync(device)
    t0 = time.perf_counter()
    while steps < min_steps or time.perf_counter() - t0 < seconds:
        done += next(updates)
        steps += 1
    sync(device)
    return done, time.perf_counter() - t0


def _peak_rss() -> float:
    """This process's peak resident memory in bytes (NaN where ``resource`` is missing)."""
    if resource is None:
        return float("nan")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024.0)


def _worker(conn, build: Callable[[], Iterator[int]], threads: int) -> None:
    """A benchmark process: build the runs, then time windows on request until sent ``None``."""
    try:
        torch.set_num_threads(threads)
        base = _peak_rss()
        updates = build()
        conn.send(("ready", base, next(updates)))  # next(): build the runs
        while (msg := conn.recv()) is not None:
            conn.send(("done", *time_updates(updates, *msg, torch.device("cpu")), _peak_rss()))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises
        conn.send(("error", f"{type(e).__name__}: {e}"))


@dataclass
class Variant:
    """One layout: a process per entry of ``work`` (what it builds: ``runs[i]`` runs), each with ``threads`` torch threads."""

    label: str
    work: list[Callable[[], Iterator[int]]]
    runs: list[int]
    threads: int
    procs: list = field(default_factory=list)
    conns: list = field(default_factory=list)
    peak: list = field(default_factory=list)

    @property
    def layout(self) -> str:
        return f"{len(self.work)} proc x {self.threads} thr x {self.runs[0]} run"

    def start(self, ctx) -> None:
        for build in self.work:
            here, there = ctx.Pipe()
            self.procs.append(ctx.Process(target=_worker, args=(there, build, self.threads), daemon=True))
            self.procs[-1].start()
            self.conns.append(here)

    def ask(self, msg: tuple | None = None) -> list[tuple]:
        """Send ``msg`` (if any) to every process and return their answers."""
        for c in self.conns if msg is not None else ():
            c.send(msg)
        got = [c.recv() for c in self.conns]
        for m in got:
            if m[0] == "error":
                raise RuntimeError(f"{self.label}: a benchmark process failed: {m[1]}")
        return [m[1:] for m in got]

    def measure(self, seconds: float, min_steps: int) -> float:
        """Run-updates per second of all its processes together, over one window."""
        got = self.ask((seconds, min_steps))
        self.peak = [g[2] for g in got]
        return sum(done / wall for done, wall, _ in got)

    def stop(self) -> None:
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.send(None)
        for proc in self.procs:
            proc.join(timeout=10)
            proc.terminate()  # only if it still runs


def interleaved(
    variants: Sequence[Variant], rounds: int, window_s: float, extra: Mapping[Hashable, Callable[[], float]] | None = None
) -> tuple[dict[Hashable, list[float]], dict[str, list[float]]]:
    """Start every variant's processes, then time them (and ``extra``) in interleaved rounds after one warm-up round.

    Returns ``(values, base)``: each variant's run-updates per second (and each extra's value) per
    round, and each variant's per-process peak resident memory before it built its runs.
    """
    try:
        for v in variants:
            v.start(mp.get_context("spawn"))
        base = {v.label: [b for b, _ in v.ask()] for v in variants}
        fns: dict[Hashable, Callable[[], float]] = {v.label: (lambda v=v: v.measure(window_s, 2)) for v in variants}
        fns.update(extra or {})
        return interleave(fns, rounds, warmup=1), base
    finally:
        for v in variants:
            v.stop()
