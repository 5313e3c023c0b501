"""What the signals task learns from, as plain typed records: readers' actions on content chunks.

A :class:`ChunkAction` says what one reader did with one chunk a system surfaced to them: ``saved`` or
``snipped`` it (positive: worth surfacing) or ``skipped`` it (negative). A chunk is identified by its
``chunk_id`` and has one content: every action on it carries the same text (stored whitespace-normalised).
Two actions are the same action when their :attr:`ChunkAction.fingerprint` is the same: the same chunk, user,
action and time.

Example:
    >>> from datetime import UTC, datetime
    >>> saved = ChunkAction("ep1-c07", "Batch your email twice a day.", "saved", user_id="ana",
    ...                     context={"podcast": "Deep Work Radio"}, relevance_score=0.4,
    ...                     acted_at=datetime(2026, 5, 1, tzinfo=UTC))
    >>> saved.positive, ChunkAction("ep1-c08", "Ha, anyway.", "skipped").positive
    (True, False)
    >>> batch_problems(ChunkBatch(actions=(saved,)))
    []
    >>> batch_problems(ChunkBatch(actions=(ChunkAction("c1", "text", "liked"),)))
    ["chunk 'c1': action 'liked' is not one of saved, snipped, skipped"]
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fine_tuning_assets.core.database import text_problems
from fine_tuning_assets.core.imports import normalise_whitespace, shorten
from fine_tuning_assets.tasks.signals.tables import ACTIONS, POSITIVE_ACTIONS, chunk_actions

__all__ = [
    "ACTIONS",
    "POSITIVE_ACTIONS",
    "ChunkAction",
    "ChunkBatch",
    "batch_problems",
    "normalise_content",
]


def normalise_content(content: str) -> str:
    """A chunk's content as the task stores and compares it: whitespace runs collapsed, ends stripped."""
    return normalise_whitespace(content)


@dataclass(frozen=True)
class ChunkAction:
    """One reader's action on one chunk.

    ``action`` is one of :data:`ACTIONS`; ``user_id`` who acted (None when unknown); ``context`` where the
    chunk comes from (``podcast``, ``episode``, ``speaker``, ...: a JSON object); ``relevance_score`` and
    ``quality_score`` the surfacing system's scores of the chunk when it was shown (None when not given);
    ``acted_at`` when the reader acted (aware UTC, None when unknown); ``recorded_at`` when the store recorded
    the action (set on actions read back from the store, None otherwise).
    """

    chunk_id: str
    content: str
    action: str
    user_id: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    relevance_score: float | None = None
    quality_score: float | None = None
    acted_at: datetime | None = None
    recorded_at: datetime | None = None

    @property
    def positive(self) -> bool:
        """Saved or snipped: the reader found the chunk worth keeping."""
        return self.action in POSITIVE_ACTIONS

    @property
    def fingerprint(self) -> str:
        """The action's identity: sha256 of the chunk id, the user, the action and the time. The same action
        in any file, in any order, has the same fingerprint (and is stored once); the same reader acting on
        the same chunk again at another time is another action. Without a user and a time, two identical
        actions on one chunk are one action: give ``acted_at`` (or ``user_id``) to keep them apart."""
        acted_at = self.acted_at.isoformat() if self.acted_at is not None else None
        identity = [self.chunk_id, self.user_id, self.action, acted_at]
        return hashlib.sha256(json.dumps(identity, ensure_ascii=False).encode("utf-8")).hexdigest()

    def same_record(self, other: ChunkAction) -> bool:
        """Whether two actions hold the same values (``recorded_at`` aside): a repeated row, not a conflict."""
        return (
            self.fingerprint == other.fingerprint
            and normalise_content(self.content) == normalise_content(other.content)
            and dict(self.context) == dict(other.context)
            and self.relevance_score == other.relevance_score
            and self.quality_score == other.quality_score
        )


@dataclass(frozen=True)
class ChunkBatch:
    """Actions written to the store together (all or nothing).

    ``duplicates`` lists input rows that repeat an earlier row of the same file (stored once), each as
    ``"file:line: why"``. ``chunk_lines`` maps a chunk id to the file line where it first appears, so that a
    store refusing the batch (another content stored under the id) can name the line; empty for batches not
    read from a file.
    """

    actions: tuple[ChunkAction, ...] = ()
    duplicates: tuple[str, ...] = ()
    chunk_lines: Mapping[str, int] = field(default_factory=dict)

    def chunk_ids(self) -> list[str]:
        """The batch's distinct chunk ids, in first-seen order."""
        return list(dict.fromkeys(action.chunk_id for action in self.actions))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def batch_problems(batch: ChunkBatch) -> list[str]:
    """Every reason the store would refuse the batch on its own (the store also compares contents with the
    chunks it holds): an empty chunk id or content, an unknown action, an empty user (use None), a score that
    is not a finite number, a context that is not a JSON object, a naive datetime, one chunk id with two
    contents, the same action (fingerprint) twice, and what the two databases would not store alike (a NUL
    character, a value longer than its column)."""
    problems: list[str] = []
    contents: dict[str, str] = {}
    fingerprints: set[str] = set()
    for action in batch.actions:
        what = f"chunk {action.chunk_id!r}"
        if not action.chunk_id.strip():
            problems.append("an action has an empty chunk id")
        if not action.content.strip():
            problems.append(f"{what}: empty content")
        if action.action not in ACTIONS:
            problems.append(f"{what}: action {action.action!r} is not one of {', '.join(ACTIONS)}")
        if action.user_id is not None and not action.user_id.strip():
            problems.append(f"{what}: user_id is empty (use None when unknown)")
        for name in ("relevance_score", "quality_score"):
            value = getattr(action, name)
            if value is not None and not _finite(value):
                problems.append(f"{what}: {name} {value!r} is not a finite number")
        if not isinstance(action.context, Mapping):
            problems.append(f"{what}: context must be a JSON object (a mapping), got {type(action.context)}")
        else:
            try:
                json.dumps(dict(action.context), allow_nan=False)
            except (TypeError, ValueError) as error:
                problems.append(f"{what}: context is not JSON ({error})")
        for name in ("acted_at", "recorded_at"):
            moment = getattr(action, name)
            if moment is not None and moment.tzinfo is None:
                problems.append(f"{what}: {name} has no time zone (use UTC)")
        problems += text_problems(
            chunk_actions,
            {"chunk_id": action.chunk_id, "content": action.content, "user_id": action.user_id},
            what=what,
        )
        content = normalise_content(action.content)
        earlier = contents.setdefault(action.chunk_id, content)
        if earlier != content:
            problems.append(
                f"{what}: two different contents in one batch ({shorten(earlier)!r} and {shorten(content)!r})"
            )
        fingerprint = action.fingerprint
        if fingerprint in fingerprints:
            problems.append(
                f"{what}: the same action ({action.action} by {action.user_id}) twice in one batch"
            )
        fingerprints.add(fingerprint)
    return problems
