"""Where the runs of a sweep execute: the executors of :func:`nnrnn.sweep.run_sweep` and :func:`nnrnn.lm.sweep`.

Execution is pluggable through :mod:`concurrent.futures`:

* ``"local"``: a process pool (``spawn``) of :func:`nnrnn.resources.default_workers` workers on
  this machine; no server;
* ``"serial"``: in this process, one call after another (notebooks, tests, debugging);
* ``"dask"``: a Dask ``distributed`` cluster, given by a scheduler address such as
  ``"tcp://host:8786"``, or a ``LocalCluster`` when none is given;
* any ``concurrent.futures.Executor`` instance.

Every executor runs each run with one torch intra-op thread (:func:`torch_threads`), so a
result does not depend on where it ran.

:func:`run_missing` is the one loop that drives an executor for every trainer: the synthetic
sweeps (:func:`nnrnn.sweep.run_sweep`) and the language models (:func:`nnrnn.lm.runs.sweep`).
It claims each run's folder in the store (:func:`nnrnn.store.lock_run`), submits the work,
and hands every returned run back to this process to be stored as it arrives. A run that cannot
be stored is reported, not fatal: the other runs go on, and the unit's checkpoint (which holds
the finished run) is kept until every one of its runs is stored.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import threading
import time
import warnings
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, Mapping, Sequence, TypeVar

import torch
from tqdm.std import tqdm

from . import store as _store
from . import validate
from .resources import default_workers
from .store import clean_temporaries, lock_run, unlock_run

__all__ = ["ExecutorKind", "EXECUTORS", "SerialExecutor", "open_executor", "torch_threads", "RunnerOutcome", "run_missing",
           "failure_summary", "runs_here"]

Run = TypeVar("Run")

ExecutorKind = Literal["local", "serial", "dask"]
EXECUTORS: tuple[str, ...] = ("local", "serial", "dask")


class SerialExecutor(Executor):
    """Runs each submitted call at once in this process (the ``"serial"`` executor).

    Examples:
        >>> SerialExecutor().submit(divmod, 7, 2).result()
        (3, 1)
    """

    def submit(self, fn, /, *args, **kwargs) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            fut.set_exception(exc)
        return fut


def _exit_with_parent(parent: int, every_s: float = 1.0) -> None:
    """Pool-worker initializer: a daemon thread ends the worker once its parent process is gone.

    A sweep killed with SIGKILL cannot shut its pool down; without this its workers would wait
    for work forever, each holding its memory.
    """

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(every_s)

    threading.Thread(target=watch, name="nnrnn-exit-with-parent", daemon=True).start()


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` torch intra-op threads (``None``: leave them), restoring the setting after.

    Examples:
        >>> before = torch.get_num_threads()
        >>> with torch_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(validate.positive_int(threads, "threads"))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def runs_here(executor: str | Executor, scheduler: str | None = None) -> bool:
    """Whether ``executor`` trains on this machine (so its device can be checked here, before spawning).

    A Dask cluster given by a scheduler address, or an executor of unknown kind, may train elsewhere.

    Examples:
        >>> runs_here("local"), runs_here("dask"), runs_here("dask", "tcp://host:8786")
        (True, True, False)
    """
    if isinstance(executor, Executor):
        return isinstance(executor, (SerialExecutor, ProcessPoolExecutor, ThreadPoolExecutor))
    return executor in ("local", "serial") or (executor == "dask" and scheduler is None)


@contextlib.contextmanager
def open_executor(kind: str | Executor, max_workers: int | None, scheduler: str | None) -> Iterator[tuple[Executor, int | None]]:
    """Yield ``(executor, threads_per_run)`` for ``kind`` and shut it down afterwards.

    Examples:
        >>> with open_executor("serial", None, None) as (ex, threads):
        ...     ex.submit(sum, [1, 2]).result(), threads
        (3, 1)
    """
    if isinstance(kind, Executor):
        yield kind, 1
        return
    if kind not in EXECUTORS:
        raise validate.error("executor", f"one of {list(EXECUTORS)} or a concurrent.futures.Executor", kind)
    if max_workers is not None:
        max_workers = validate.positive_int(max_workers, "max_workers")
    if kind == "serial":
        yield SerialExecutor(), 1
        return
    if kind == "local":
        ex = ProcessPoolExecutor(max_workers=max_workers or default_workers(), mp_context=mp.get_context("spawn"),
                                 initializer=_exit_with_parent, initargs=(os.getpid(),))
        try:
            yield ex, 1
        finally:
            ex.shutdown(wait=True, cancel_futures=True)
        return
    try:
        from distributed import Client, LocalCluster  # lazy: Dask is an optional dependency
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("executor='dask' needs Dask distributed: pip install 'nnrnn[dask]'") from exc
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=max_workers or os.cpu_count() or 1, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout=10)
        except (OSError, TimeoutError) as exc:
            raise ValueError(
                f"cannot reach the Dask scheduler at {scheduler!r} within 10 s ({type(exc).__name__}); start one with "
                "`dask scheduler` and pass the address it prints, or use executor='local'"
            ) from None
    try:
        yield client.get_executor(pure=False), 1
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@dataclass
class RunnerOutcome:
    """What :func:`run_missing` did, by run key (a config hash).

    Attributes:
        ran: runs trained and written back, in the order they were written.
        locked: key -> who trains it, for runs left alone because another process holds their lock.
        errors: key -> error text, for runs whose unit of work raised (``on_error="record"``) and
            runs not started because their folder is blocked (:func:`nnrnn.store.check_run_path`).
        unstored: key -> ``"<folder>: <error>"``, for runs trained but not written (a full or
            read-only disk): their unit's checkpoint is kept, so a rerun stores them without training.
    """

    ran: list[str] = field(default_factory=list)
    locked: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    unstored: dict[str, str] = field(default_factory=dict)


def failure_summary(errors: Mapping[str, str], unstored: Mapping[str, str], total: int, *, limit: int = 10) -> str:
    """One message for every failed run: those that raised or could not start (the first
    ``limit``), then every run that could not be stored, with its folder and error ("" if none).

    Examples:
        >>> failure_summary({}, {"0123456789ab": "/r/0123456789ab: OSError: [Errno 28] No space left on device"}, 8)
        '1 of 8 runs trained but not stored (the others are stored; their checkpoints are kept, so a rerun stores them without training): 0123456789ab at /r/0123456789ab: OSError: [Errno 28] No space left on device'
    """
    parts = []
    if errors:
        listed = "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:limit])
        more = f"; ... and {len(errors) - limit} more" if len(errors) > limit else ""
        parts.append(f"{len(errors)} of {total} runs raised or could not start (the others are stored): {listed}{more}")
    if unstored:
        listed = "; ".join(f"{k} at {v}" for k, v in unstored.items())
        parts.append(f"{len(unstored)} of {total} runs trained but not stored (the others are stored; their checkpoints "
                     f"are kept, so a rerun stores them without training): {listed}")
    return "\n".join(parts)


def run_missing(
    units: Iterable[Sequence[Run]],
    submit: Callable[[Executor, int | None, list[Run]], Future],
    write: Callable[[Run, Mapping[str, Any]], None],
    *,
    key: Callable[[Run], str],
    folder: Callable[[Run], Path],
    executor: ExecutorKind | Executor = "local",
    max_workers: int | None = None,
    scheduler: str | None = None,
    desc: str = "sweep",
    progress: bool | None = None,
    on_error: Literal["record", "raise"] = "record",
    stored: Callable[[list[Run]], None] | None = None,
) -> RunnerOutcome:
    """Train the runs of ``units`` on an executor, writing each back here as it finishes.

    The one executor loop of every trainer (:func:`nnrnn.sweep.run_sweep`, :func:`nnrnn.lm.runs.sweep`):

    1. removes the leftover temporary folders of killed writers beside the run folders
       (:func:`nnrnn.store.clean_temporaries`);
    2. leaves out every run whose folder is blocked by a file (:func:`nnrnn.store.check_run_path`,
       recorded in ``outcome.errors``: it could never be stored) and claims every other run
       (:func:`nnrnn.store.lock_run` on ``folder(run)``); a run another process holds is left out
       (``outcome.locked``), so two sweeps on one store never train it twice;
    3. opens the executor (:func:`open_executor`) and calls ``submit(executor, threads, unit)``
       for each unit (the runs sent to one worker together: a lockstep group, or one run) with
       its claimed runs; the future returns one payload (a mapping) or a list of payloads in the
       unit's order;
    4. calls ``write(run, payload)`` here for every returned run as its future completes (with
       ``"serial"``, before the next unit starts), then records ``key(run)`` in ``outcome.ran``;
       a ``write`` that raises is recorded in ``outcome.unstored`` and the other runs go on;
    5. calls ``stored(unit)`` once every run of a unit is written (to remove the unit's
       checkpoint, which must outlive any run that could not be stored).

    A unit that raises is recorded for each of its runs in ``outcome.errors``
    (``on_error="record"``) or, with ``on_error="raise"``, cancels the units not yet started and
    propagates. In every case the locks are released (a release that fails is a warning, so it
    never hides the error that ended the loop), the tqdm bar over runs (``progress``; ``None``:
    only on a terminal) is closed and this process's torch threads are restored. Nothing is
    opened when no run could be claimed.
    """
    validate.choice(on_error, "on_error", ("record", "raise"))
    units = [list(u) for u in units if len(u)]
    runs = [r for u in units for r in u]
    for d in dict.fromkeys(folder(r).parent for r in runs):
        clean_temporaries(d)
    out = RunnerOutcome()
    claimed: list[Run] = []  # runs this process holds the lock of
    try:
        for r in runs:
            try:
                _store.check_run_path(folder(r))
            except _store.RunPathBlocked as exc:  # fail before training, not at the rename after it
                out.errors[key(r)] = f"{type(exc).__name__}: {exc}"
                continue
            holder = lock_run(folder(r))
            if holder is None:
                claimed.append(r)
            else:
                out.locked[key(r)] = holder
        mine = {id(r) for r in claimed}
        units = [g for g in ([r for r in u if id(r) in mine] for u in units) if g]
        if not units:
            return out
        with torch_threads(None), tqdm(total=len(claimed), disable=(not progress) if progress is not None else None,
                                       desc=desc, unit="run") as bar:
            _drive(units, submit, write, key, folder, stored, executor, max_workers, scheduler, on_error, bar, out)
    finally:
        for r in claimed:
            try:
                unlock_run(folder(r))
            except Exception as exc:  # noqa: BLE001 - e.g. EROFS: must not mask the error that ended the loop
                warnings.warn(f"could not release the lock of {folder(r)} ({type(exc).__name__}: {exc})", stacklevel=2)
    return out


def _drive(units: list[list[Run]], submit: Callable, write: Callable, key: Callable[[Run], str], folder: Callable,
           stored: Callable | None, executor: Any, max_workers: int | None, scheduler: str | None, on_error: str,
           bar: tqdm, out: RunnerOutcome) -> None:
    """The executor loop of :func:`run_missing`: submit, collect, write back; cancel on an exception."""
    with open_executor(executor, max_workers, scheduler) as (ex, threads):

        def collect(fut: Future, unit: list[Run]) -> None:
            try:
                got = fut.result()
                payloads = [got] if isinstance(got, Mapping) else list(got)
                if len(payloads) != len(unit):
                    raise RuntimeError(f"a worker returned {len(payloads)} runs for a group of {len(unit)}")
            except Exception as exc:  # a bug or an environment problem in one unit
                if on_error == "raise":
                    raise
                for r in unit:
                    out.errors[key(r)] = f"{type(exc).__name__}: {exc}"
                bar.update(len(unit))
                return
            complete = True
            for r, payload in zip(unit, payloads):
                try:
                    write(r, payload)
                except Exception as exc:  # a full or read-only disk: report it, keep the others
                    out.unstored[key(r)] = f"{folder(r)}: {type(exc).__name__}: {exc}"
                    complete = False
                else:
                    out.ran.append(key(r))
                bar.update(1)
                bar.set_postfix(status=(payload.get("result") or {}).get("status"))
            if complete and stored is not None:
                try:
                    stored(unit)
                except Exception as exc:  # noqa: BLE001 - a checkpoint left behind loses nothing
                    warnings.warn(f"the runs {[key(r) for r in unit]} are stored, but cleaning up after them failed "
                                  f"({type(exc).__name__}: {exc})", stacklevel=2)

        futures: dict[Future, list[Run]] = {}
        try:
            if isinstance(ex, SerialExecutor):  # runs at submit: store each unit before the next
                for u in units:
                    collect(submit(ex, threads, u), u)
            else:
                futures = {submit(ex, threads, u): u for u in units}
                for fut in as_completed(futures):
                    collect(fut, futures[fut])
        except BaseException:
            for f in futures:
                f.cancel()
            raise
