"""Parse human decisions exported as CSV or JSON Lines files into a :class:`DecisionBatch`.

Pure parsing and validation: nothing here touches Dagster or a database. Files are read by the shared
machinery of :mod:`fine_tuning_assets.core.imports` (formats, line numbers, value parsers, label rules). An
import is all or nothing: every row is parsed and validated first, and if any row is bad a
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

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fine_tuning_assets.core.imports import (
    FILE_FORMATS,
    MAX_ID_LENGTH,
    MAX_LISTED_PROBLEMS,
    ImportFileError,
    RowError,
    ValueProblem,
    content_digest,
    detect_file_format,
    file_time,
    format_from_extension,
    is_missing,
    json_type,
    label_text,
    missing_columns,
    normalise_whitespace,
    parse_flag,
    parse_fraction,
    parse_identifier,
    parse_positive_rule,
    parse_string,
    parse_timestamp,
    read_records,
    shorten,
    show_value,
    to_utc,
)
from fine_tuning_assets.tasks.dedup.records import (
    CLUSTER_STATUSES,
    DECIDED_STATUSES,
    ClusterMember,
    DecisionBatch,
    Insight,
    MergeCluster,
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

#: The dedup name of the shared import error (:class:`fine_tuning_assets.core.imports.ImportFileError`):
#: one class, so a caller catching either catches every task's refused import.
DecisionImportError = ImportFileError

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

_MAX_REVIEWER_LENGTH = 200
_MAX_METADATA_LENGTH = {"evidence_type": 100, "source": 500}


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
            errors.append(RowError(line, f"members must be a list, got {json_type(members)}"))
            continue
        if not members:
            errors.append(RowError(line, "members is empty; a cluster needs at least 2 members"))
            continue
        for index, member in enumerate(members, start=1):
            where = f"members[{index}]: "
            if not isinstance(member, dict):
                errors.append(RowError(line, f"{where}expected a JSON object, got {json_type(member)}"))
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
        except ValueProblem as exc:
            problem(str(exc), member_field=member_field)
            return None

    # Cluster-level fields (shared by every member of a nested line: reported without the member prefix).
    if is_missing(row.get("cluster_id")):
        problem("cluster_id is missing", member_field=False)
    else:
        parsed.cluster_id = take("cluster_id", parse_identifier, member_field=False)
    status_value = row.get("status")
    if is_missing(status_value):
        problem("status is missing", member_field=False)
    elif not isinstance(status_value, str) or status_value.strip().lower() not in CLUSTER_STATUSES:
        problem(
            f"status {show_value(status_value)} is not one of {', '.join(CLUSTER_STATUSES)}",
            member_field=False,
        )
    else:
        parsed.status = status_value.strip().lower()
    status = parsed.status

    if is_missing(row.get("reviewer")):
        parsed.reviewer_ok = True
        if status in DECIDED_STATUSES:
            problem(f"reviewer is required when status is {status!r}", member_field=False)
            parsed.reviewer_ok = False
    else:
        reviewer = take("reviewer", parse_string, member_field=False)
        if reviewer is not None and len(reviewer) > _MAX_REVIEWER_LENGTH:
            problem(f"reviewer is longer than {_MAX_REVIEWER_LENGTH} characters", member_field=False)
            reviewer = None
        parsed.reviewer, parsed.reviewer_ok = reviewer, reviewer is not None

    if is_missing(row.get("decided_at")):
        parsed.decided_at_ok = True
        if status in DECIDED_STATUSES:
            problem(f"decided_at is required when status is {status!r}", member_field=False)
            parsed.decided_at_ok = False
    elif status == "pending":
        problem("decided_at must be empty for a pending cluster", member_field=False)
    else:
        parsed.decided_at = take("decided_at", parse_timestamp, member_field=False)
        parsed.decided_at_ok = parsed.decided_at is not None

    # Member fields.
    if is_missing(row.get("insight_id")):
        problem("insight_id is missing")
    else:
        parsed.insight_id = take("insight_id", parse_identifier)
    statement = row.get("statement")
    if not isinstance(statement, str | None):
        problem(f"statement must be a string, got {json_type(statement)}")
    elif is_missing(statement):
        problem("statement is empty")
    else:
        parsed.statement = statement.strip()
    if not is_missing(row.get("similarity")):
        parsed.similarity = take("similarity", parse_fraction)
    selected_value = row.get("selected")
    if is_missing(selected_value):
        parsed.selected = False
        if status == "approved":
            problem("selected is required for an approved cluster (true/false/1/0/yes/no)")
            parsed.selected = None
    else:
        parsed.selected = take("selected", parse_flag)
        if parsed.selected and status in ("pending", "rejected"):
            problem(f"selected must be false or empty for a {status} cluster")
            parsed.selected = None

    # Metadata: the known fields are checked, any other column is kept as it is.
    for name, value in row.items():
        if name in CLUSTER_COLUMNS or is_missing(value):
            continue
        if name == "confidence":
            parsed.metadata[name] = take(name, parse_fraction)
        elif name in _MAX_METADATA_LENGTH:
            text = take(name, parse_string)
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
        missing_columns(fmt, flat_records, _ALWAYS_REQUIRED),
        missing_columns(fmt, flat_records, needed_when_decided, why=" (needed by decided clusters)"),
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
                    f"insight {row.insight_id!r} has statement {shorten(row.statement)!r} but "
                    f"{shorten(first.statement or '')!r} on line {first.line}",
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
                        f"insight {row.insight_id!r} has {name} {show_value(value)} but {show_value(previous)} "
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


# -- labelled pairs -----------------------------------------------------------------------------------------
def _pair_texts(
    line: int, record: dict[str, Any], columns: Sequence[str], errors: list[RowError]
) -> list[str]:
    """The non-empty string texts of a row's two text columns (as they are); a row error for each bad one."""
    texts = []
    for column in columns:
        value = record.get(column)
        if not isinstance(value, str | None):
            errors.append(RowError(line, f"{column} must be a string, got {json_type(value)}"))
        elif is_missing(value):
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
    if not id_prefix or id_prefix != id_prefix.strip() or len(id_prefix) > MAX_ID_LENGTH - 17:
        raise ValueError(f"id_prefix {id_prefix!r} must be non-empty, without surrounding whitespace")
    fmt = detect_file_format(path, file_format)
    records = list(read_records(path, file_format=fmt, has_header=has_header, column_names=column_names))
    missing = missing_columns(fmt, records, columns[:3], has_header=has_header)
    if missing is not None:
        raise DecisionImportError(path, [missing])
    given = to_utc(decided_at) if decided_at is not None else None
    modified_at = file_time(path)

    errors: list[RowError] = []
    skipped: list[str] = []
    duplicates: list[str] = []
    first_line: dict[str, int] = {}
    insights: dict[str, Insight] = {}
    clusters: list[MergeCluster] = []
    for line, record in records:
        texts = [normalise_whitespace(text) for text in _pair_texts(line, record, columns[:2], errors)]
        identical = len(texts) == 2 and texts[0] == texts[1]
        label_value = record.get(label_column)
        label: str | None = None
        approved: bool | None = None
        if is_missing(label_value):
            errors.append(RowError(line, f"the label ({label_column}) is missing"))
        else:
            try:
                label = label_text(label_value)
                approved = is_positive(label)
            except (ValueProblem, ValueError) as exc:
                errors.append(RowError(line, str(exc)))
        row_time = given
        if not is_missing(record.get(decided_at_column)):
            try:
                row_time = parse_timestamp(record[decided_at_column], decided_at_column)
            except ValueProblem as exc:
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
        cluster_id = f"{id_prefix}-{content_digest(chr(31).join(identity), 16)}"
        if cluster_id in first_line:
            duplicates.append(
                f"{path}:{line}: the same decision as line {first_line[cluster_id]}; stored once"
            )
            continue
        first_line[cluster_id] = line
        member_ids = []
        for text in texts:
            insight_id = f"{id_prefix}-{content_digest(text)}"
            insights.setdefault(insight_id, Insight(id=insight_id, statement=text))
            member_ids.append(insight_id)
        clusters.append(
            MergeCluster(
                id=cluster_id,
                status=status,
                reviewer=reviewer,
                decided_at=row_time or modified_at,
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
    missing = missing_columns(fmt, records, (text_a_column, text_b_column), has_header=has_header)
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
