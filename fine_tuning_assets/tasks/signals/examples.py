"""From readers' actions to one labelled example per chunk: the majority of its readers' latest actions.

* **One vote per reader**: a reader's *latest* action on a chunk counts (a reader who saved a chunk and later
  skipped it votes "skipped"). Latest means the latest ``acted_at``, else ``recorded_at``; actions with
  neither count as older than timed ones, in the order given. An action without a user is its own vote
  (nothing says two anonymous actions come from one reader).
* **Label**: 1 when more readers saved or snipped the chunk than skipped it; a tie (as many positive as
  negative readers) is labelled 0 — a chunk half its readers skip is not one to surface — and counted in
  :func:`agreement_report`.
* **Agreement**: the share of the chunk's readers who voted with the majority (0.5 for a tie, 1.0 for a
  single reader).
* **Group**: the context's ``podcast``, else its ``episode``, else None: the key a training split keeps
  together, so that near-identical chunks of one show never sit on both sides.
* **Scores and context**: the latest ``relevance_score`` and ``quality_score`` any action gave (None when
  none did), and the actions' contexts merged, later ones over earlier ones.

Example:
    >>> a = ChunkAction("c1", "Batch your email twice a day.", "saved", user_id="ana", relevance_score=0.2)
    >>> b = ChunkAction("c1", "Batch your email twice a day.", "snipped", user_id="bo")
    >>> c = ChunkAction("c1", "Batch your email twice a day.", "skipped", user_id="cy")
    >>> [example] = chunk_examples([a, b, c])
    >>> example.label, example.votes_positive, example.votes_negative, round(example.agreement, 2)
    (1, 2, 1, 0.67)
    >>> agreement_report([example])["multi_user_chunks"]
    1
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fine_tuning_assets.tasks.signals.records import ChunkAction

__all__ = ["ChunkExample", "agreement_report", "chunk_examples", "latest_votes"]

_BEFORE_ANY_TIME = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ChunkExample:
    """One chunk with the label its readers gave it (see the module's docstring for every rule)."""

    chunk_id: str
    content: str
    label: int
    votes_positive: int
    votes_negative: int
    agreement: float
    group: str | None
    relevance_score: float | None
    quality_score: float | None
    context: Mapping[str, Any]

    @property
    def votes(self) -> int:
        return self.votes_positive + self.votes_negative

    @property
    def tie(self) -> bool:
        return self.votes_positive == self.votes_negative


def _when(action: ChunkAction) -> datetime:
    moment = action.acted_at or action.recorded_at
    return moment if moment is not None else _BEFORE_ANY_TIME


def _in_time_order(actions: Sequence[ChunkAction]) -> list[ChunkAction]:
    """The actions oldest first (stable: equal times keep the order given)."""
    return [action for _, _, action in sorted(((_when(a), i, a) for i, a in enumerate(actions)))]


def latest_votes(actions: Sequence[ChunkAction]) -> dict[str, dict[object, ChunkAction]]:
    """Chunk id → voter → the voter's latest action on the chunk. A voter is the user id, or for an action
    without a user, the action's position in ``actions`` (each anonymous action is its own voter)."""
    votes: dict[str, dict[object, ChunkAction]] = {}
    positions = {id(action): index for index, action in enumerate(actions)}
    for action in _in_time_order(actions):
        voter: object = action.user_id if action.user_id is not None else ("anonymous", positions[id(action)])
        votes.setdefault(action.chunk_id, {})[voter] = action
    return votes


def _group(context: Mapping[str, Any]) -> str | None:
    for key in ("podcast", "episode"):
        value = context.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def chunk_examples(actions: Sequence[ChunkAction]) -> list[ChunkExample]:
    """One example per chunk, ordered by chunk id (see the module's docstring for the rules)."""
    ordered = _in_time_order(actions)
    history: dict[str, list[ChunkAction]] = {}
    for action in ordered:
        history.setdefault(action.chunk_id, []).append(action)
    examples: list[ChunkExample] = []
    votes = latest_votes(actions)
    for chunk_id in sorted(history):
        chunk_history = history[chunk_id]
        ballots = list(votes[chunk_id].values())
        positive = sum(1 for action in ballots if action.positive)
        negative = len(ballots) - positive
        context: dict[str, Any] = {}
        relevance = quality = None
        for action in chunk_history:
            context.update(action.context)
            relevance = action.relevance_score if action.relevance_score is not None else relevance
            quality = action.quality_score if action.quality_score is not None else quality
        examples.append(
            ChunkExample(
                chunk_id=chunk_id,
                content=chunk_history[-1].content,
                label=1 if positive > negative else 0,
                votes_positive=positive,
                votes_negative=negative,
                agreement=max(positive, negative) / len(ballots),
                group=_group(context),
                relevance_score=relevance,
                quality_score=quality,
                context=context,
            )
        )
    return examples


def agreement_report(examples: Sequence[ChunkExample]) -> dict[str, Any]:
    """How much readers agree: ``chunks``, ``multi_user_chunks`` (chunks with two or more votes),
    ``mean_agreement`` (over the multi-user chunks; None when there are none), ``unanimous`` (multi-user
    chunks every reader agreed on), ``ties`` (labelled 0) and ``share_positive`` (of all chunks; None when
    there are none)."""
    multi = [example for example in examples if example.votes > 1]
    return {
        "chunks": len(examples),
        "multi_user_chunks": len(multi),
        "mean_agreement": sum(e.agreement for e in multi) / len(multi) if multi else None,
        "unanimous": sum(1 for e in multi if e.agreement == 1.0),
        "ties": sum(1 for e in examples if e.tie),
        "share_positive": sum(e.label for e in examples) / len(examples) if examples else None,
    }
