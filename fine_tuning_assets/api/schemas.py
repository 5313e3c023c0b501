"""The API's contract: request and response bodies (pydantic), as the OpenAPI spec shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fine_tuning_assets.tasks.triage.records import RATING_RANGE

#: The longest text a request may carry (a statement, a query).
MAX_TEXT = 10_000
#: The most pairs one batch request may score.
MAX_BATCH = 1_000

Text = Field(min_length=1, max_length=MAX_TEXT)
#: A database id (a 32-bit integer on every backend).
MAX_ID = 2**31 - 1


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorResponse(BaseModel):
    detail: Any = Field(description="what was wrong: a message, or FastAPI's list of invalid fields")


# -- models ---------------------------------------------------------------------------------------------
class ModelVersionOut(BaseModel):
    id: int
    task: str
    version: int
    label: str
    state: str
    model_kind: str
    base_model: str
    dataset_version: str
    created_at: datetime
    updated_at: datetime
    evaluation: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, version: Any, *, full: bool = False) -> ModelVersionOut:
        return cls(
            id=version.id,
            task=version.task,
            version=version.version,
            label=version.label,
            state=version.state,
            model_kind=version.model_kind,
            base_model=version.base_model,
            dataset_version=version.dataset_version,
            created_at=version.created_at,
            updated_at=version.updated_at,
            evaluation=version.evaluation if full else {},
        )


class ModelEventOut(BaseModel):
    event: str
    from_state: str | None
    to_state: str
    actor: str
    reason: str
    created_at: datetime


class ModelVersionDetail(ModelVersionOut):
    events: list[ModelEventOut]


class ServingOut(BaseModel):
    model: str
    model_version_id: int | None
    fallback_reason: str | None
    loaded_seconds_ago: float
    load_seconds: float
    prediction_cache_size: int
    prediction_cache_hits: int


class TaskModelStatus(BaseModel):
    task: str
    active: ModelVersionOut | None
    serving: ServingOut | None = Field(description="what this server has loaded (None until first used)")


class PromoteIn(Strict):
    reason: str = Field(min_length=1, max_length=2000)
    expected_active_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="the version you saw active (None: none was); a promotion made since is a 409, nothing changes",
    )


class RollbackIn(Strict):
    reason: str = Field(min_length=1, max_length=2000)
    to_version_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="default: the version active before it"
    )


class MisclassificationOut(BaseModel):
    prediction_id: int
    inputs: dict[str, Any]
    prediction: str
    actual: str
    probability: float | None
    band: str | None
    created_at: datetime


class LiveAccuracyOut(BaseModel):
    task: str
    model_version_id: int | None
    predictions: int
    with_outcome: int
    correct: int
    accuracy: float | None
    precision: float | None
    automatic_with_outcome: int
    override_rate: float | None
    mean_latency_ms: float | None
    misclassifications: list[MisclassificationOut]


# -- dedup ----------------------------------------------------------------------------------------------
class PairIn(Strict):
    text_a: str = Text
    text_b: str = Text
    insight_a_id: str | None = Field(default=None, max_length=200)
    insight_b_id: str | None = Field(default=None, max_length=200)


class PairBatchIn(Strict):
    pairs: list[PairIn] = Field(min_length=1, max_length=MAX_BATCH)


class PairPrediction(BaseModel):
    label: Literal["merge", "separate"]
    band: str
    probability: float
    automatic: bool = Field(description="decided without a human (auto-merge or keep-separate band)")
    model: str
    model_version_id: int | None
    fallback_reason: str | None = Field(description="why the base model answered, when it did")
    cached: bool
    latency_ms: float
    prediction_id: int


class PairBatchOut(BaseModel):
    predictions: list[PairPrediction]
    model: str
    model_version_id: int | None
    fallback_reason: str | None


class InsightCheckIn(Strict):
    text: str = Text
    insight_id: str | None = Field(default=None, max_length=200, description="default: derived from the text")
    save: bool = Field(default=True, description="store the insight and, when unsure, a pending cluster")
    k: int = Field(default=20, ge=1, le=100, description="candidates the pair model scores")


class MatchOut(BaseModel):
    insight_id: str
    statement: str
    similarity: float
    probability: float
    band: str
    label: str


class InsightCheckOut(BaseModel):
    insight_id: str
    stored: bool
    best_match: MatchOut | None
    candidates: list[MatchOut]
    cluster_id: str | None
    cluster_priority: str | None
    model: str
    model_version_id: int | None
    fallback_reason: str | None
    latency_ms: float
    prediction_id: int | None
    notes: list[str]


class DecisionIn(Strict):
    status: Literal["approved", "rejected"]
    reviewer: str = Field(min_length=1, max_length=200)
    selected_insight_ids: list[str] = Field(default_factory=list, max_length=1000)


class ClusterOut(BaseModel):
    id: str
    status: str
    reviewer: str | None
    decided_at: datetime | None
    priority: str | None
    members: list[dict[str, Any]]


# -- retrieval --------------------------------------------------------------------------------------------
class RankIn(Strict):
    query: str = Text
    top_k: int = Field(default=10, ge=1, le=100)


class RankedDocumentOut(BaseModel):
    rank: int
    document_id: str
    score: float
    title: str


class RankOut(BaseModel):
    query: str
    results: list[RankedDocumentOut]
    model: str
    model_version_id: int | None
    fallback_reason: str | None
    latency_ms: float
    prediction_ids: list[int]


class RatingIn(Strict):
    query: str = Text
    document_id: str = Field(min_length=1, max_length=200)
    relevant: bool
    rating: float | None = None
    user: str | None = Field(default=None, max_length=200)


class ImportOut(BaseModel):
    new: int
    already_present: int
    changed: int


# -- training ---------------------------------------------------------------------------------------------
class RunIn(Strict):
    task: str = Field(min_length=1, max_length=100)
    job: Literal["chain", "data_prep"] = "chain"
    run_config: dict[str, Any] = Field(default_factory=dict, description="Dagster run config of the job")


class RunOut(BaseModel):
    run_id: str
    job_name: str | None
    status: str = Field(description="Dagster's run status, or STARTING while the run's process loads")
    start_time: float | None = None
    end_time: float | None = None
    message: str | None = None


class TrainingDataStats(BaseModel):
    task: str
    dataset_version: str | None
    origin: str
    records: int
    stats: dict[str, Any]


class TrainingDataOut(TrainingDataStats):
    data: list[dict[str, Any]]


# -- classification tasks (triage, signals) ---------------------------------------------------------------
class ReviewIn(Strict):
    text: str = Text
    rating: float | None = Field(default=None, ge=RATING_RANGE[0], le=RATING_RANGE[1])


class TriageIn(Strict):
    reviews: list[ReviewIn] = Field(min_length=1, max_length=MAX_BATCH)


class ChunkIn(Strict):
    text: str = Text


class SignalsIn(Strict):
    chunks: list[ChunkIn] = Field(min_length=1, max_length=MAX_BATCH)


class FieldPredictionOut(BaseModel):
    label: str
    probability: float
    band: Literal["automatic", "needs_review"]
    threshold: float | None
    probabilities: dict[str, float]


class ClassificationOut(BaseModel):
    fields: dict[str, FieldPredictionOut]
    model: str
    model_version_id: int | None
    fallback_reason: str | None
    latency_ms: float
    cached: bool
    prediction_id: int | None


class ClassificationsOut(BaseModel):
    predictions: list[ClassificationOut]
