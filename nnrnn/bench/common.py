"""What both benchmarks share: interleaved rounds, within-round ratios, timing, size picking, JSON."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Callable, Hashable, Mapping, Sequence

import torch

__all__ = ["interleave", "paired_ratio", "sync", "timed_ms", "pick_sizes", "write_json"]


def interleave(fns: Mapping[Hashable, Callable[[], float]], rounds: int, warmup: int = 0) -> dict[Hashable, list[float]]:
    """Call every function once per round, always in the same order (A B C A B C ...).

    Returns each function's values from the ``rounds`` rounds after ``warmup`` untimed ones, so
    that load which comes and goes during a benchmark falls on every variant alike.

    Examples:
        >>> calls = []
        >>> fns = {k: (lambda k=k: calls.append(k) or len(calls)) for k in "ab"}
        >>> interleave(fns, rounds=2, warmup=1), "".join(calls)
        ({'a': [3, 5], 'b': [4, 6]}, 'ababab')
    """
    out: dict[Hashable, list[float]] = {key: [] for key in fns}
    for r in range(warmup + rounds):
        for key, fn in fns.items():
            value = fn()
            if r >= warmup:
                out[key].append(value)
    return out


def paired_ratio(a: Sequence[float], b: Sequence[float]) -> float:
    """The median over rounds of ``a[i] / b[i]``: two variants compared within each round.

    Examples:
        >>> a, b = [2.0, 9.0, 4.0], [1.0, 3.0, 1.0]  # load tripled both in round 2
        >>> paired_ratio(a, b), statistics.median(a) / statistics.median(b)
        (3.0, 4.0)
    """
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def sync(device: torch.device) -> None:
    """Wait for ``device``'s queued work (a GPU's; a CPU has none)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_ms(fn: Callable[[], None], device: torch.device) -> float:
    """Milliseconds ``fn()`` takes on ``device``, its queued work included."""
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return 1e3 * (time.perf_counter() - t0)


def pick_sizes(names: str, known: Mapping[str, object]) -> dict:
    """The sizes named in ``names`` (comma-separated; empty: all), in the order given."""
    bad = [w for w in names.split(",") if w not in known] if names else []
    if bad:
        raise SystemExit(f"unknown size(s) {bad}; expected some of {list(known)}")
    return {w: known[w] for w in names.split(",")} if names else dict(known)


def write_json(path: str, payload: dict) -> None:
    """Write ``payload`` to ``path`` as JSON (folders made as needed); nothing when ``path`` is empty."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(payload, indent=1))
        print(f"wrote {path}")
