"""What the triage task learns from, as plain typed records: a person's corrections of an AI's triage of one
app review.

An AI triaged each review: a ``category`` (BUG, FEATURE, ...), an ``urgency`` (low ... critical), a
``topic`` (login, sync, ...) and a free-text ``summary``. A person then checked it and left each field as the
AI had it (a *confirmation*) or changed it (a *correction*). A :class:`TriageCorrection` holds both sides:
``original`` (what the AI said; all None for a plain labelled file) and ``corrected`` (what the person
settled on).

Labels
    A label is a string, stripped of surrounding whitespace and otherwise kept as written: labels are
    compared case-sensitively after the strip (``"BUG"`` and ``"bug"`` are two labels; the store refuses a
    label it has not seen, so such a typo is caught at import). An empty value or ``"?"`` means the field
    was not given (None). The summary is free text: stripped, empty = None.

Example:
    >>> c = TriageCorrection(
    ...     "r-1",
    ...     "The app crashes when I log in.",
    ...     original={"category": "PERFORMANCE", "urgency": "high", "topic": "login"},
    ...     corrected={"category": " BUG ", "urgency": "high", "topic": "?"},
    ... )
    >>> c.corrected["category"], c.corrected["topic"], c.original["summary"]
    ('BUG', None, None)
    >>> c.has_original(), c.confirmed("category"), c.confirmed("urgency"), c.confirmed("topic")
    (True, False, True, None)
    >>> batch = TriageBatch.of([c])
    >>> batch.label_sets["category"], batch_problems(batch)
    ({'BUG'}, [])
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fine_tuning_assets.core.database import text_problems
from fine_tuning_assets.core.imports import normalise_whitespace
from fine_tuning_assets.tasks.triage.tables import triage_corrections

__all__ = [
    "ALL_FIELDS",
    "MISSING_LABELS",
    "SUMMARY",
    "TRIAGE_FIELDS",
    "TriageBatch",
    "TriageCorrection",
    "batch_problems",
    "normalise_label",
]

#: The classification fields: each is learned as a classifier over the labels people gave.
TRIAGE_FIELDS: tuple[str, ...] = ("category", "urgency", "topic")
#: The free-text field.
SUMMARY = "summary"
#: A review's star rating lies in this range (1–5 stars, 0–10 scores).
RATING_RANGE: tuple[float, float] = (0.0, 10.0)
#: Every field a correction holds, in table order.
ALL_FIELDS: tuple[str, ...] = (*TRIAGE_FIELDS, SUMMARY)
#: Values that mean "not given" (after stripping).
MISSING_LABELS: frozenset[str] = frozenset({"", "?"})


def normalise_label(value: str | None) -> str | None:
    """A label as stored: stripped, case kept; None for None, an empty string or ``"?"``.

    Example:
        >>> normalise_label("  BUG "), normalise_label("?"), normalise_label("")
        ('BUG', None, None)
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"a label is a string, got {type(value).__name__}")
    text = value.strip()
    return None if text in MISSING_LABELS else text


def _fields(values: Mapping[str, str | None] | None, what: str) -> dict[str, str | None]:
    values = dict(values or {})
    unknown = sorted(set(values) - set(ALL_FIELDS))
    if unknown:
        raise ValueError(f"{what} has unknown field(s) {', '.join(unknown)}; the fields are {ALL_FIELDS}")
    return {name: normalise_label(values.get(name)) for name in ALL_FIELDS}


@dataclass(frozen=True)
class TriageCorrection:
    """One review as a person left it after checking the AI's triage.

    ``original`` and ``corrected`` always hold the four keys of :data:`ALL_FIELDS` (missing ones become
    None; values are normalised by :func:`normalise_label`). ``rating`` is the review's star rating as the
    app store gave it; ``corrected_by``/``corrected_at`` who corrected and when (aware UTC, None when
    unknown); ``recorded_at`` is set by the store on the records it reads back.
    """

    review_id: str
    text: str
    app: str | None = None
    rating: float | None = None
    original: Mapping[str, str | None] = field(default_factory=dict)
    corrected: Mapping[str, str | None] = field(default_factory=dict)
    corrected_by: str | None = None
    corrected_at: datetime | None = None
    recorded_at: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "original", _fields(self.original, "original"))
        object.__setattr__(self, "corrected", _fields(self.corrected, "corrected"))

    def has_original(self) -> bool:
        """Whether the AI's triage is known for any field (a plain labelled file has none)."""
        return any(value is not None for value in self.original.values())

    def confirmed(self, name: str) -> bool | None:
        """Whether the person left ``name`` as the AI had it: True (a confirmation), False (a correction),
        None when the AI's or the person's value is not given."""
        if name not in ALL_FIELDS:
            raise ValueError(f"unknown field {name!r}; the fields are {ALL_FIELDS}")
        before, after = self.original[name], self.corrected[name]
        if before is None or after is None:
            return None
        return before == after

    def has_human_value(self) -> bool:
        """Whether the person gave any field (a correction without one teaches nothing)."""
        return any(value is not None for value in self.corrected.values())

    @property
    def fingerprint(self) -> str:
        """The correction's identity: sha256 of everything it holds but ``recorded_at`` (the text
        whitespace-normalised). The same row imported again has the same fingerprint: already present."""
        identity = [
            self.review_id,
            normalise_whitespace(self.text),
            self.app,
            None if self.rating is None else float(self.rating),
            [self.original[name] for name in ALL_FIELDS],
            [self.corrected[name] for name in ALL_FIELDS],
            self.corrected_by,
            self.corrected_at.isoformat() if self.corrected_at is not None else None,
        ]
        return hashlib.sha256(json.dumps(identity, ensure_ascii=False).encode("utf-8")).hexdigest()


def _label_sets(corrections: Iterable[TriageCorrection]) -> dict[str, set[str]]:
    sets: dict[str, set[str]] = {name: set() for name in TRIAGE_FIELDS}
    for correction in corrections:
        for name in TRIAGE_FIELDS:
            value = correction.corrected[name]
            if value is not None:
                sets[name].add(value)
    return sets


@dataclass(frozen=True)
class TriageBatch:
    """Corrections written to the store together (all or nothing).

    ``duplicates`` lists input rows that repeated an earlier row of the same file (stored once), each as
    ``"file:line: why"``. ``label_sets`` holds the distinct human labels per classification field.
    ``lines`` gives each correction's line in its file (same length as ``corrections``; empty when the
    batch was not read from a file), so the store can name the lines of a label it refuses.
    """

    corrections: list[TriageCorrection]
    duplicates: list[str] = field(default_factory=list)
    label_sets: dict[str, set[str]] = field(default_factory=dict)
    lines: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.label_sets:
            object.__setattr__(self, "label_sets", _label_sets(self.corrections))
        if self.lines and len(self.lines) != len(self.corrections):
            raise ValueError(f"{len(self.lines)} lines for {len(self.corrections)} corrections")

    @classmethod
    def of(
        cls,
        corrections: Sequence[TriageCorrection],
        *,
        duplicates: Sequence[str] = (),
        lines: Sequence[int] = (),
    ) -> TriageBatch:
        """A batch of these corrections, its label sets computed from them."""
        return cls(list(corrections), list(duplicates), _label_sets(corrections), list(lines))

    def line_of(self, index: int) -> int | None:
        """The file line of ``corrections[index]``, None when unknown."""
        return self.lines[index] if self.lines else None


def batch_problems(batch: TriageBatch) -> list[str]:
    """Every reason the store would refuse the batch on its own (the store also checks labels against
    the ones it holds): an empty review id or text, no value the person gave, a rating that is not a
    finite number, a naive datetime, a correction repeated, and what the two databases would not store
    alike (a NUL character, a value longer than its column). Each problem names the line when known."""
    problems: list[str] = []
    seen: set[str] = set()
    for index, correction in enumerate(batch.corrections):
        line = batch.line_of(index)
        what = f"line {line}: review {correction.review_id!r}" if line else f"review {correction.review_id!r}"
        if not correction.review_id.strip():
            problems.append(f"{what}: empty review id")
        if not correction.text.strip():
            problems.append(f"{what}: empty text")
        if not correction.has_human_value():
            problems.append(f"{what}: no field ({', '.join(ALL_FIELDS)}) was given by the person")
        if correction.rating is not None and not (
            isinstance(correction.rating, int | float)
            and not isinstance(correction.rating, bool)
            and math.isfinite(correction.rating)
        ):
            problems.append(f"{what}: rating {correction.rating!r} is not a finite number")
        elif correction.rating is not None and not RATING_RANGE[0] <= correction.rating <= RATING_RANGE[1]:
            problems.append(
                f"{what}: rating {correction.rating:g} is outside {RATING_RANGE[0]:g} to {RATING_RANGE[1]:g}"
            )
        if correction.corrected_by is not None and not correction.corrected_by.strip():
            problems.append(f"{what}: corrected_by is empty (use None when unknown)")
        if correction.corrected_at is not None and correction.corrected_at.tzinfo is None:
            problems.append(f"{what}: corrected_at has no time zone (use UTC)")
        values: dict[str, Any] = {
            "review_id": correction.review_id,
            "text": correction.text,
            "app": correction.app,
            "corrected_by": correction.corrected_by,
        }
        values.update({f"original_{name}": correction.original[name] for name in ALL_FIELDS})
        values.update({name: correction.corrected[name] for name in ALL_FIELDS})
        problems += text_problems(triage_corrections, values, what=what)
        fingerprint = correction.fingerprint
        if fingerprint in seen:
            problems.append(f"{what}: the same correction twice in one batch")
        seen.add(fingerprint)
    return problems
