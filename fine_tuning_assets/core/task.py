"""What a task is: one kind of human decision the project learns from, described in plain Python.

A task says how to count its feedback, build a training set, train a candidate, evaluate it against the
active and the base model, and what each step should show. ``defs/`` turns every task into the same Dagster
chain (``<task>_feedback → _training_set → _candidate_model → _evaluation → _active_model``), with its checks,
jobs, schedules and sensor; :mod:`fine_tuning_assets.core.lifecycle` runs the registry side of training and
evaluation the same way for every task. Nothing here imports Dagster: a step reports plain metadata (numbers
and strings, or :class:`Markdown`, :class:`JsonData` and :class:`FilePath` values the Dagster UI shows as such)
and the outcome of its checks.

A new task is a folder under ``tasks/`` with an object that has the attributes and methods of :class:`Task`,
added to the task list in ``fine_tuning_assets/tasks/__init__.py``.

Example:
    >>> report = StepReport(metadata={"pairs": 12, "splits": Markdown("| split | n |")},
    ...                     checks=[CheckOutcome("no_leakage", passed=True)])
    >>> report.checks[0].severity
    'error'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy.engine import Engine

from fine_tuning_assets.core.artifacts import ArtifactStore
from fine_tuning_assets.core.registry import ModelRegistry, ModelVersion

ProgressFn = Callable[[str], None]


class TaskDataError(ValueError):
    """The task's data cannot support this step (too few decisions, a split without a class, ...); the
    message says what is missing. The step fails with it, nothing is half-written."""


@dataclass(frozen=True)
class Markdown:
    """Metadata shown as markdown (a table, a list, an embedded plot)."""

    text: str

    @classmethod
    def table(cls, frame: Any) -> Markdown:
        """A pandas DataFrame as a markdown table (``_none_`` when it has no rows)."""
        return cls(frame.to_markdown(index=False) if len(frame) else "_none_")


@dataclass(frozen=True)
class JsonData:
    """Metadata shown as JSON."""

    value: Any


@dataclass(frozen=True)
class FilePath:
    """Metadata naming a file or folder."""

    path: str


@dataclass(frozen=True)
class CheckSpec:
    """A data-quality check of a step, declared before the step runs; a blocking one that fails stops the
    chain there."""

    name: str
    description: str
    blocking: bool = False


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    severity: Literal["error", "warn"] = "error"
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepReport:
    """What a step tells the UI: metadata, and the outcome of its checks."""

    metadata: dict[str, Any] = field(default_factory=dict)
    checks: list[CheckOutcome] = field(default_factory=list)


@dataclass(frozen=True)
class TaskSettings:
    """The environment settings a task's steps read: FINETUNE_MIN_EXAMPLES and FTA_BASE_MODEL."""

    min_examples: int = 10
    base_model: str | None = None


class TrainingSetInfo(Protocol):
    version: str
    recorded_through: datetime | None


@dataclass(frozen=True)
class BuiltTrainingSet:
    """A training set saved by a task: its version, folder, the watermark it was cut at, and its report."""

    version: str
    path: Path
    recorded_through: datetime | None
    report: StepReport


@dataclass(frozen=True)
class TrainedModel:
    """What a task's training wrote into a model version's folder."""

    summary: str  # one line for the audit trail
    metrics: dict[str, Any]  # JSON: the version's training metrics in the registry
    report: StepReport


@dataclass(frozen=True)
class Evaluation:
    """A task's evaluation of a candidate: the full report (JSON, written beside the model), what the registry
    keeps of it, and a note for the audit trail. ``report["gate"]`` holds ``passed``, ``reasons``,
    ``reference``, ``improvement`` and ``improvement_lower_bound``."""

    report: dict[str, Any]
    summary: dict[str, Any]
    note: str = ""


#: The formats a task's training data can be exported in (``fta export training-data``, the HTTP API).
EXPORT_FORMATS: tuple[str, ...] = ("openai_jsonl", "json")


@dataclass(frozen=True)
class TrainingDataExport:
    """A task's training data as records: OpenAI chat fine-tuning examples, and the task's own JSON records.
    ``dataset_version`` is the saved training set they came from (None: built from the store just now, as
    ``origin`` says)."""

    dataset_version: str | None
    origin: str
    openai_chat: list[dict[str, Any]]
    records: list[dict[str, Any]]
    stats: dict[str, Any]

    def in_format(self, export_format: str) -> list[dict[str, Any]]:
        if export_format not in EXPORT_FORMATS:
            raise ValueError(
                f"unknown export format {export_format!r}; use one of {', '.join(EXPORT_FORMATS)}"
            )
        return self.openai_chat if export_format == "openai_jsonl" else self.records


class Task(Protocol):
    """One kind of decision; see the module docstring."""

    #: Short name: the asset group, and the prefix of every asset, job, schedule and sensor.
    name: str
    #: What a person decides, for descriptions in the UI.
    description: str
    model_kind: str
    #: Settings dataclasses whose fields (and docstring ``Attributes:``) become the steps' run config.
    training_set_config: type
    candidate_config: type
    evaluation_config: type
    training_set_checks: tuple[CheckSpec, ...]
    evaluation_checks: tuple[CheckSpec, ...]  # the first is the blocking promotion gate
    #: Dagster "kinds" shown on each step's asset, by step name.
    kinds: Mapping[str, frozenset[str]]
    #: The label of a served prediction that says "yes" (dedup: merge; retrieval: relevant), for live precision.
    positive_label: str

    def feedback_counts(self, engine: Engine) -> dict[str, int]: ...

    def latest_recorded_at(self, engine: Engine) -> datetime | None: ...

    def count_decisions_after(self, engine: Engine, watermark: datetime | None) -> int: ...

    def build_training_set(
        self,
        engine: Engine,
        artifacts: ArtifactStore,
        *,
        recorded_through: datetime | None,
        config: Any,
        settings: TaskSettings,
        progress: ProgressFn,
    ) -> BuiltTrainingSet: ...

    def load_training_set(self, artifacts: ArtifactStore, version: str) -> TrainingSetInfo: ...

    def train(
        self,
        training_set: Any,
        *,
        config: Any,
        settings: TaskSettings,
        output_dir: Path,
        progress: ProgressFn,
    ) -> TrainedModel: ...

    def evaluate(
        self,
        version: ModelVersion,
        *,
        active: ModelVersion | None,
        artifacts: ArtifactStore,
        config: Any,
        progress: ProgressFn,
    ) -> Evaluation: ...

    def describe_evaluation(self, report: Mapping[str, Any]) -> StepReport: ...

    def export_training_data(
        self,
        engine: Engine,
        artifacts: ArtifactStore,
        *,
        dataset_version: str | None,
        split: str,
        settings: TaskSettings,
    ) -> TrainingDataExport:
        """The training data of a saved training set (``dataset_version``) or, when None, of the store's
        decisions now, for one split (``"all"``, or a split name)."""
        ...

    def load_predictor(self, registry: ModelRegistry, engine: Engine, *, base_model: str | None) -> Any:
        """What serving loads: the active version's model (or the base model, saying why), with ``model``,
        ``model_version_id`` and ``fallback_reason`` (see :mod:`fine_tuning_assets.serving.model_cache`)."""
        ...

    def onnx_components(self, directory: Path) -> dict[str, tuple[Path, str]]:
        """The fine-tuned sentence-transformers models in a version's folder that can be exported to ONNX:
        name → (folder, ``"bi-encoder"`` or ``"cross-encoder"``)."""
        ...
