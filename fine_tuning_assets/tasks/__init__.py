"""The task list: every kind of decision the project learns from, one folder each.

``defs/`` builds the same Dagster chain for every task here, and the CLI offers each task's commands. A new
task is a folder beside ``dedup/`` with a task object (see :class:`fine_tuning_assets.core.task.Task`), added
to :data:`TASKS`.
"""

from __future__ import annotations

from fine_tuning_assets.core.task import Task
from fine_tuning_assets.tasks.dedup.task import DEDUP
from fine_tuning_assets.tasks.retrieval.task import RETRIEVAL
from fine_tuning_assets.tasks.signals.task import SIGNALS
from fine_tuning_assets.tasks.triage.task import TRIAGE

TASKS: tuple[Task, ...] = (DEDUP, RETRIEVAL, TRIAGE, SIGNALS)


def task_named(name: str) -> Task:
    """The task called ``name``; ValueError naming the tasks there are."""
    for task in TASKS:
        if task.name == name:
            return task
    raise ValueError(f"no task {name!r}; the tasks are {', '.join(t.name for t in TASKS)}")
