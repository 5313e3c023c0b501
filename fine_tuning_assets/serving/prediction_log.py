"""The prediction log: every prediction served, and what a human later decided about the same item.

A task names each item it predicts on with a key (:func:`item_key`: dedup, the two statements; retrieval, the
query and the document), so that a decision recorded or imported later — by whatever path — finds the
predictions made on it. :func:`record_outcomes` runs inside the transaction that stores the decision;
:func:`live_accuracy` reports accuracy, precision, the override rate (automatic predictions a human decided
otherwise) and the misclassifications, most confident first.

Example:
    >>> from fine_tuning_assets.core.database import open_database
    >>> engine = open_database("sqlite://")
    >>> key = item_key("Coffee raises alertness.", "Caffeine makes people alert.")
    >>> [i] = log_predictions(engine, [LoggedPrediction(task="dedup", model_version_id=None, model="base",
    ...     item_key=key, inputs={}, prediction="merge", probability=0.97, band="auto_merge", automatic=True,
    ...     latency_ms=12.0, fallback=True)])
    >>> with engine.begin() as connection:
    ...     record_outcomes(connection, task="dedup", outcomes={key: "separate"}, source="doctest")
    1
    >>> report = live_accuracy(engine, task="dedup", positive="merge")
    >>> report.with_outcome, report.accuracy, report.override_rate
    (1, 0.0, 1.0)
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fine_tuning_assets.core.database import as_utc, model_predictions, utcnow
from fine_tuning_assets.core.imports import normalise_whitespace
from fine_tuning_assets.core.store_writes import in_chunks


def normalise_text(text: str) -> str:
    """Unicode NFKC, case-folded, whitespace collapsed: the form item keys are computed on."""
    return normalise_whitespace(unicodedata.normalize("NFKC", text).casefold())


def item_key(*parts: str, ordered: bool = False) -> str:
    """A stable key for an item made of texts (hex sha256 of their normalised forms). Unordered by default:
    a pair of statements is the same item whichever comes first.

    Example:
        >>> item_key("A b", "c") == item_key("c", "a  B")
        True
    """
    normalised = [normalise_text(p) for p in parts]
    if not ordered:
        normalised.sort()
    return hashlib.sha256("\x1f".join(normalised).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LoggedPrediction:
    """One served prediction. ``prediction`` is the label the model chose; ``automatic``: applied without a
    human (an automatic band). ``model_version_id`` is None when the base model served (a fallback)."""

    task: str
    model_version_id: int | None
    model: str
    item_key: str
    inputs: dict[str, Any]
    prediction: str
    probability: float | None
    band: str | None
    automatic: bool
    latency_ms: float
    fallback: bool
    score: float | None = None


def log_predictions(engine: Engine, predictions: Sequence[LoggedPrediction]) -> list[int]:
    """Write predictions in one transaction; their ids, in order."""
    if not predictions:
        return []
    now = utcnow()
    rows = [{**asdict(p), "created_at": now} for p in predictions]
    with engine.begin() as connection:
        result = connection.execute(
            model_predictions.insert().returning(model_predictions.c.id, sort_by_parameter_order=True), rows
        )
        return [row.id for row in result]


def record_outcomes(
    connection: Connection,
    *,
    task: str,
    outcomes: Mapping[str, str],
    source: str,
    decided_at: datetime | None = None,
) -> int:
    """Record what a human decided (``outcomes``: item key → label) on the logged predictions of those items,
    in the caller's transaction (the one that stores the decision). A later decision replaces an earlier one.
    Returns how many logged predictions got an outcome."""
    if not outcomes:
        return 0
    decided_at = as_utc(decided_at) or utcnow()
    logged: set[str] = set()
    for chunk in in_chunks(sorted(outcomes)):
        logged.update(
            connection.execute(
                sa.select(model_predictions.c.item_key)
                .where(model_predictions.c.task == task, model_predictions.c.item_key.in_(chunk))
                .distinct()
            ).scalars()
        )
    updated = 0
    for key in sorted(logged):
        updated += connection.execute(
            model_predictions.update()
            .where(model_predictions.c.task == task, model_predictions.c.item_key == key)
            .values(actual=outcomes[key], actual_at=decided_at, actual_source=source[:200])
        ).rowcount
    return updated


@dataclass(frozen=True)
class Misclassification:
    prediction_id: int
    item_key: str
    inputs: dict[str, Any]
    prediction: str
    actual: str
    probability: float | None
    band: str | None
    created_at: datetime


@dataclass(frozen=True)
class LiveAccuracy:
    """How a model did on live traffic whose items a human decided later."""

    task: str
    model_version_id: int | None
    predictions: int
    with_outcome: int
    correct: int
    accuracy: float | None
    #: Of the predictions of the positive label that got an outcome, the share the human confirmed.
    precision: float | None
    automatic_with_outcome: int
    #: Of the automatic predictions that got an outcome, the share a human decided otherwise.
    override_rate: float | None
    mean_latency_ms: float | None
    misclassifications: list[Misclassification] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def live_accuracy(
    engine: Engine,
    *,
    task: str,
    positive: str,
    model_version_id: int | None = None,
    fallback: bool = False,
    limit: int = 20,
) -> LiveAccuracy:
    """Live accuracy of one model version of ``task`` (``model_version_id``), of the base-model fallback
    (``fallback=True``), or of everything the task served (neither); at most ``limit`` misclassifications,
    the most confident first."""
    p = model_predictions.c
    where = [p.task == task]
    if model_version_id is not None:
        where.append(p.model_version_id == model_version_id)
    elif fallback:
        where.append(p.model_version_id.is_(None))
    decided = sa.and_(*where, p.actual.is_not(None))
    right = sa.case((p.actual == p.prediction, 1), else_=0)
    with engine.connect() as connection:
        total, mean_latency = connection.execute(
            sa.select(sa.func.count(), sa.func.avg(p.latency_ms)).where(*where)
        ).one()
        with_outcome, correct = connection.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(right), 0)).where(decided)
        ).one()
        positives, true_positives = connection.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(right), 0)).where(
                decided, p.prediction == positive
            )
        ).one()
        automatic, overridden = connection.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(1 - right), 0)).where(
                decided, p.automatic.is_(True)
            )
        ).one()
        confidence = sa.func.abs(sa.func.coalesce(p.probability, 0.5) - 0.5)
        wrong = connection.execute(
            sa.select(model_predictions)
            .where(decided, p.actual != p.prediction)
            .order_by(confidence.desc(), p.id.desc())
            .limit(limit)
        ).all()
    return LiveAccuracy(
        task=task,
        model_version_id=model_version_id,
        predictions=int(total),
        with_outcome=int(with_outcome),
        correct=int(correct),
        accuracy=_ratio(int(correct), int(with_outcome)),
        precision=_ratio(int(true_positives), int(positives)),
        automatic_with_outcome=int(automatic),
        override_rate=_ratio(int(overridden), int(automatic)),
        mean_latency_ms=float(mean_latency) if mean_latency is not None else None,
        misclassifications=[
            Misclassification(
                prediction_id=row.id,
                item_key=row.item_key,
                inputs=dict(row.inputs or {}),
                prediction=row.prediction,
                actual=row.actual,
                probability=row.probability,
                band=row.band,
                created_at=as_utc(row.created_at),
            )
            for row in wrong
        ],
    )


def served_versions(engine: Engine, *, task: str | None = None) -> list[tuple[str, int | None]]:
    """The (task, model version id) pairs that served predictions; None for the base-model fallback."""
    p = model_predictions.c
    query = sa.select(p.task, p.model_version_id).distinct()
    if task is not None:
        query = query.where(p.task == task)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return sorted(((row.task, row.model_version_id) for row in rows), key=lambda r: (r[0], r[1] or 0))
