"""Read a support team's corrections of an AI's triage of app reviews from CSV or JSON Lines.

Files are read by the shared machinery of :mod:`fine_tuning_assets.core.imports` (formats, line numbers,
value parsers): an import is all or nothing, and a bad file raises one
:class:`~fine_tuning_assets.core.imports.ImportFileError` listing every problem with its line number.

A corrections file has one row per review: its text, the person's values (``category``, ``urgency``,
``topic``, ``summary``) and, when the AI's triage is known, the AI's values in ``original_<column>``
columns. A plain labelled file (``text,category``) is a corrections file without original columns::

    review_id,text,app,rating,original_category,category,original_urgency,urgency,corrected_by
    r-1,Crashes at login since the update,Notely,1,PERFORMANCE,BUG,high,high,ana

Whether a label is one the store knows is checked by the store when the batch is added.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "labelled.csv").write_text("text,label\\nCrashes at login,BUG\\nAdd dark mode,FEATURE\\n")
    >>> batch = read_triage_corrections(folder / "labelled.csv", field_names={"category": "label"})
    >>> [(c.review_id[:7], c.corrected["category"], c.has_original()) for c in batch.corrections]
    [('review-', 'BUG', False), ('review-', 'FEATURE', False)]
    >>> batch.lines, sorted(batch.label_sets["category"])
    ([2, 3], ['BUG', 'FEATURE'])
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from fine_tuning_assets.core.imports import (
    MAX_ID_LENGTH,
    ImportFileError,
    RowError,
    ValueProblem,
    content_digest,
    detect_file_format,
    is_missing,
    json_type,
    label_text,
    missing_columns,
    normalise_whitespace,
    parse_identifier,
    parse_number,
    parse_optional,
    parse_string,
    parse_timestamp,
    read_records,
    require_distinct_columns,
    shorten,
)
from fine_tuning_assets.tasks.triage.records import (
    ALL_FIELDS,
    RATING_RANGE,
    SUMMARY,
    TriageBatch,
    TriageCorrection,
    normalise_label,
)

__all__ = ["GENERATED_ID_PREFIX", "read_triage_corrections"]

#: A review id made from the text (for files without a review id column) is this prefix, a dash and 16 hex
#: digits of the sha1 of the whitespace-normalised text.
GENERATED_ID_PREFIX = "review"
_GENERATED_ID_DIGITS = 16
_MAX_NAME_LENGTH = 200


def _columns(
    field_names: Mapping[str, str] | None, original_prefix: str
) -> tuple[dict[str, str], dict[str, str]]:
    """The person's column and the AI's column of each field."""
    names = dict(field_names or {})
    unknown = sorted(set(names) - set(ALL_FIELDS))
    if unknown:
        raise ValueError(
            f"field_names names unknown field(s) {', '.join(unknown)}; the fields are {ALL_FIELDS}"
        )
    for name, column in names.items():
        if not isinstance(column, str) or not column.strip():
            raise ValueError(f"field_names[{name!r}] must be a non-empty column name, got {column!r}")
    if not isinstance(original_prefix, str) or not original_prefix.strip():
        raise ValueError(f"original_prefix must be non-empty, got {original_prefix!r}")
    human = {name: names.get(name, name).strip() for name in ALL_FIELDS}
    original = {name: f"{original_prefix}{column}" for name, column in human.items()}
    return human, original


def read_triage_corrections(
    path: str | os.PathLike[str],
    *,
    review_id_field: str = "review_id",
    text_field: str = "text",
    app_field: str = "app",
    rating_field: str = "rating",
    field_names: Mapping[str, str] | None = None,
    original_prefix: str = "original_",
    corrected_by_field: str = "corrected_by",
    corrected_at_field: str = "corrected_at",
    file_format: str | None = None,
) -> TriageBatch:
    """The corrections of a CSV or JSON Lines file, one per row.

    Columns:

    * ``text_field`` (required): the review's text, stripped.
    * the person's values, one column per field of
      :data:`~fine_tuning_assets.tasks.triage.records.ALL_FIELDS`, named as the field unless
      ``field_names`` maps the field to another column (``{"category": "label"}``). At least one of these
      columns must exist, and every row must give at least one value. Labels are stripped, case is kept;
      an empty value or ``?`` is "not given" (see :func:`~fine_tuning_assets.tasks.triage.records.normalise_label`);
      JSON numbers and booleans are read as text.
    * the AI's values (optional): ``original_prefix`` + the field's column (``original_category``, or
      ``original_label`` for ``{"category": "label"}``). A file without them (a plain labelled file) imports
      as corrections with no original.
    * ``review_id_field``: required in every row when the column exists. When the file has no such column
      at all, each review's id is made from its text (``review-`` and 16 hex digits of the sha1 of the
      whitespace-normalised text), the same in every file and every order, so a re-import is recognised.
    * optional: ``app_field``, ``rating_field`` (a number), ``corrected_by_field``, ``corrected_at_field``
      (ISO 8601; naive = UTC). Other columns are ignored.

    A row repeating an earlier row's review id with the same content is listed in
    :attr:`TriageBatch.duplicates` and stored once; with other content it is an error naming the earlier
    line (a later correction of a review belongs in a later file, or ``fta correct-triage``). Row errors
    also: an empty or too long review id (over 200 characters), an empty or non-string text, no value
    given, a label or name over 200 characters, a rating that is not a number, a bad ``corrected_at``.
    Missing columns are one error; bad arguments raise ValueError before the file is read.
    """
    human, original = _columns(field_names, original_prefix)
    require_distinct_columns(
        review_id_field=review_id_field,
        text_field=text_field,
        app_field=app_field,
        rating_field=rating_field,
        corrected_by_field=corrected_by_field,
        corrected_at_field=corrected_at_field,
        **human,
        **{f"original {name}": column for name, column in original.items()},
    )
    fmt = detect_file_format(path, file_format)
    records = list(read_records(path, file_format=fmt))
    missing = missing_columns(fmt, records, (text_field,))
    if missing is not None:
        raise ImportFileError(path, [missing])
    found: dict[str, None] = {}
    for _, record in records:
        found.update(dict.fromkeys(record))
    if not any(column in found for column in human.values()):
        line = 1 if fmt == "csv" else 0
        raise ImportFileError(
            path,
            [
                RowError(
                    line,
                    "no column of the person's triage: expected at least one of "
                    f"{', '.join(human.values())} (map another column with field_names, e.g. "
                    f"{{'category': 'label'}}); found columns: {', '.join(found)}",
                )
            ],
        )
    generate_ids = review_id_field not in found

    errors: list[RowError] = []
    kept: dict[str, tuple[TriageCorrection, int]] = {}
    duplicates: list[str] = []
    for line, record in records:
        before = len(errors)

        text = _text(line, record, text_field, errors)
        if generate_ids:
            review_id = (
                f"{GENERATED_ID_PREFIX}-{content_digest(normalise_whitespace(text), _GENERATED_ID_DIGITS)}"
                if text is not None
                else None
            )
        elif is_missing(record.get(review_id_field)):
            errors.append(RowError(line, f"the review id ({review_id_field}) is missing"))
            review_id = None
        else:
            review_id = parse_optional(line, record, review_id_field, parse_identifier, errors)
        app = parse_optional(line, record, app_field, _name, errors)
        rating = parse_optional(line, record, rating_field, parse_rating, errors)
        corrected_by = parse_optional(line, record, corrected_by_field, _name, errors)
        corrected_at = parse_optional(line, record, corrected_at_field, parse_timestamp, errors)
        person = {
            name: parse_optional(line, record, column, _value_parser(name), errors)
            for name, column in human.items()
        }
        ai = {
            name: parse_optional(line, record, column, _value_parser(name), errors)
            for name, column in original.items()
        }
        if len(errors) == before and not any(value is not None for value in person.values()):
            errors.append(
                RowError(
                    line,
                    f"no value of the person's triage: {', '.join(human.values())} are all empty "
                    "(an empty value or '?' is not given)",
                )
            )
        if len(errors) > before or review_id is None or text is None:
            continue
        correction = TriageCorrection(
            review_id=review_id,
            text=text,
            app=app or None,
            rating=rating,
            original=ai,
            corrected=person,
            corrected_by=corrected_by or None,
            corrected_at=corrected_at,
        )
        if review_id in kept:
            earlier, earlier_line = kept[review_id]
            if earlier.fingerprint == correction.fingerprint:
                duplicates.append(f"{path}:{line}: the same correction as line {earlier_line}; stored once")
            else:
                how = "(its id made from the text) " if generate_ids else ""
                errors.append(
                    RowError(
                        line,
                        f"review {review_id!r} {how}has other content than on line {earlier_line} "
                        f"({', '.join(_differences(earlier, correction))} differ)",
                    )
                )
            continue
        kept[review_id] = (correction, line)
    if errors:
        raise ImportFileError(path, errors)
    return TriageBatch.of(
        [correction for correction, _ in kept.values()],
        duplicates=duplicates,
        lines=[line for _, line in kept.values()],
    )


def _text(line: int, record: dict[str, Any], name: str, errors: list[RowError]) -> str | None:
    value = record.get(name)
    if not isinstance(value, str | None):
        errors.append(RowError(line, f"the review text ({name}) must be a string, got {json_type(value)}"))
        return None
    if is_missing(value):
        errors.append(RowError(line, f"the review text ({name}) is empty"))
        return None
    return value.strip()


def _name(value: Any, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueProblem(f"{name} must be a string, got {json_type(value)}")
    text = label_text(value)
    if len(text) > _MAX_NAME_LENGTH:
        raise ValueProblem(f"{name} is longer than {_MAX_NAME_LENGTH} characters")
    return text


def parse_rating(value: Any, name: str) -> float:
    """A review's star rating: a number within :data:`RATING_RANGE`."""
    number = parse_number(value)
    if number is None:
        shown = repr(value.strip()) if isinstance(value, str) else json_type(value)
        raise ValueProblem(f"{name} {shown} is not a number")
    if not RATING_RANGE[0] <= number <= RATING_RANGE[1]:
        raise ValueProblem(f"{name} {number:g} is outside {RATING_RANGE[0]:g} to {RATING_RANGE[1]:g}")
    return number


def _value_parser(field: str) -> Any:
    def parse(value: Any, name: str) -> str | None:
        if field == SUMMARY:
            text = parse_string(value, name)
            return text or None
        if isinstance(value, list | dict) or value is None:
            raise ValueProblem(f"{name} must be a label (a string), got {json_type(value)}")
        label = normalise_label(label_text(value))
        if label is not None and len(label) > MAX_ID_LENGTH:
            raise ValueProblem(f"{name} {shorten(label)!r} is longer than {MAX_ID_LENGTH} characters")
        return label

    return parse


def _differences(a: TriageCorrection, b: TriageCorrection) -> list[str]:
    names = [
        name
        for name in ("text", "app", "rating", "corrected_by", "corrected_at")
        if (normalise_whitespace(a.text) if name == "text" else getattr(a, name))
        != (normalise_whitespace(b.text) if name == "text" else getattr(b, name))
    ]
    names += [name for name in ALL_FIELDS if a.corrected[name] != b.corrected[name]]
    names += [f"original {name}" for name in ALL_FIELDS if a.original[name] != b.original[name]]
    return names
