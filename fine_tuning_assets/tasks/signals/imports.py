"""Parse readers' actions on content chunks from CSV or JSON Lines.

Files are read by the shared machinery of :mod:`fine_tuning_assets.core.imports` (formats, line numbers,
value parsers): an import is all or nothing, and a bad file raises one
:class:`~fine_tuning_assets.core.imports.ImportFileError` listing every problem with its line number.

Example:
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> path = folder / "actions.csv"
    >>> _ = path.write_text(
    ...     "chunk_id,content,user_id,action,podcast,relevance_score,acted_at\\n"
    ...     "c1,Batch your email twice a day.,ana,Save,Deep Work Radio,0.4,2026-05-01T09:00:00\\n"
    ...     "c1,Batch your email twice a day.,bo,skip,Deep Work Radio,0.4,2026-05-01T10:00:00\\n"
    ... )
    >>> batch = read_chunk_actions(path)
    >>> [(a.user_id, a.action, a.context["podcast"]) for a in batch.actions]
    [('ana', 'saved', 'Deep Work Radio'), ('bo', 'skipped', 'Deep Work Radio')]
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from fine_tuning_assets.core.imports import (
    ImportFileError,
    RowError,
    ValueProblem,
    content_digest,
    detect_file_format,
    is_missing,
    json_type,
    missing_columns,
    parse_identifier,
    parse_number,
    parse_optional,
    parse_timestamp,
    read_records,
    shorten,
    show_value,
)
from fine_tuning_assets.tasks.signals.records import ACTIONS, ChunkAction, ChunkBatch, normalise_content

__all__ = ["CONTEXT_FIELDS", "DEFAULT_ACTION_WORDS", "read_chunk_actions"]

#: The file words read as each action by default (compared case-insensitively, stripped).
DEFAULT_ACTION_WORDS: Mapping[str, str] = {
    "saved": "saved",
    "save": "saved",
    "snipped": "snipped",
    "snip": "snipped",
    "skipped": "skipped",
    "skip": "skipped",
}
#: The columns read into an action's context by default (each optional).
CONTEXT_FIELDS: tuple[str, ...] = ("podcast", "episode", "speaker")

_CHUNK_ID_DIGITS = 16


def _action_words(action_words: Mapping[str, str] | None) -> dict[str, str]:
    words = DEFAULT_ACTION_WORDS if action_words is None else action_words
    resolved: dict[str, str] = {}
    for word, action in words.items():
        key = str(word).strip().casefold()
        if not key:
            raise ValueError("action_words has an empty word")
        if action not in ACTIONS:
            raise ValueError(
                f"action_words maps {word!r} to {action!r}, which is not one of {', '.join(ACTIONS)}"
            )
        if resolved.get(key, action) != action:
            raise ValueError(f"action_words maps {word!r} to both {resolved[key]!r} and {action!r}")
        resolved[key] = action
    if not resolved:
        raise ValueError("action_words is empty")
    return resolved


def read_chunk_actions(
    path: str | os.PathLike[str],
    *,
    chunk_id_field: str = "chunk_id",
    content_field: str = "content",
    user_field: str = "user_id",
    action_field: str = "action",
    context_fields: Sequence[str] = CONTEXT_FIELDS,
    context_field: str = "context",
    relevance_field: str = "relevance_score",
    quality_field: str = "quality_score",
    acted_at_field: str = "acted_at",
    action_words: Mapping[str, str] | None = None,
    file_format: str | None = None,
) -> ChunkBatch:
    """The actions of a CSV or JSON Lines file, one per row.

    Each row names a chunk (``chunk_id_field``), its text (``content_field``) and what the reader did
    (``action_field``): a word of ``action_words`` (file word → one of ``saved``, ``snipped``, ``skipped``;
    compared case-insensitively; default :data:`DEFAULT_ACTION_WORDS`: ``saved/save``, ``snipped/snip``,
    ``skipped/skip``). When the file has no ``chunk_id_field`` column at all, each chunk's id is derived from
    its content, ``chunk-<sha1(normalised content)[:16]>``: the same text is the same chunk in every file.

    Optional columns: ``user_field`` (who acted), ``relevance_field`` and ``quality_field`` (the surfacing
    system's scores; finite numbers), ``acted_at_field`` (ISO 8601, naive = UTC). The context is the
    ``context_field`` column when it holds a JSON object (an object in JSON Lines, a JSON text in CSV), with
    the ``context_fields`` columns of the row merged over it (strings stripped in CSV, JSON values as given);
    empty values are left out.

    The content is stored whitespace-normalised. Row errors: an empty or too long chunk id or user (over 200
    characters), empty content, an unknown action word, a score that is not a number, a bad ``acted_at``, a
    context that is not a JSON object; a chunk id whose content differs from its content on an earlier line
    (naming that line); a row repeating an earlier row's action (same chunk, user, action and time) with
    other content, scores or context. A row repeating an earlier row exactly is listed in
    ``ChunkBatch.duplicates`` and stored once. Missing columns are one error. Bad arguments raise ValueError
    before the file is read.
    """
    named = {
        "chunk_id_field": chunk_id_field,
        "content_field": content_field,
        "user_field": user_field,
        "action_field": action_field,
        "context_field": context_field,
        "relevance_field": relevance_field,
        "quality_field": quality_field,
        "acted_at_field": acted_at_field,
    }
    values = list(named.values())
    repeated = sorted({value for value in values if values.count(value) > 1})
    if repeated:
        raise ValueError(f"the columns {named} must differ; {', '.join(repeated)} is named twice")
    context_fields = tuple(dict.fromkeys(name.strip() for name in context_fields))
    clashing = sorted(set(context_fields) & set(values))
    if clashing or not all(context_fields):
        raise ValueError(
            f"context_fields {list(context_fields)} must be non-empty names other than the action's columns"
            + (f" ({', '.join(clashing)} is one)" if clashing else "")
        )
    words = _action_words(action_words)
    fmt = detect_file_format(path, file_format)
    records = list(read_records(path, file_format=fmt))
    derive_ids = not any(chunk_id_field in record for _, record in records)
    required = (content_field, action_field) if derive_ids else (chunk_id_field, content_field, action_field)
    missing = missing_columns(fmt, records, required)
    if missing is not None:
        raise ImportFileError(path, [missing])

    errors: list[RowError] = []
    contents: dict[str, tuple[str, int]] = {}
    found: dict[str, tuple[ChunkAction, int]] = {}
    duplicates: list[str] = []
    for line, record in records:
        before = len(errors)

        content = _content(line, record, content_field, errors)
        if derive_ids:
            chunk_id = f"chunk-{content_digest(content, _CHUNK_ID_DIGITS)}" if content is not None else None
        elif is_missing(record.get(chunk_id_field)):
            errors.append(RowError(line, f"the chunk id ({chunk_id_field}) is missing"))
            chunk_id = None
        else:
            chunk_id = parse_optional(line, record, chunk_id_field, parse_identifier, errors)
        action = _action(line, record, action_field, words, errors)
        user_id = parse_optional(line, record, user_field, parse_identifier, errors)
        relevance = parse_optional(line, record, relevance_field, _score, errors)
        quality = parse_optional(line, record, quality_field, _score, errors)
        acted_at = parse_optional(line, record, acted_at_field, parse_timestamp, errors)
        context = _context(line, record, context_field, context_fields, errors)
        if len(errors) > before or chunk_id is None or content is None or action is None:
            continue
        if chunk_id in contents and contents[chunk_id][0] != content:
            earlier, earlier_line = contents[chunk_id]
            errors.append(
                RowError(
                    line,
                    f"chunk {chunk_id!r} has content {shorten(content)!r} here but {shorten(earlier)!r} "
                    f"on line {earlier_line}",
                )
            )
            continue
        contents.setdefault(chunk_id, (content, line))
        row = ChunkAction(
            chunk_id=chunk_id,
            content=content,
            action=action,
            user_id=user_id,
            context=context,
            relevance_score=relevance,
            quality_score=quality,
            acted_at=acted_at,
        )
        fingerprint = row.fingerprint
        if fingerprint in found:
            earlier_row, earlier_line = found[fingerprint]
            if earlier_row.same_record(row):
                duplicates.append(f"{path}:{line}: the same action as line {earlier_line}; stored once")
            else:
                errors.append(
                    RowError(
                        line,
                        f"the same action ({action} of chunk {chunk_id!r} by {user_id or 'an unknown user'}"
                        f"{' at ' + acted_at.isoformat() if acted_at else ''}) as line {earlier_line}, "
                        "with other scores or context",
                    )
                )
            continue
        found[fingerprint] = (row, line)
    if errors:
        raise ImportFileError(path, errors)
    return ChunkBatch(
        actions=tuple(row for row, _ in found.values()),
        duplicates=tuple(duplicates),
        chunk_lines={chunk_id: line for chunk_id, (_, line) in contents.items()},
    )


def _content(line: int, record: dict[str, Any], name: str, errors: list[RowError]) -> str | None:
    value = record.get(name)
    if not isinstance(value, str | None):
        errors.append(RowError(line, f"the content ({name}) must be a string, got {json_type(value)}"))
        return None
    if is_missing(value):
        errors.append(RowError(line, f"the content ({name}) is empty"))
        return None
    return normalise_content(value)


def _action(
    line: int, record: dict[str, Any], name: str, words: Mapping[str, str], errors: list[RowError]
) -> str | None:
    value = record.get(name)
    if is_missing(value):
        errors.append(RowError(line, f"the action ({name}) is missing"))
        return None
    action = words.get(value.strip().casefold()) if isinstance(value, str) else None
    if action is None:
        errors.append(
            RowError(line, f"{name} {show_value(value)} is not one of {', '.join(sorted(words))} (any case)")
        )
    return action


def _score(value: Any, name: str) -> float:
    number = parse_number(value)
    if number is None:
        raise ValueProblem(f"{name} {show_value(value)} is not a finite number")
    return number


def _context(
    line: int,
    record: dict[str, Any],
    context_field: str,
    context_fields: Sequence[str],
    errors: list[RowError],
) -> dict[str, Any]:
    context: dict[str, Any] = {}
    raw = record.get(context_field)
    if not is_missing(raw):
        value = raw
        if isinstance(raw, str):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                errors.append(RowError(line, f"{context_field} is not a JSON object ({exc.msg})"))
                value = {}
        if not isinstance(value, dict):
            errors.append(RowError(line, f"{context_field} must be a JSON object, got {json_type(value)}"))
        else:
            context.update({key: item for key, item in value.items() if not is_missing(item)})
    for name in context_fields:
        item = record.get(name)
        if not is_missing(item):
            context[name] = item.strip() if isinstance(item, str) else item
    return context
