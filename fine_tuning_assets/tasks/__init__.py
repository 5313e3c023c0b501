"""The task list: every kind of decision the project learns from, one folder each.

``defs/`` builds the same Dagster chain for every task here, and the CLI offers each task's commands. A new
task is a folder beside ``dedup/`` with a task object (see :class:`fine_tuning_assets.core.task.Task`), added
to :data:`TASKS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fine_tuning_assets.core.task import Task

    TASKS: tuple[Task, ...]

#: The tasks' names, in the order of :data:`TASKS`.
TASK_NAMES: tuple[str, ...] = ("dedup", "retrieval", "triage", "signals")


def _load_tasks() -> tuple[Task, ...]:
    from fine_tuning_assets.tasks.dedup.task import DEDUP
    from fine_tuning_assets.tasks.retrieval.task import RETRIEVAL
    from fine_tuning_assets.tasks.signals.task import SIGNALS
    from fine_tuning_assets.tasks.triage.task import TRIAGE

    return (DEDUP, RETRIEVAL, TRIAGE, SIGNALS)


def __getattr__(name: str) -> Any:
    # TASKS is loaded on first use: a task object brings its whole stack (scikit-learn, pandas, the chain's
    # plots), which `fta counts` or an import of one task's records does not need.
    if name == "TASKS":
        tasks = _load_tasks()
        globals()["TASKS"] = tasks
        return tasks
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def task_named(name: str) -> Task:
    """The task called ``name``; ValueError naming the tasks there are."""
    from fine_tuning_assets import tasks

    for task in tasks.TASKS:
        if task.name == name:
            return task
    raise ValueError(f"no task {name!r}; the tasks are {', '.join(TASK_NAMES)}")
