"""Parse human decisions exported as CSV or JSON Lines files into a :class:`DecisionBatch`.

Pure parsing and validation (stdlib only): nothing here touches Dagster or a database. An import is
all or nothing: every row is parsed and validated first, and if any row is bad a
:class:`DecisionImportError` lists *every* problem with its line number; nothing is returned then.

Files
    The format comes from the extension (``.csv`` is CSV; ``.jsonl``, ``.ndjson`` and ``.json`` are JSON
    Lines, one object per line) unless ``file_format`` (``"csv"`` or ``"jsonl"``) says otherwise. Files
    must be UTF-8 (a leading byte-order mark is allowed). CSV is RFC 4180: comma separated, ``"`` quoting,
    quoted fields may hold commas and newlines, CRLF or LF line ends. Line numbers are 1-based physical
    lines (the CSV header is line 1); a CSV record spanning several lines is reported at the line where it
    starts. Blank lines (and CSV rows whose fields are all empty) are skipped. CSV header names are
    stripped of surrounding whitespace; columns with an empty header (e.g. the index column pandas writes)
    are ignored; a repeated header name is an error. An empty file or a header without rows is an error.
    Problems that concern the whole file (no rows, missing columns) have line 0.

Cluster-shaped rows (:func:`parse_cluster_rows`)
    One row per cluster member with the columns ``cluster_id``, ``status``, ``reviewer``, ``decided_at``,
    ``insight_id``, ``statement``, ``similarity``, ``selected``, the metadata columns ``confidence``,
    ``evidence_type``, ``source``, and any extra columns (kept in ``Insight.metadata``: as strings from
    CSV, as the JSON value from JSON Lines; empty values are left out). JSON Lines also accepts a nested
    line per cluster: ``{"cluster_id", "status", "reviewer", "decided_at", "members": [{"insight_id",
    "statement", "similarity", "selected", "confidence", ...}, ...]}``; flat and nested lines may be mixed.

Labelled pairs (:func:`parse_labelled_pairs`)
    Two texts and a label per row (``text_a,text_b,label``; STS-B's headerless
    ``sentence1,sentence2,score``). Each row becomes one cluster of two insights: approved with both
    members selected when the label is positive, rejected with none selected when it is negative. See
    :func:`parse_positive_rule` for the label rules.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import operator
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fine_tuning_assets.tasks.dedup.records import (
    CLUSTER_STATUSES,
    DECIDED_STATUSES,
    MAX_LISTED_PROBLEMS,
    ClusterMember,
    DecisionBatch,
    Insight,
    MergeCluster,
    list_problems,
)

__all__ = [
    "CLUSTER_COLUMNS",
    "FILE_FORMATS",
    "MAX_LISTED_ERRORS",
    "DecisionImportError",
    "RowError",
    "detect_file_format",
    "format_from_extension",
    "parse_cluster_rows",
    "parse_labelled_pairs",
    "parse_positive_rule",
    "read_records",
    "read_text_pairs",
]

#: The formats :func:`read_records` reads.
FILE_FORMATS: tuple[str, ...] = ("csv", "jsonl")
_EXTENSION_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
_FORMAT_ALIASES = {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl"}

#: :class:`DecisionImportError` prints at most this many problems (and says how many more there are).
MAX_LISTED_ERRORS = MAX_LISTED_PROBLEMS

#: The columns of cluster-shaped rows that are not metadata.
CLUSTER_COLUMNS: tuple[str, ...] = (
    "cluster_id",
    "status",
    "reviewer",
    "decided_at",
    "insight_id",
    "statement",
    "similarity",
    "selected",
)
_CLUSTER_LEVEL_FIELDS = ("cluster_id", "status", "reviewer", "decided_at")
_ALWAYS_REQUIRED = ("cluster_id", "status", "insight_id", "statement")

# Column sizes of the feedback store (fine_tuning_assets.core.database); checked here so that a too-long value
# is a row error with a line number rather than a database error.
_MAX_ID_LENGTH = 200
_MAX_REVIEWER_LENGTH = 200
_MAX_METADATA_LENGTH = {"evidence_type": 100, "source": 500}

_TRUE_WORDS = frozenset({"true", "1", "yes"})
_FALSE_WORDS = frozenset({"false", "0", "no"})
_DEFAULT_NEGATIVE_LABELS = ("0", "false", "no")


# -- errors -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RowError:
    """One problem in an import file. ``line`` is the 1-based physical line, 0 for the whole file."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class DecisionImportError(ValueError):
    """An import file that cannot be imported; nothing was parsed into a batch.

    ``path`` is the file (as given), ``errors`` every problem found, ordered by line (a list of
    :class:`RowError`). ``str()`` prints them as ``path:line: message``, at most
    :data:`MAX_LISTED_ERRORS` of them.
    """

    def __init__(self, path: str | os.PathLike[str], errors: Sequence[RowError]) -> None:
        if not errors:
            raise ValueError("DecisionImportError needs at least one RowError")
        self.path = Path(path)
        self.errors: list[RowError] = sorted(_unique(errors), key=lambda error: error.line)
        super().__init__(self._describe())

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.errors))

    def _describe(self) -> str:
        name = str(self.path)
        listed = [
            f"{name}:{error.line}: {error.message}" if error.line else f"{name}: {error.message}"
            for error in self.errors
        ]
        if len(self.errors) == 1:
            return listed[0]
        bad_lines = len({error.line for error in self.errors})
        head = f"{name}: {len(self.errors)} problems on {bad_lines} line(s); nothing was imported"
        return f"{head}\n{list_problems(listed)}"


def _unique(errors: Sequence[RowError]) -> list[RowError]:
    return list(dict.fromkeys(errors))


# -- reading rows -------------------------------------------------------------------------------------------
def format_from_extension(path: str | os.PathLike[str]) -> str | None:
    """``"csv"`` for ``.csv``, ``"jsonl"`` for ``.jsonl``, ``.ndjson`` and ``.json``, else None."""
    return _EXTENSION_FORMATS.get(Path(path).suffix.lower())


def detect_file_format(path: str | os.PathLike[str], file_format: str | None = None) -> str:
    """``"csv"`` or ``"jsonl"``: ``file_format`` when given (aliases ``json``, ``ndjson``), else by extension.

    Raises ValueError for an unknown ``file_format`` and :class:`DecisionImportError` for a folder or a file
    whose extension says nothing.
    """
    if Path(path).is_dir():
        raise DecisionImportError(path, [RowError(0, "is a folder, not a file; give a CSV or JSONL file")])
    if file_format is not None:
        resolved = _FORMAT_ALIASES.get(file_format.strip().lower())
        if resolved is None:
            raise ValueError(f"unknown file_format {file_format!r}; use one of {', '.join(FILE_FORMATS)}")
        return resolved
    resolved = format_from_extension(path)
    if resolved is None:
        raise DecisionImportError(
            path,
            [
                RowError(
                    0,
                    "cannot tell the file format from the extension "
                    f"(expected {', '.join(sorted(_EXTENSION_FORMATS))}); pass file_format='csv' or 'jsonl'",
                )
            ],
        )
    return resolved


def read_records(
    path: str | os.PathLike[str],
    *,
    file_format: str | None = None,
    has_header: bool = True,
    column_names: Sequence[str] | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The rows of a CSV or JSON Lines file as ``(line number, row)`` pairs.

    CSV rows map column names to the raw (unstripped) string values. ``has_header=False`` needs
    ``column_names``; with a header, ``column_names`` (when given) replaces the header's names. A row with
    a different number of fields than there are columns is an error. JSON Lines rows are the objects as
    parsed (``has_header`` is ignored, ``column_names`` is refused); a line that is not a JSON object, or
    an object with a repeated key, is an error.

    The whole file is read and checked before the first row is returned, so every structural problem
    (not UTF-8, malformed CSV quoting, invalid JSON, wrong field counts, a NUL character in a value, no rows
    at all) is raised here, all in one :class:`DecisionImportError`. A NUL character is refused because
    PostgreSQL cannot store one (SQLite could): both databases then get the same rows. Bad arguments raise
    ValueError; a missing file raises OSError.
    """
    fmt = detect_file_format(path, file_format)
    if column_names is not None:
        if fmt != "csv":
            raise ValueError("column_names only applies to CSV files")
        column_names = [str(name).strip() for name in column_names]
        if not all(column_names):
            raise ValueError("column_names must not contain empty names")
        if len(set(column_names)) != len(column_names):
            raise ValueError(f"column_names has a repeated name: {column_names}")
    elif fmt == "csv" and not has_header:
        raise ValueError("a CSV file without a header (has_header=False) needs column_names")
    text = _read_utf8(path)
    if fmt == "csv":
        records, errors, header_only = _csv_records(text, has_header=has_header, column_names=column_names)
    else:
        records, errors = _jsonl_records(text)
        header_only = False
    errors += [
        RowError(line, f"{name} contains a NUL character (\\x00), which the database cannot store")
        for line, record in records
        for name in _fields_with_nul(record)
    ]
    if errors:
        raise DecisionImportError(path, errors)
    if not records:
        detail = " (only a header line)" if header_only else ""
        raise DecisionImportError(path, [RowError(0, f"contains no rows{detail}")])
    return iter(records)


def _fields_with_nul(value: Any, name: str = "") -> Iterator[str]:
    """The names (``column`` or ``members[2].statement``) of the strings in a record that hold a NUL."""
    if isinstance(value, str):
        if "\x00" in value:
            yield name or "a value"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _fields_with_nul(item, f"{name}.{key}" if name else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value, start=1):
            yield from _fields_with_nul(item, f"{name}[{index}]")


def _read_utf8(path: str | os.PathLike[str]) -> str:
    data = Path(path).read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DecisionImportError(
            path, [RowError(line, f"the file is not UTF-8 (byte {data[exc.start]:#04x}: {exc.reason})")]
        ) from exc


def _csv_records(
    text: str, *, has_header: bool, column_names: Sequence[str] | None
) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError], bool]:
    records: list[tuple[int, dict[str, Any]]] = []
    errors: list[RowError] = []
    header: list[str] | None = None if has_header else list(column_names or ())
    header_from = "columns given" if column_names is not None else "header columns"
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    previous_end = 0
    while True:
        start = previous_end + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(start, f"malformed CSV: {exc}"))
            previous_end = reader.line_num
            continue
        previous_end = reader.line_num
        if not any(value.strip() for value in fields):
            continue
        if header is None:
            header = [value.strip() for value in fields]
            named = [name for name in header if name]
            repeated = sorted({name for name in named if named.count(name) > 1})
            if repeated:
                errors.append(RowError(start, f"the header repeats column(s) {', '.join(repeated)}"))
            if column_names is not None:
                if len(column_names) != len(header):
                    errors.append(
                        RowError(
                            start,
                            f"the header has {len(header)} columns but {len(column_names)} column_names "
                            "were given",
                        )
                    )
                header = list(column_names)
            continue
        if len(fields) != len(header):
            errors.append(
                RowError(start, f"the row has {len(fields)} fields but there are {len(header)} {header_from}")
            )
            continue
        records.append((start, {name: value for name, value in zip(header, fields, strict=True) if name}))
    header_only = has_header and header is not None and not records
    return records, errors, header_only


def _reject_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"the object repeats key(s) {', '.join(repeated)}")
    return dict(pairs)


def _jsonl_records(text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    records: list[tuple[int, dict[str, Any]]] = []
    errors: list[RowError] = []
    first = True
    # Split on "\n" only: str.splitlines() would also split on U+2028 etc., which JSON strings may hold.
    for line_number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        hint = ""
        if first and line.startswith("["):
            hint = " (this looks like a JSON array; write one JSON object per line)"
        first = False
        try:
            value = json.loads(line, object_pairs_hook=_reject_repeated_keys)
        except json.JSONDecodeError as exc:
            errors.append(RowError(line_number, f"invalid JSON: {exc.msg} at column {exc.colno}{hint}"))
            continue
        except ValueError as exc:  # a repeated key
            errors.append(RowError(line_number, str(exc)))
            continue
        if not isinstance(value, dict):
            errors.append(RowError(line_number, f"expected a JSON object, got {_json_type(value)}{hint}"))
            continue
        records.append((line_number, value))
    return records, errors


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _missing_columns(
    fmt: str,
    records: Sequence[tuple[int, dict[str, Any]]],
    required: Sequence[str],
    *,
    has_header: bool = True,
    why: str = "",
) -> RowError | None:
    """One error naming the required columns that no row has, and the columns found; None if all are there."""
    found: dict[str, None] = {}
    for _, record in records:
        found.update(dict.fromkeys(record))
    missing = [name for name in required if name not in found]
    if not missing:
        return None
    line = 1 if fmt == "csv" and has_header else 0
    noun = "column" if len(missing) == 1 else "columns"
    return RowError(
        line,
        f"missing required {noun} {', '.join(missing)}{why}; found columns: {', '.join(found) or '(none)'}",
    )


# -- value parsing ------------------------------------------------------------------------------------------
class _Bad(Exception):
    """A value that does not parse; the message is a row error."""


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shorten(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _number(value: Any) -> float | None:
    """A finite float from a number or a numeric string, else None (bools are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text or "_" in text:
            return None
        try:
            number = float(text)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _identifier(value: Any, name: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _Bad(f"{name} must be a string, got {_json_type(value)}")
    text = value.strip()
    if not text:
        raise _Bad(f"{name} is empty")
    if len(text) > _MAX_ID_LENGTH:
        raise _Bad(f"{name} is longer than {_MAX_ID_LENGTH} characters")
    return text


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{name} must be a string, got {_json_type(value)}")
    return value.strip()


def _fraction(value: Any, name: str) -> float:
    number = _number(value)
    if number is None:
        raise _Bad(f"{name} {_show(value)} is not a number")
    if not 0.0 <= number <= 1.0:
        raise _Bad(f"{name} {_show(value)} is not between 0 and 1")
    return number


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise _Bad(f"{name} {_show(value)} is not one of true/false/1/0/yes/no")


def _timestamp(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise _Bad(f"{name} must be an ISO-8601 string, got {_json_type(value)}")
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad(f"{name} {text!r} is not an ISO-8601 datetime") from None
    return _utc(moment)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _show(value: Any) -> str:
    return repr(value.strip()) if isinstance(value, str) else json.dumps(value)


# -- cluster-shaped rows ------------------------------------------------------------------------------------
@dataclass
class _MemberRow:
    """One cluster member as read from one row (or one entry of a nested line); None = missing or bad."""

    line: int
    cluster_id: str | None = None
    status: str | None = None
    reviewer: str | None = None
    reviewer_ok: bool = False
    decided_at: datetime | None = None
    decided_at_ok: bool = False
    insight_id: str | None = None
    statement: str | None = None
    similarity: float | None = None
    selected: bool | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def _flatten_cluster_records(
    fmt: str, records: Sequence[tuple[int, dict[str, Any]]], errors: list[RowError]
) -> list[tuple[int, str, dict[str, Any]]]:
    """``(line, where, flat row)`` per member; nested JSON lines expand to one flat row per member."""
    flat: list[tuple[int, str, dict[str, Any]]] = []
    for line, record in records:
        if fmt != "jsonl" or "members" not in record:
            flat.append((line, "", record))
            continue
        members = record["members"]
        cluster_fields = {key: value for key, value in record.items() if key != "members"}
        if not isinstance(members, list):
            errors.append(RowError(line, f"members must be a list, got {_json_type(members)}"))
            continue
        if not members:
            errors.append(RowError(line, "members is empty; a cluster needs at least 2 members"))
            continue
        for index, member in enumerate(members, start=1):
            where = f"members[{index}]: "
            if not isinstance(member, dict):
                errors.append(RowError(line, f"{where}expected a JSON object, got {_json_type(member)}"))
                continue
            misplaced = [key for key in member if key in _CLUSTER_LEVEL_FIELDS]
            if misplaced:
                errors.append(
                    RowError(line, f"{where}{', '.join(misplaced)} belongs on the cluster, not on a member")
                )
                continue
            flat.append((line, where, {**cluster_fields, **member}))
    return flat


def _parse_member_row(line: int, where: str, row: dict[str, Any], errors: list[RowError]) -> _MemberRow:
    parsed = _MemberRow(line=line)

    def problem(message: str, *, member_field: bool = True) -> None:
        errors.append(RowError(line, f"{where}{message}" if member_field else message))

    def take(name: str, parse: Callable[[Any, str], Any], *, member_field: bool = True) -> Any:
        try:
            return parse(row.get(name), name)
        except _Bad as exc:
            problem(str(exc), member_field=member_field)
            return None

    # Cluster-level fields (shared by every member of a nested line: reported without the member prefix).
    if _missing(row.get("cluster_id")):
        problem("cluster_id is missing", member_field=False)
    else:
        parsed.cluster_id = take("cluster_id", _identifier, member_field=False)
    status_value = row.get("status")
    if _missing(status_value):
        problem("status is missing", member_field=False)
    elif not isinstance(status_value, str) or status_value.strip().lower() not in CLUSTER_STATUSES:
        problem(
            f"status {_show(status_value)} is not one of {', '.join(CLUSTER_STATUSES)}", member_field=False
        )
    else:
        parsed.status = status_value.strip().lower()
    status = parsed.status

    if _missing(row.get("reviewer")):
        parsed.reviewer_ok = True
        if status in DECIDED_STATUSES:
            problem(f"reviewer is required when status is {status!r}", member_field=False)
            parsed.reviewer_ok = False
    else:
        reviewer = take("reviewer", _string, member_field=False)
        if reviewer is not None and len(reviewer) > _MAX_REVIEWER_LENGTH:
            problem(f"reviewer is longer than {_MAX_REVIEWER_LENGTH} characters", member_field=False)
            reviewer = None
        parsed.reviewer, parsed.reviewer_ok = reviewer, reviewer is not None

    if _missing(row.get("decided_at")):
        parsed.decided_at_ok = True
        if status in DECIDED_STATUSES:
            problem(f"decided_at is required when status is {status!r}", member_field=False)
            parsed.decided_at_ok = False
    elif status == "pending":
        problem("decided_at must be empty for a pending cluster", member_field=False)
    else:
        parsed.decided_at = take("decided_at", _timestamp, member_field=False)
        parsed.decided_at_ok = parsed.decided_at is not None

    # Member fields.
    if _missing(row.get("insight_id")):
        problem("insight_id is missing")
    else:
        parsed.insight_id = take("insight_id", _identifier)
    statement = row.get("statement")
    if not isinstance(statement, str | None):
        problem(f"statement must be a string, got {_json_type(statement)}")
    elif _missing(statement):
        problem("statement is empty")
    else:
        parsed.statement = statement.strip()
    if not _missing(row.get("similarity")):
        parsed.similarity = take("similarity", _fraction)
    selected_value = row.get("selected")
    if _missing(selected_value):
        parsed.selected = False
        if status == "approved":
            problem("selected is required for an approved cluster (true/false/1/0/yes/no)")
            parsed.selected = None
    else:
        parsed.selected = take("selected", _flag)
        if parsed.selected and status in ("pending", "rejected"):
            problem(f"selected must be false or empty for a {status} cluster")
            parsed.selected = None

    # Metadata: the known fields are checked, any other column is kept as it is.
    for name, value in row.items():
        if name in CLUSTER_COLUMNS or _missing(value):
            continue
        if name == "confidence":
            parsed.metadata[name] = take(name, _fraction)
        elif name in _MAX_METADATA_LENGTH:
            text = take(name, _string)
            if text is not None and len(text) > _MAX_METADATA_LENGTH[name]:
                problem(f"{name} is longer than {_MAX_METADATA_LENGTH[name]} characters")
                text = None
            parsed.metadata[name] = text
        else:
            parsed.metadata[name] = value
    return parsed


def parse_cluster_rows(path: str | os.PathLike[str], *, file_format: str | None = None) -> DecisionBatch:
    """Parse a file with one row per cluster member into a :class:`DecisionBatch`.

    Per row: ``cluster_id``, ``status`` (pending/approved/rejected, any case), ``insight_id`` and a
    non-empty ``statement`` are required. Decided (approved/rejected) clusters need a ``reviewer`` and a
    ``decided_at`` (ISO 8601; naive times are UTC; stored as aware UTC); a pending cluster must have no
    ``decided_at`` (a reviewer is allowed). ``selected`` (true/false/1/0/yes/no, any case) is required for
    approved clusters and must be false or empty otherwise. ``similarity`` and ``confidence`` are optional
    numbers in [0, 1]. Ids and text are stripped of surrounding whitespace.

    Across rows: a cluster's rows must agree on status, reviewer and decided_at; a cluster needs at least 2
    distinct insights and may not list an insight twice; an approved cluster needs at least 2 selected
    members; one insight id may not carry two different statements (two ids with one statement is fine),
    nor two different values of one metadata field (rows that leave a field empty are fine).

    Missing columns (``cluster_id``, ``status``, ``insight_id``, ``statement`` always; ``reviewer`` and
    ``decided_at`` when there are decided clusters; ``selected`` when there are approved ones) are one
    error. Insights and clusters come out in the order they first appear, members in row order.

    Raises :class:`DecisionImportError` listing every problem.
    """
    fmt = detect_file_format(path, file_format)
    records = list(read_records(path, file_format=fmt))
    errors: list[RowError] = []
    flat = _flatten_cluster_records(fmt, records, errors)

    # Every record either expanded into flat rows or was reported, so no flat rows means errors.
    flat_records = [(line, row) for line, _, row in flat]
    statuses = {str(row.get("status", "")).strip().lower() for _, row in flat_records}
    needed_when_decided = []
    if statuses & set(DECIDED_STATUSES):
        needed_when_decided += ["reviewer", "decided_at"]
    if "approved" in statuses:
        needed_when_decided.append("selected")
    missing = [
        _missing_columns(fmt, flat_records, _ALWAYS_REQUIRED),
        _missing_columns(fmt, flat_records, needed_when_decided, why=" (needed by decided clusters)"),
    ]
    if not flat or any(missing):
        raise DecisionImportError(path, errors + [error for error in missing if error is not None])

    rows = [_parse_member_row(line, where, row, errors) for line, where, row in flat]

    # Insights: one statement and consistent metadata per id.
    insight_rows: dict[str, _MemberRow] = {}
    insight_metadata: dict[str, dict[str, tuple[Any, int]]] = {}
    for row in rows:
        if row.insight_id is None or row.statement is None:
            continue
        first = insight_rows.setdefault(row.insight_id, row)
        if first.statement != row.statement:
            errors.append(
                RowError(
                    row.line,
                    f"insight {row.insight_id!r} has statement {_shorten(row.statement)!r} but "
                    f"{_shorten(first.statement or '')!r} on line {first.line}",
                )
            )
        known = insight_metadata.setdefault(row.insight_id, {})
        for name, value in row.metadata.items():
            if value is None:
                continue
            if name in known and known[name][0] != value:
                previous, previous_line = known[name]
                errors.append(
                    RowError(
                        row.line,
                        f"insight {row.insight_id!r} has {name} {_show(value)} but {_show(previous)} "
                        f"on line {previous_line}",
                    )
                )
            known.setdefault(name, (value, row.line))

    # Clusters.
    by_cluster: dict[str, list[_MemberRow]] = {}
    for row in rows:
        if row.cluster_id is not None:
            by_cluster.setdefault(row.cluster_id, []).append(row)
    clusters: list[MergeCluster] = []
    for cluster_id, members in by_cluster.items():
        clusters.append(_check_cluster(cluster_id, members, errors))

    if errors:
        raise DecisionImportError(path, errors)
    insights = tuple(
        Insight(
            id=insight_id,
            statement=row.statement or "",
            metadata={name: value for name, (value, _) in insight_metadata[insight_id].items()},
        )
        for insight_id, row in insight_rows.items()
    )
    return DecisionBatch(insights=insights, clusters=tuple(clusters))


def _check_cluster(cluster_id: str, members: list[_MemberRow], errors: list[RowError]) -> MergeCluster:
    """Check one cluster's rows against each other; the cluster is only meaningful without errors."""
    first_line = members[0].line
    agreed: dict[str, tuple[Any, int]] = {}
    for row in members:
        for name, value, ok in (
            ("status", row.status, row.status is not None),
            ("reviewer", row.reviewer, row.reviewer_ok),
            ("decided_at", row.decided_at, row.decided_at_ok),
        ):
            if not ok:
                continue
            if name not in agreed:
                agreed[name] = (value, row.line)
            elif agreed[name][0] != value:
                previous, previous_line = agreed[name]
                errors.append(
                    RowError(
                        row.line,
                        f"cluster {cluster_id!r} has {name} {_describe(value)} here but "
                        f"{_describe(previous)} on line {previous_line}",
                    )
                )
    status = agreed.get("status", (None, 0))[0]

    seen: dict[str, int] = {}
    complete = True
    for row in members:
        if row.insight_id is None:
            complete = False
            continue
        if row.insight_id in seen:
            errors.append(
                RowError(
                    row.line,
                    f"cluster {cluster_id!r} lists insight {row.insight_id!r} twice "
                    f"(also on line {seen[row.insight_id]})",
                )
            )
            continue
        seen[row.insight_id] = row.line
    if complete and len(seen) < 2:
        errors.append(
            RowError(
                first_line,
                f"cluster {cluster_id!r} has {len(seen)} distinct member(s); a cluster needs at least 2",
            )
        )
    unique_rows = [row for row in members if row.insight_id is not None and seen[row.insight_id] == row.line]
    if status == "approved" and all(row.selected is not None for row in members):
        selected = sum(1 for row in unique_rows if row.selected)
        if selected < 2:
            lines = ", ".join(str(line) for line in sorted({row.line for row in members}))
            errors.append(
                RowError(
                    first_line,
                    f"approved cluster {cluster_id!r} has {selected} selected member(s) (lines {lines}); "
                    "an approved cluster needs at least 2",
                )
            )
    return MergeCluster(
        id=cluster_id,
        status=status or "pending",
        reviewer=agreed.get("reviewer", (None, 0))[0],
        decided_at=agreed.get("decided_at", (None, 0))[0],
        members=tuple(
            ClusterMember(
                insight_id=row.insight_id or "", similarity=row.similarity, selected=bool(row.selected)
            )
            for row in unique_rows
        ),
    )


def _describe(value: Any) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value)


# -- positive-label rules -----------------------------------------------------------------------------------
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_COMPARISON_RULE = re.compile(
    r"^\s*(?P<column>[^<>=!,]*?)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<threshold>[^<>=!,]*?)\s*$"
)
_OPERATOR_CHARACTERS = set("<>=!")


def _label_key(label: str) -> tuple[str, Any]:
    """How labels are compared in value lists: numerically when numeric ("1" == "1.0"), else casefolded."""
    number = _number(label)
    return ("number", number) if number is not None else ("text", label.strip().casefold())


class _ComparisonRule:
    def __init__(self, rule: str, op: str, threshold: float) -> None:
        self.rule, self.op, self.threshold = rule, op, threshold

    def __call__(self, label: str) -> bool:
        if _missing(label):
            raise ValueError("label is empty")
        number = _number(label)
        if number is None:
            raise ValueError(f"label {label.strip()!r} is not a number")
        return _COMPARISONS[self.op](number, self.threshold)

    def __repr__(self) -> str:
        return f"<positive rule {self.rule!r}: label {self.op} {self.threshold:g}>"


class _ValueListRule:
    def __init__(self, rule: str, positive: list[str], negative: list[str] | None) -> None:
        self.rule = rule
        self.positive_labels, self.negative_labels = positive, negative
        self.positive = {_label_key(label) for label in positive}
        self.negative = None if negative is None else {_label_key(label) for label in negative}

    def __call__(self, label: str) -> bool:
        if _missing(label):
            raise ValueError("label is empty")
        key = _label_key(label)
        if key in self.positive:
            return True
        if self.negative is None or key in self.negative:
            return False
        raise ValueError(
            f"label {label.strip()!r} is neither positive ({', '.join(self.positive_labels)}) "
            f"nor negative ({', '.join(self.negative_labels or ())})"
        )

    def __repr__(self) -> str:
        negative = "anything else" if self.negative_labels is None else ", ".join(self.negative_labels)
        return (
            f"<positive rule {self.rule!r}: positive {', '.join(self.positive_labels)}; negative {negative}>"
        )


def _value_list(text: str, what: str) -> list[str]:
    values = [value.strip() for value in text.split(",")]
    if not all(values):
        raise ValueError(f"{what} {text!r} has an empty value (use a comma-separated list such as '1,yes')")
    if any(_OPERATOR_CHARACTERS & set(value) for value in values):
        raise ValueError(
            f"{what} {text!r} is neither a comparison (e.g. '>=4', 'score>3.5', '==1') nor a "
            "comma-separated list of labels"
        )
    return values


def parse_positive_rule(rule: str, negative: str | None = None) -> Callable[[str], bool]:
    """A classifier for label values: True = positive, False = negative, ValueError = not classifiable.

    ``rule`` is either

    * a comparison on numbers: ``>=4``, ``>3.5``, ``<=1``, ``<0.5``, ``==1``, ``!=0``, optionally with a
      name before the operator (``score>=4``). The name only documents the rule and is ignored: the label
      column is whichever column the caller reads. Every finite number is then classified; a label that is
      not a number (or is empty) raises ValueError. ``negative`` must not be given.
    * a comma-separated list of the labels that are positive, e.g. ``1,true,yes,duplicate``. Labels are
      compared case-insensitively and stripped, numbers numerically (``1.0`` matches ``1``). A label is
      negative when it is in the ``negative`` list, default ``0,false,no`` (less any value listed as
      positive); ``negative="*"`` makes every other label negative. Any other label raises ValueError, so
      a typo or an unexpected class (``maybe``) is a row error instead of a silent negative.

    A malformed rule, a negative list with a comparison rule, or a value both positive and negative raises
    ValueError.

    Example:
        >>> is_positive = parse_positive_rule("score>=4")
        >>> is_positive("4.2"), is_positive("1")
        (True, False)
        >>> is_duplicate = parse_positive_rule("duplicate,yes", negative="distinct,no")
        >>> is_duplicate("Duplicate"), is_duplicate("no")
        (True, False)
    """
    if not isinstance(rule, str) or not rule.strip():
        raise ValueError("the positive-label rule is empty; use e.g. '1', '>=4' or '1,true,yes'")
    text = rule.strip()
    if _OPERATOR_CHARACTERS & set(text):
        match = _COMPARISON_RULE.match(text)
        if match is None:
            raise ValueError(
                f"invalid positive-label rule {rule!r}: use one comparison such as '>=4', 'score>3.5', "
                "'==1' or '!=0', or a comma-separated list of labels such as '1,true,yes'"
            )
        threshold = _number(match["threshold"])
        if threshold is None:
            raise ValueError(f"invalid positive-label rule {rule!r}: {match['threshold']!r} is not a number")
        if negative is not None:
            raise ValueError(
                f"negative={negative!r} only applies to a list of labels; "
                f"the comparison rule {rule!r} classifies every number"
            )
        return _ComparisonRule(text, match["op"], threshold)

    positive = _value_list(text, "positive-label rule")
    positive_keys = {_label_key(value) for value in positive}
    if negative is None:
        negatives: list[str] | None = [
            value for value in _DEFAULT_NEGATIVE_LABELS if _label_key(value) not in positive_keys
        ]
    elif negative.strip() == "*":
        negatives = None
    else:
        negatives = _value_list(negative.strip(), "negative-label list")
        both = [value for value in negatives if _label_key(value) in positive_keys]
        if both:
            raise ValueError(f"label(s) {', '.join(both)} are both positive and negative")
    return _ValueListRule(text, positive, negatives)


# -- labelled pairs -----------------------------------------------------------------------------------------
def _normalise(text: str) -> str:
    return " ".join(text.split())


def _digest(text: str, length: int = 12) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def _label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    raise _Bad(f"label must be a string or a number, got {_json_type(value)}")


def _pair_texts(
    line: int, record: dict[str, Any], columns: Sequence[str], errors: list[RowError]
) -> list[str]:
    """The non-empty string texts of a row's two text columns (as they are); a row error for each bad one."""
    texts = []
    for column in columns:
        value = record.get(column)
        if not isinstance(value, str | None):
            errors.append(RowError(line, f"{column} must be a string, got {_json_type(value)}"))
        elif _missing(value):
            errors.append(RowError(line, f"{column} is empty"))
        else:
            texts.append(value)
    return texts


def parse_labelled_pairs(
    path: str | os.PathLike[str],
    *,
    text_a_column: str = "text_a",
    text_b_column: str = "text_b",
    label_column: str = "label",
    decided_at_column: str = "decided_at",
    positive: str = "1",
    negative: str | None = None,
    has_header: bool = True,
    column_names: Sequence[str] | None = None,
    file_format: str | None = None,
    reviewer: str = "import",
    decided_at: datetime | None = None,
    id_prefix: str = "pair",
) -> DecisionBatch:
    """Parse labelled text pairs (``text_a,text_b,label``, STS-B, ...) into a :class:`DecisionBatch`.

    Every row becomes two insights and one cluster of both: ``approved`` with both members selected when
    the label is positive, ``rejected`` with none selected when it is negative (see
    :func:`parse_positive_rule` for ``positive`` and ``negative``); similarity is None. For a headerless
    file pass ``has_header=False, column_names=[...]``, e.g. STS-B:
    ``column_names=["text_a", "text_b", "label"], positive="score>=4"``. Extra columns are ignored.

    All clusters get ``reviewer``. Their decision time is the row's ``decided_at_column`` when the file has
    that column and the row a value (ISO 8601), else ``decided_at`` when given, else the file's
    modification time in UTC (a naive datetime is taken as UTC).

    Ids come from content, never from a row's position, so a file re-exported in another order, with rows
    added, or as JSON Lines instead of CSV names the same decisions the same way: an insight is
    ``f"{id_prefix}-{sha1(normalised text)[:12]}"`` where the normalised text is ``" ".join(text.split())``
    (also the stored statement), so a sentence that occurs in several rows is one insight; a cluster is
    ``id_prefix`` plus 16 hex digits of the sha1 of what identifies the decision: the two normalised
    texts in either order, the decision the label maps to (merge or not), the reviewer, and the decision
    time only when the row or the caller gives one (the file's modification time changes with every
    export, so it is stored but is not part of the identity). The batch says so (``ids_from_content``):
    the feedback store then treats a stored id as the same decision, already present. A row that repeats
    the decision of an earlier row is stored once and listed in ``DecisionBatch.duplicates``.

    Row errors: an empty text, a missing label, a label the rule cannot classify, a decision time that is
    not ISO 8601. A row whose two texts are the same statement (after normalisation) is valid but holds no
    pair to learn from: it is left out and listed in ``DecisionBatch.skipped``. Missing columns are one
    error. Bad arguments (including a bad rule) raise ValueError before the file is read; a bad file raises
    :class:`DecisionImportError` listing every problem.
    """
    is_positive = parse_positive_rule(positive, negative)
    columns = (text_a_column, text_b_column, label_column, decided_at_column)
    if len(set(columns)) != 4:
        raise ValueError(
            f"text_a_column, text_b_column, label_column and decided_at_column must differ, got {columns}"
        )
    reviewer = reviewer.strip() if isinstance(reviewer, str) else ""
    if not reviewer or len(reviewer) > _MAX_REVIEWER_LENGTH or "\x00" in reviewer:
        raise ValueError(
            f"reviewer must be a non-empty name of at most {_MAX_REVIEWER_LENGTH} characters "
            f"(got {len(reviewer)} characters)"
        )
    if not id_prefix or id_prefix != id_prefix.strip() or len(id_prefix) > _MAX_ID_LENGTH - 17:
        raise ValueError(f"id_prefix {id_prefix!r} must be non-empty, without surrounding whitespace")
    fmt = detect_file_format(path, file_format)
    records = list(read_records(path, file_format=fmt, has_header=has_header, column_names=column_names))
    missing = _missing_columns(fmt, records, columns[:3], has_header=has_header)
    if missing is not None:
        raise DecisionImportError(path, [missing])
    given = _utc(decided_at) if decided_at is not None else None
    file_time = _file_time(path)

    errors: list[RowError] = []
    skipped: list[str] = []
    duplicates: list[str] = []
    first_line: dict[str, int] = {}
    insights: dict[str, Insight] = {}
    clusters: list[MergeCluster] = []
    for line, record in records:
        texts = [_normalise(text) for text in _pair_texts(line, record, columns[:2], errors)]
        identical = len(texts) == 2 and texts[0] == texts[1]
        label_value = record.get(label_column)
        label: str | None = None
        approved: bool | None = None
        if _missing(label_value):
            errors.append(RowError(line, f"the label ({label_column}) is missing"))
        else:
            try:
                label = _label_text(label_value)
                approved = is_positive(label)
            except (_Bad, ValueError) as exc:
                errors.append(RowError(line, str(exc)))
        row_time = given
        if not _missing(record.get(decided_at_column)):
            try:
                row_time = _timestamp(record[decided_at_column], decided_at_column)
            except _Bad as exc:
                errors.append(RowError(line, str(exc)))
                continue
        if len(texts) != 2 or label is None or approved is None:
            continue
        if identical:
            # One statement cannot form a two-member cluster, and there is nothing to learn from it.
            skipped.append(
                f"{path}:{line}: {text_a_column} and {text_b_column} are the same text; not imported"
            )
            continue
        status = "approved" if approved else "rejected"
        identity = [*sorted(texts), status, reviewer, row_time.isoformat() if row_time else ""]
        cluster_id = f"{id_prefix}-{_digest(chr(31).join(identity), 16)}"
        if cluster_id in first_line:
            duplicates.append(
                f"{path}:{line}: the same decision as line {first_line[cluster_id]}; stored once"
            )
            continue
        first_line[cluster_id] = line
        member_ids = []
        for text in texts:
            insight_id = f"{id_prefix}-{_digest(text)}"
            insights.setdefault(insight_id, Insight(id=insight_id, statement=text))
            member_ids.append(insight_id)
        clusters.append(
            MergeCluster(
                id=cluster_id,
                status=status,
                reviewer=reviewer,
                decided_at=row_time or file_time,
                members=tuple(ClusterMember(member_id, None, approved) for member_id in member_ids),
            )
        )
    if errors:
        raise DecisionImportError(path, errors)
    return DecisionBatch(
        insights=tuple(insights.values()),
        clusters=tuple(clusters),
        skipped=tuple(skipped),
        duplicates=tuple(duplicates),
        ids_from_content=True,
    )


def read_text_pairs(
    path: str | os.PathLike[str],
    *,
    text_a_column: str = "text_a",
    text_b_column: str = "text_b",
    has_header: bool = True,
    column_names: Sequence[str] | None = None,
    file_format: str | None = None,
) -> list[tuple[int, str, str]]:
    """The pairs of a file to score, as ``(line, text_a, text_b)``: the file and columns of
    :func:`parse_labelled_pairs` (a label column may be there and is ignored). Texts are returned as they
    are in the file. All or nothing: an empty or non-string text anywhere raises
    :class:`DecisionImportError` listing every bad line.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "pairs.csv"
        >>> _ = path.write_text("text_a,text_b\\nA cat sits.,A cat is sitting.\\n")
        >>> read_text_pairs(path)
        [(2, 'A cat sits.', 'A cat is sitting.')]
    """
    if text_a_column == text_b_column:
        raise ValueError(f"text_a_column and text_b_column must differ, got {text_a_column!r} twice")
    fmt = detect_file_format(path, file_format)
    records = list(read_records(path, file_format=fmt, has_header=has_header, column_names=column_names))
    missing = _missing_columns(fmt, records, (text_a_column, text_b_column), has_header=has_header)
    if missing is not None:
        raise DecisionImportError(path, [missing])
    errors: list[RowError] = []
    pairs: list[tuple[int, str, str]] = []
    for line, record in records:
        texts = _pair_texts(line, record, (text_a_column, text_b_column), errors)
        if len(texts) == 2:
            pairs.append((line, texts[0], texts[1]))
    if errors:
        raise DecisionImportError(path, errors)
    return pairs


def _file_time(path: str | os.PathLike[str]) -> datetime:
    return datetime.fromtimestamp(os.stat(path).st_mtime, tz=UTC)
