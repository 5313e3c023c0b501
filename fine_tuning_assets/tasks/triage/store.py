"""The triage task's store: people's corrections of an AI's triage of app reviews.

Every write is one transaction under the feedback write lock (:mod:`fine_tuning_assets.core.store_writes`),
so a batch lands whole or not at all and ``recorded_at`` follows commit order: the watermark a snapshot is cut
at. Re-importing the same corrections changes nothing. A later correction of a review (another row for the
same ``review_id``) is stored beside the earlier one; the training set keeps the latest.

Label sets are learned from the data: the store's labels of a field are the distinct values people gave for
it. The first import of a field defines its set; afterwards a batch bringing a label the store does not hold
(a typo such as ``Bug`` for ``BUG``, or a new class) is refused unless ``allow_new_labels=True``. The AI's
original labels are never checked: the AI can be wrong in any way.

Example:
    >>> from fine_tuning_assets.core.database import open_database
    >>> store = TriageStore(open_database("sqlite://"))
    >>> first = TriageCorrection(
    ...     "r-1", "Crashes at login", original={"category": "PERFORMANCE"}, corrected={"category": "BUG"}
    ... )
    >>> report = store.add(TriageBatch.of([first]), source="doctest")
    >>> (report.new, report.corrections, report.confirmations, report.new_labels["category"])
    (1, 1, 0, ('BUG',))
    >>> store.add(TriageBatch.of([first]), source="doctest").already_present
    1
    >>> typo = TriageCorrection("r-2", "Add dark mode", corrected={"category": "Feature"})
    >>> store.add(TriageBatch.of([typo]), source="doctest")
    Traceback (most recent call last):
    ...
    fine_tuning_assets.tasks.triage.store.TriageStoreError: doctest: 1 problem(s), nothing was written:
      category: unknown label 'Feature' (the store knows BUG); pass allow_new_labels=True (--allow-new-labels) to accept them
    >>> store.add(TriageBatch.of([typo]), source="doctest", allow_new_labels=True).new_labels["category"]
    ('Feature',)
    >>> store.label_sets()["category"]
    ['BUG', 'Feature']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fine_tuning_assets.core.database import as_utc, import_batches, utcnow
from fine_tuning_assets.core.imports import list_problems
from fine_tuning_assets.core.store_writes import IN_QUERY_CHUNK, in_chunks, serialize_feedback_writes
from fine_tuning_assets.serving.prediction_log import item_key, record_outcomes
from fine_tuning_assets.tasks.triage.records import (
    ALL_FIELDS,
    TRIAGE_FIELDS,
    TriageBatch,
    TriageCorrection,
    batch_problems,
)
from fine_tuning_assets.tasks.triage.tables import triage_corrections

__all__ = ["IMPORT_KIND", "ImportReport", "TriageStore", "TriageStoreError"]

#: ``import_batches.kind`` of a triage import.
IMPORT_KIND = "triage"

#: Lines listed per unknown label in a refusal.
_LISTED_LINES = 10


class TriageStoreError(ValueError):
    """A write the triage store refuses; nothing was written."""


@dataclass(frozen=True)
class ImportReport:
    """What :meth:`TriageStore.add` did with a batch.

    ``new`` corrections were written, ``already_present`` ones were stored before (same fingerprint).
    Over the new rows, per field of :data:`~fine_tuning_assets.tasks.triage.records.ALL_FIELDS` (the
    summary included): a *confirmation* is a field the person left as the AI had it, a *correction* one
    they changed (a field without the AI's or the person's value is neither); ``confirmations`` and
    ``corrections`` are the totals. ``new_labels`` lists, per classification field, the labels the store did
    not hold before this batch (on a field's first import: its whole set). ``batch_id`` is the
    ``import_batches`` row, None when nothing was written.
    """

    batch_id: int | None
    new: int
    already_present: int
    confirmations: int = 0
    corrections: int = 0
    confirmations_by_field: Mapping[str, int] = field(default_factory=dict)
    corrections_by_field: Mapping[str, int] = field(default_factory=dict)
    new_labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def wrote_anything(self) -> bool:
        return self.batch_id is not None


def _row(correction: TriageCorrection, *, batch_id: int, now: datetime) -> dict:
    row = {
        "review_id": correction.review_id,
        "text": correction.text,
        "app": correction.app,
        "rating": None if correction.rating is None else float(correction.rating),
        "corrected_by": correction.corrected_by,
        "corrected_at": correction.corrected_at,
        "recorded_at": now,
        "fingerprint": correction.fingerprint,
        "import_batch_id": batch_id,
    }
    row.update({f"original_{name}": correction.original[name] for name in ALL_FIELDS})
    row.update({name: correction.corrected[name] for name in ALL_FIELDS})
    return row


def _from_row(row: sa.Row) -> TriageCorrection:
    values = row._mapping
    return TriageCorrection(
        review_id=row.review_id,
        text=row.text,
        app=row.app,
        rating=row.rating,
        original={name: values[f"original_{name}"] for name in ALL_FIELDS},
        corrected={name: values[name] for name in ALL_FIELDS},
        corrected_by=row.corrected_by,
        corrected_at=as_utc(row.corrected_at),
        recorded_at=as_utc(row.recorded_at),
    )


def _unknown_label_problems(batch: TriageBatch, known: Mapping[str, set[str]]) -> list[str]:
    """One problem per field whose batch labels the store does not hold (fields the store holds no label
    of are defined by the batch), naming the labels, their lines when known, and a near match."""
    problems = []
    for name in TRIAGE_FIELDS:
        if not known[name]:
            continue
        lines: dict[str, list[int]] = {}
        for index, correction in enumerate(batch.corrections):
            label = correction.corrected[name]
            if label is not None and label not in known[name]:
                where = lines.setdefault(label, [])
                line = batch.line_of(index)
                if line is not None:
                    where.append(line)
        if not lines:
            continue
        folded = {label.casefold(): label for label in known[name]}
        described = []
        for label in sorted(lines):
            text = repr(label)
            if lines[label]:
                shown = ", ".join(str(line) for line in sorted(lines[label])[:_LISTED_LINES])
                more = len(lines[label]) - _LISTED_LINES
                text += f" (line{'s' if len(lines[label]) > 1 else ''} {shown}{f' and {more} more' if more > 0 else ''})"
            if label.casefold() in folded:
                text += f" (did you mean {folded[label.casefold()]!r}?)"
            described.append(text)
        noun = "label" if len(lines) == 1 else "labels"
        problems.append(
            f"{name}: unknown {noun} {', '.join(described)} (the store knows {', '.join(sorted(known[name]))}); "
            "pass allow_new_labels=True (--allow-new-labels) to accept them"
        )
    return problems


class TriageStore:
    """Reads and writes the triage task's corrections through one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- writes -------------------------------------------------------------------------------------
    def add(self, batch: TriageBatch, *, source: str, allow_new_labels: bool = False) -> ImportReport:
        """Write the batch's new corrections in one transaction.

        A correction whose fingerprint is stored is already present; when nothing is new, nothing is
        written (no import batch either). Raises :class:`TriageStoreError` listing every problem (see
        :func:`~fine_tuning_assets.tasks.triage.records.batch_problems`, plus the labels the store does not
        hold, unless ``allow_new_labels``); nothing is written then.
        """
        if not batch.corrections:
            raise TriageStoreError(f"{source}: nothing to import (no corrections)")
        problems = batch_problems(batch)
        with self.engine.begin() as connection:
            now = serialize_feedback_writes(connection)
            known = self._label_sets(connection)
            if not allow_new_labels:
                problems += _unknown_label_problems(batch, known)
            if problems:
                raise TriageStoreError(
                    f"{source}: {len(problems)} problem(s), nothing was written:\n" + list_problems(problems)
                )
            by_fingerprint = {c.fingerprint: c for c in batch.corrections}
            stored = self._stored_fingerprints(connection, by_fingerprint)
            new = [c for f, c in by_fingerprint.items() if f not in stored]
            confirmations = {name: 0 for name in ALL_FIELDS}
            corrections = {name: 0 for name in ALL_FIELDS}
            new_labels: dict[str, set[str]] = {name: set() for name in TRIAGE_FIELDS}
            for correction in new:
                for name in ALL_FIELDS:
                    confirmed = correction.confirmed(name)
                    if confirmed is True:
                        confirmations[name] += 1
                    elif confirmed is False:
                        corrections[name] += 1
                for name in TRIAGE_FIELDS:
                    label = correction.corrected[name]
                    if label is not None and label not in known[name]:
                        new_labels[name].add(label)
            report = ImportReport(
                batch_id=None,
                new=len(new),
                already_present=len(by_fingerprint) - len(new),
                confirmations=sum(confirmations.values()),
                corrections=sum(corrections.values()),
                confirmations_by_field=confirmations,
                corrections_by_field=corrections,
                new_labels={name: tuple(sorted(labels)) for name, labels in new_labels.items()},
            )
            if not new:
                return report
            # import_batches counts dedup's records (insights, clusters); triage's counts are in the report.
            batch_id = connection.execute(
                import_batches.insert().values(
                    kind=IMPORT_KIND, source=source, insight_count=0, cluster_count=0, imported_at=now
                )
            ).inserted_primary_key[0]
            rows = [_row(correction, batch_id=batch_id, now=now) for correction in new]
            for start in range(0, len(rows), IN_QUERY_CHUNK):
                connection.execute(triage_corrections.insert(), rows[start : start + IN_QUERY_CHUNK])
            # The prediction log learns the category people settled on for reviews it triaged (latest wins).
            record_outcomes(
                connection,
                task=IMPORT_KIND,
                outcomes={item_key(c.text): c.corrected["category"] for c in new if c.corrected["category"]},
                source=source,
            )
        return replace(report, batch_id=batch_id)

    def record_correction(
        self, correction: TriageCorrection, *, actor: str, allow_new_labels: bool = False
    ) -> ImportReport:
        """Record one correction made now (``fta correct-triage``), in its own transaction, with the same
        checks as :meth:`add`.

        ``actor`` is who records it: the correction's ``corrected_by`` when it names nobody, and the import
        batch's source (``correct-triage by <actor>``). A correction without ``corrected_at`` was made now.
        Recording the same values again later is a later correction (another ``corrected_at``), stored too.
        """
        if not isinstance(actor, str) or not actor.strip():
            raise TriageStoreError("a correction needs the name of who records it (actor)")
        actor = actor.strip()
        correction = replace(
            correction,
            corrected_by=correction.corrected_by or actor,
            corrected_at=as_utc(correction.corrected_at) or utcnow(),
        )
        return self.add(
            TriageBatch.of([correction]),
            source=f"correct-triage by {actor}",
            allow_new_labels=allow_new_labels,
        )

    # -- reads --------------------------------------------------------------------------------------
    def label_sets(self) -> dict[str, list[str]]:
        """The labels people gave, per classification field, sorted (an empty list: none yet)."""
        with self.engine.connect() as connection:
            return {name: sorted(labels) for name, labels in self._label_sets(connection).items()}

    def counts(self) -> dict[str, object]:
        """``corrections`` (rows), ``reviews`` (distinct review ids), ``apps`` (distinct), ``with_original``
        (rows with any AI value), per field of ``ALL_FIELDS``: ``confirmations`` (left as the AI had it) and
        ``changed`` (changed from the AI's), per classification field: ``labels`` (distinct human labels),
        and ``last_recorded_at`` (ISO 8601, None when empty)."""
        table = triage_corrections.c
        count = sa.func.count
        with self.engine.connect() as connection:
            rows, reviews, apps = connection.execute(
                sa.select(count(), count(sa.distinct(table.review_id)), count(sa.distinct(table.app)))
            ).one()
            with_original = connection.execute(
                sa.select(count()).where(
                    sa.or_(*(table[f"original_{name}"].is_not(None) for name in ALL_FIELDS))
                )
            ).scalar_one()
            confirmations, changed = {}, {}
            for name in ALL_FIELDS:
                both = sa.and_(table[name].is_not(None), table[f"original_{name}"].is_not(None))
                confirmations[name], changed[name] = connection.execute(
                    sa.select(
                        count().filter(sa.and_(both, table[name] == table[f"original_{name}"])),
                        count().filter(sa.and_(both, table[name] != table[f"original_{name}"])),
                    )
                ).one()
            labels = {name: len(values) for name, values in self._label_sets(connection).items()}
        latest = self.latest_recorded_at()
        return {
            "corrections": int(rows),
            "reviews": int(reviews),
            "apps": int(apps),
            "with_original": int(with_original),
            "confirmations": {name: int(value) for name, value in confirmations.items()},
            "changed": {name: int(value) for name, value in changed.items()},
            "labels": labels,
            "last_recorded_at": latest.isoformat() if latest else None,
        }

    def latest_recorded_at(self) -> datetime | None:
        """The latest time a correction was recorded: the watermark of a snapshot taken now."""
        with self.engine.connect() as connection:
            latest = connection.execute(sa.select(sa.func.max(triage_corrections.c.recorded_at))).scalar()
        return as_utc(latest)

    def count_after(self, watermark: datetime | None) -> int:
        """Corrections recorded after ``watermark`` (all of them when it is None): what a training cut at
        ``watermark`` has not seen."""
        query = sa.select(sa.func.count()).select_from(triage_corrections)
        if watermark is not None:
            query = query.where(triage_corrections.c.recorded_at > watermark)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def snapshot(self, *, recorded_through: datetime | None) -> list[TriageCorrection]:
        """The corrections recorded at or before ``recorded_through`` (everything when None), oldest first,
        each with its ``recorded_at``. Every row of a review corrected several times is included."""
        query = sa.select(triage_corrections).order_by(
            triage_corrections.c.recorded_at, triage_corrections.c.id
        )
        if recorded_through is not None:
            query = query.where(triage_corrections.c.recorded_at <= recorded_through)
        with self.engine.connect() as connection:
            return [_from_row(row) for row in connection.execute(query)]

    # -- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _label_sets(connection: Connection) -> dict[str, set[str]]:
        sets: dict[str, set[str]] = {}
        for name in TRIAGE_FIELDS:
            column = triage_corrections.c[name]
            sets[name] = set(
                connection.execute(sa.select(column).where(column.is_not(None)).distinct()).scalars()
            )
        return sets

    @staticmethod
    def _stored_fingerprints(connection: Connection, fingerprints: Iterable[str]) -> set[str]:
        found: set[str] = set()
        column = triage_corrections.c.fingerprint
        for chunk in in_chunks(sorted(fingerprints)):
            found.update(connection.execute(sa.select(column).where(column.in_(chunk))).scalars())
        return found
