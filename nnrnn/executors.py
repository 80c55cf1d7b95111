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
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import threading
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Iterator, Literal

import torch

from . import validate
from .resources import default_workers

__all__ = ["ExecutorKind", "EXECUTORS", "SerialExecutor", "open_executor", "torch_threads"]

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
