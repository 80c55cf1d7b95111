r"""The paper's benchmark tasks and their registry: copy, addition and psMNIST.

A *task* is everything the trainer and the model builder need besides the initializer: a data
source, a loss, a random baseline, a metric, and the sizes of its model
(:class:`~nnrnn.tasks.base.Task`). :func:`get_task` returns one by name; every task is known as
soon as this package is imported (also in the worker processes of a sweep):

* :mod:`nnrnn.tasks.base`: the interfaces, the success rule and the one seeding helper,
  :func:`stream_generator`;
* :mod:`nnrnn.tasks.synthetic`: copy (T = 500) and addition (T = 750);
* :mod:`nnrnn.tasks.psmnist`: permuted sequential MNIST (T = 784).

:func:`register_task` adds a task under a new name (e.g. a variant in a notebook).

A run *succeeds* when its final validation loss is below half the baseline, as in the paper.
"""

from __future__ import annotations

from typing import Callable

from .. import validate
from .base import SUCCESS_FRACTION, Task, TaskData, TaskName, stream_generator, succeeded
from .psmnist import PsMNISTData, PsMNISTTask
from .synthetic import (
    COPY_CUE,
    COPY_LENGTH,
    COPY_SYMBOLS,
    AdditionData,
    AdditionTask,
    CopyData,
    CopyTask,
    addition_baseline,
    addition_sequences,
    copy_baseline,
    copy_sequences,
)

__all__ = [
    "TaskName",
    "Task",
    "TaskData",
    "CopyTask",
    "AdditionTask",
    "PsMNISTTask",
    "CopyData",
    "AdditionData",
    "PsMNISTData",
    "copy_sequences",
    "addition_sequences",
    "copy_baseline",
    "addition_baseline",
    "random_baseline",
    "succeeded",
    "SUCCESS_FRACTION",
    "COPY_LENGTH",
    "COPY_SYMBOLS",
    "COPY_CUE",
    "stream_generator",
    "register_task",
    "get_task",
    "task_names",
    "known_tasks",
]

#: the registry: task name -> factory ``factory()`` (the paper's length) or ``factory(T)``.
_TASKS: dict[str, Callable[..., Task]] = {"copy": CopyTask, "addition": AdditionTask, "psmnist": PsMNISTTask}


def register_task(name: str, factory: Callable[..., Task]) -> None:
    """Register a task factory ``factory()`` / ``factory(T)`` under ``name``.

    Examples:
        >>> register_task("", CopyTask)
        Traceback (most recent call last):
        ...
        ValueError: task name must be a non-empty string, got ''
    """
    if not isinstance(name, str) or not name:
        raise validate.error("task name", "a non-empty string", name)
    if not callable(factory):
        raise validate.error("factory", "callable (a Task class or a function returning a Task)", factory)
    _TASKS[name] = factory


def task_names() -> list[str]:
    """The registered task names, sorted.

    Examples:
        >>> task_names()[:3]
        ['addition', 'copy', 'psmnist']
    """
    return sorted(_TASKS)


def known_tasks() -> list[str]:
    """Every task name :func:`get_task` knows (the same as :func:`task_names`; kept for callers).

    Examples:
        >>> {"copy", "addition", "psmnist"} <= set(known_tasks())
        True
    """
    return task_names()


def get_task(name: str, T: int | None = None) -> Task:
    """The task called ``name`` at sequence length ``T`` (the paper's length when ``None``).

    Examples:
        >>> get_task("copy").T, get_task("addition", T=100).T, get_task("psmnist").T
        (500, 100, 784)
        >>> get_task("sorting")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: task must be one of ['addition', 'copy', 'psmnist'...], got 'sorting'
    """
    if not isinstance(name, str) or name not in _TASKS:
        raise validate.error("task", f"one of {task_names()}", name)
    factory = _TASKS[name]
    return factory() if T is None else factory(T)


def random_baseline(task: str, T: int | None = None) -> float:
    """The random-baseline loss of ``task`` at sequence length ``T`` (task default if ``None``).

    Examples:
        >>> round(random_baseline("copy"), 4), round(random_baseline("addition"), 4)
        (0.0416, 0.1667)
    """
    return get_task(task, T=T).baseline
