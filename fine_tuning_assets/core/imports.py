"""Reading import files (CSV or JSON Lines) row by row, with line numbers, for every task's import.

Pure parsing (stdlib only): nothing here touches Dagster or a database. Each task turns the rows into its own
records (``tasks/<task>/imports.py``); what is shared lives here, so both tasks read files, report problems
and parse values the same way. An import is all or nothing: a task parses and validates every row first and,
if any row is bad, raises one :class:`ImportFileError` listing *every* problem with its line number.

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

Values
    The ``parse_*`` functions take a raw value (a CSV string or a JSON value) and the column's name and
    return the parsed value or raise :class:`ValueProblem`, whose message is the row error.
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "FALSE_WORDS",
    "FILE_FORMATS",
    "MAX_ID_LENGTH",
    "MAX_LISTED_PROBLEMS",
    "TRUE_WORDS",
    "ImportFileError",
    "RowError",
    "ValueProblem",
    "content_digest",
    "detect_file_format",
    "file_time",
    "format_from_extension",
    "is_missing",
    "json_type",
    "label_text",
    "list_problems",
    "missing_columns",
    "normalise_whitespace",
    "parse_flag",
    "parse_fraction",
    "parse_identifier",
    "parse_number",
    "parse_positive_rule",
    "parse_string",
    "parse_timestamp",
    "read_records",
    "show_value",
    "shorten",
    "to_utc",
]

#: The formats :func:`read_records` reads.
FILE_FORMATS: tuple[str, ...] = ("csv", "jsonl")
_EXTENSION_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
_FORMAT_ALIASES = {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl"}

#: A refused import lists at most this many problems, then says how many more there are.
MAX_LISTED_PROBLEMS = 50

#: The length of the id columns of the stores (``String(200)``); checked while parsing so that a too-long
#: id is a row error with a line number rather than a database error.
MAX_ID_LENGTH = 200

#: The words :func:`parse_flag` reads as true / false (case-insensitive).
TRUE_WORDS: frozenset[str] = frozenset({"true", "1", "yes"})
FALSE_WORDS: frozenset[str] = frozenset({"false", "0", "no"})
_DEFAULT_NEGATIVE_LABELS = ("0", "false", "no")


def list_problems(problems: Sequence[str], *, indent: str = "  ") -> str:
    """The first :data:`MAX_LISTED_PROBLEMS` problems, one per line, and the count of the rest.

    Example:
        >>> list_problems([f"line {n}: empty" for n in range(1, 53)]).splitlines()[-1]
        '  ... and 2 more'
    """
    lines = [f"{indent}{problem}" for problem in problems[:MAX_LISTED_PROBLEMS]]
    if len(problems) > MAX_LISTED_PROBLEMS:
        lines.append(f"{indent}... and {len(problems) - MAX_LISTED_PROBLEMS} more")
    return "\n".join(lines)


# -- errors -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RowError:
    """One problem in an import file. ``line`` is the 1-based physical line, 0 for the whole file."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class ImportFileError(ValueError):
    """An import file that cannot be imported; nothing was parsed from it.

    ``path`` is the file (as given), ``errors`` every problem found, ordered by line (a list of
    :class:`RowError`). ``str()`` prints them as ``path:line: message``, at most
    :data:`MAX_LISTED_PROBLEMS` of them and the count of the rest.
    """

    def __init__(self, path: str | os.PathLike[str], errors: Sequence[RowError]) -> None:
        if not errors:
            raise ValueError(f"{type(self).__name__} needs at least one RowError")
        self.path = Path(path)
        self.errors: list[RowError] = sorted(dict.fromkeys(errors), key=lambda error: error.line)
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


# -- reading rows -------------------------------------------------------------------------------------------
def format_from_extension(path: str | os.PathLike[str]) -> str | None:
    """``"csv"`` for ``.csv``, ``"jsonl"`` for ``.jsonl``, ``.ndjson`` and ``.json``, else None."""
    return _EXTENSION_FORMATS.get(Path(path).suffix.lower())


def detect_file_format(path: str | os.PathLike[str], file_format: str | None = None) -> str:
    """``"csv"`` or ``"jsonl"``: ``file_format`` when given (aliases ``json``, ``ndjson``), else by extension.

    Raises ValueError for an unknown ``file_format`` and :class:`ImportFileError` for a folder or a file
    whose extension says nothing.
    """
    if Path(path).is_dir():
        raise ImportFileError(path, [RowError(0, "is a folder, not a file; give a CSV or JSONL file")])
    if file_format is not None:
        resolved = _FORMAT_ALIASES.get(file_format.strip().lower())
        if resolved is None:
            raise ValueError(f"unknown file_format {file_format!r}; use one of {', '.join(FILE_FORMATS)}")
        return resolved
    resolved = format_from_extension(path)
    if resolved is None:
        raise ImportFileError(
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
    delimiter: str = ",",
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The rows of a CSV or JSON Lines file as ``(line number, row)`` pairs.

    CSV rows map column names to the raw (unstripped) string values. ``has_header=False`` needs
    ``column_names``; with a header, ``column_names`` (when given) replaces the header's names. A row with
    a different number of fields than there are columns is an error. JSON Lines rows are the objects as
    parsed (``has_header`` is ignored, ``column_names`` is refused); a line that is not a JSON object, or
    an object with a repeated key, is an error. ``delimiter`` (CSV only) reads e.g. tab-separated files
    (``"\t"``, as BEIR's qrels are).

    The whole file is read and checked before the first row is returned, so every structural problem
    (not UTF-8, malformed CSV quoting, invalid JSON, wrong field counts, a NUL character in a value, no rows
    at all) is raised here, all in one :class:`ImportFileError`. A NUL character is refused because
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
    if delimiter != "," and fmt != "csv":
        raise ValueError("delimiter only applies to CSV files")
    text = _read_utf8(path)
    if fmt == "csv":
        records, errors, header_only = _csv_records(
            text, has_header=has_header, column_names=column_names, delimiter=delimiter
        )
    else:
        records, errors = _jsonl_records(text)
        header_only = False
    errors += [
        RowError(line, f"{name} contains a NUL character (\\x00), which the database cannot store")
        for line, record in records
        for name in _fields_with_nul(record)
    ]
    if errors:
        raise ImportFileError(path, errors)
    if not records:
        detail = " (only a header line)" if header_only else ""
        raise ImportFileError(path, [RowError(0, f"contains no rows{detail}")])
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
        raise ImportFileError(
            path, [RowError(line, f"the file is not UTF-8 (byte {data[exc.start]:#04x}: {exc.reason})")]
        ) from exc


def _csv_records(
    text: str, *, has_header: bool, column_names: Sequence[str] | None, delimiter: str = ","
) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError], bool]:
    records: list[tuple[int, dict[str, Any]]] = []
    errors: list[RowError] = []
    header: list[str] | None = None if has_header else list(column_names or ())
    header_from = "columns given" if column_names is not None else "header columns"
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, delimiter=delimiter)
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
            errors.append(RowError(line_number, f"expected a JSON object, got {json_type(value)}{hint}"))
            continue
        records.append((line_number, value))
    return records, errors


def json_type(value: Any) -> str:
    """What a JSON value is, for messages ("a string", "null", ...)."""
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


def require_distinct_columns(**fields: str | None) -> None:
    """ValueError when two of the named column options (``text_field="text"``, ...) name the same column.

    Example:
        >>> require_distinct_columns(text_field="text", label_field="text")
        Traceback (most recent call last):
        ...
        ValueError: the columns {'text_field': 'text', 'label_field': 'text'} must differ; text is named twice
    """
    named = {name: value for name, value in fields.items() if value is not None}
    values = list(named.values())
    repeated = sorted({value for value in values if values.count(value) > 1})
    if repeated:
        raise ValueError(f"the columns {named} must differ; {', '.join(repeated)} is named twice")


def missing_columns(
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


def file_time(path: str | os.PathLike[str]) -> datetime:
    """The file's modification time in UTC (the decision time of rows that give none)."""
    return datetime.fromtimestamp(os.stat(path).st_mtime, tz=UTC)


# -- value parsing ------------------------------------------------------------------------------------------
class ValueProblem(Exception):
    """A value that does not parse; the message is the row error."""


def is_missing(value: Any) -> bool:
    """None, or a string of whitespace only: an empty CSV field or a JSON null."""
    return value is None or (isinstance(value, str) and not value.strip())


def shorten(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def show_value(value: Any) -> str:
    """A value as a row error quotes it: a string stripped and repr'd, anything else as JSON."""
    return repr(value.strip()) if isinstance(value, str) else json.dumps(value)


def normalise_whitespace(text: str) -> str:
    """Runs of whitespace collapsed to one space, ends stripped: how texts are compared and identified."""
    return " ".join(text.split())


def content_digest(text: str, length: int = 12) -> str:
    """The first ``length`` hex digits of the sha1 of ``text``: ids derived from content, so the same text
    names the same record in every file and every order."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def parse_optional(
    line: int, record: Mapping[str, Any], name: str, parse: Callable[[Any, str], Any], errors: list[RowError]
) -> Any:
    """The parsed value of an optional column: None when absent or empty, or (with a row error appended to
    ``errors``) when ``parse`` finds it bad."""
    if is_missing(record.get(name)):
        return None
    try:
        return parse(record[name], name)
    except ValueProblem as exc:
        errors.append(RowError(line, str(exc)))
        return None


def parse_number(value: Any) -> float | None:
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


def parse_identifier(value: Any, name: str, *, max_length: int = MAX_ID_LENGTH) -> str:
    """A non-empty id (a string, or a JSON integer), stripped, at most ``max_length`` characters."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueProblem(f"{name} must be a string, got {json_type(value)}")
    text = value.strip()
    if not text:
        raise ValueProblem(f"{name} is empty")
    if len(text) > max_length:
        raise ValueProblem(f"{name} is longer than {max_length} characters")
    return text


def parse_string(value: Any, name: str) -> str:
    """A string, stripped (may be empty)."""
    if not isinstance(value, str):
        raise ValueProblem(f"{name} must be a string, got {json_type(value)}")
    return value.strip()


def parse_fraction(value: Any, name: str) -> float:
    """A number in [0, 1]."""
    number = parse_number(value)
    if number is None:
        raise ValueProblem(f"{name} {show_value(value)} is not a number")
    if not 0.0 <= number <= 1.0:
        raise ValueProblem(f"{name} {show_value(value)} is not between 0 and 1")
    return number


def parse_flag(
    value: Any,
    name: str,
    *,
    true_words: frozenset[str] = TRUE_WORDS,
    false_words: frozenset[str] = FALSE_WORDS,
) -> bool:
    """A boolean: a JSON boolean, the integers 1/0, or one of the words (case-insensitive, stripped)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in true_words:
            return True
        if word in false_words:
            return False
    words = "/".join(sorted(true_words) + sorted(false_words))
    raise ValueProblem(f"{name} {show_value(value)} is not one of {words}")


def parse_timestamp(value: Any, name: str) -> datetime:
    """An ISO-8601 datetime string as an aware UTC datetime (a naive one is taken as UTC)."""
    if not isinstance(value, str):
        raise ValueProblem(f"{name} must be an ISO-8601 string, got {json_type(value)}")
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueProblem(f"{name} {text!r} is not an ISO-8601 datetime") from None
    return to_utc(moment)


def to_utc(moment: datetime) -> datetime:
    """Every datetime in this project is UTC; a naive one is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def label_text(value: Any) -> str:
    """A label as text: JSON booleans as ``true``/``false``, numbers as written, strings stripped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    raise ValueProblem(f"label must be a string or a number, got {json_type(value)}")


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
    number = parse_number(label)
    return ("number", number) if number is not None else ("text", label.strip().casefold())


class _ComparisonRule:
    def __init__(self, rule: str, op: str, threshold: float) -> None:
        self.rule, self.op, self.threshold = rule, op, threshold

    def __call__(self, label: str) -> bool:
        if is_missing(label):
            raise ValueError("label is empty")
        number = parse_number(label)
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
        if is_missing(label):
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
        threshold = parse_number(match["threshold"])
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
