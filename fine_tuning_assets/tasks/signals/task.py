"""The signals task: what readers saved, snipped or skipped of the content chunks a system surfaced → a
classifier of "worth saving" that ranks chunks better than the surfacing system's own score.

:data:`SIGNALS` is the task object ``defs/`` turns into the Dagster chain (``signals_feedback →
signals_training_set → signals_candidate_model → signals_evaluation → signals_active_model``); the work is
:class:`~fine_tuning_assets.classifiers.task.ClassificationTask`'s. Its primary metric is the average
precision of ``saved``; the SetFit-style recipes are the contrastive embedding fine-tune the signals team
asked for (saved and skipped chunks pulled apart), and the recipe table says whether it ranks better.

Example:
    >>> SIGNALS.name, SIGNALS.positive_label, SIGNALS.primary.selection_metric
    ('signals', 'saved', 'average_precision')
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fine_tuning_assets.classifiers.examples import TextExample
from fine_tuning_assets.classifiers.recipes import FieldSpec
from fine_tuning_assets.classifiers.task import ClassificationTask
from fine_tuning_assets.tasks.signals.examples import ChunkExample, agreement_report, chunk_examples

#: The field the classifier predicts, and its labels (saved: the readers' majority saved or snipped it).
FIELD = "action"
SAVED, SKIPPED = "saved", "skipped"

SYSTEM_MESSAGE = (
    "You decide whether a reader would save a chunk of a podcast transcript that a system surfaces to them. "
    'Answer with a JSON object {"saved": true} or {"saved": false}.'
)


def source_of(context: Mapping[str, Any]) -> str | None:
    """The split group of a chunk: its episode (within its podcast), else its podcast, else none. Chunks of one
    episode share speakers and phrasing, so an episode is never on two sides of the split."""
    podcast, episode = context.get("podcast"), context.get("episode")
    if episode is not None and str(episode).strip():
        return f"episode:{str(podcast or '').strip()}/{str(episode).strip()}"
    if podcast is not None and str(podcast).strip():
        return f"podcast:{str(podcast).strip()}"
    return None


def chunk_example(example: ChunkExample) -> TextExample:
    return TextExample(
        id=example.chunk_id,
        text=example.content,
        labels={FIELD: SAVED if example.label else SKIPPED},
        group=source_of(example.context),
        reference_score=example.relevance_score,
        details={
            "votes_positive": example.votes_positive,
            "votes_negative": example.votes_negative,
            "agreement": round(example.agreement, 4),
            "quality_score": example.quality_score,
            "context": dict(example.context),
        },
    )


class SignalsTask(ClassificationTask):
    """See the module docstring."""

    name = "signals"
    description = "readers' saves, snips and skips of the content chunks surfaced to them"
    positive_label = SAVED
    fields = (FieldSpec(FIELD, selection_metric="average_precision", positive_label=SAVED),)
    reference_name = "the surfacing system's relevance score"

    def store(self, engine: Any) -> Any:
        from fine_tuning_assets.tasks.signals.store import SignalsStore

        return SignalsStore(engine)

    def examples_from_store(
        self, engine: Any, *, recorded_through: datetime | None
    ) -> tuple[list[TextExample], dict[str, Any]]:
        chunks = chunk_examples(self.store(engine).snapshot(recorded_through=recorded_through))
        agreement = agreement_report(chunks)
        disagreements = [
            {
                "chunk": c.chunk_id,
                "saved or snipped": c.votes_positive,
                "skipped": c.votes_negative,
                "label": SAVED if c.label else SKIPPED,
            }
            for c in chunks
            if c.votes_positive and c.votes_negative
        ]
        return [chunk_example(c) for c in chunks], {"agreement": agreement, "conflicts": disagreements}

    def known_labels(self, engine: Any) -> dict[str, list[str]]:
        return {FIELD: [SAVED, SKIPPED]}

    def zero_shot_prompts(self, field_name: str, labels: Sequence[str]) -> dict[str, str]:
        prompts = {
            SAVED: "a specific, insightful passage with concrete advice worth saving",
            SKIPPED: "filler, small talk, an introduction or an advertisement",
        }
        return {lab: prompts.get(lab, lab) for lab in labels}

    def openai_chat_example(self, example: TextExample) -> dict[str, Any]:
        return {
            "messages": [
                {"role": "system", "content": SYSTEM_MESSAGE},
                {"role": "user", "content": example.text},
                {"role": "assistant", "content": json.dumps({"saved": example.labels.get(FIELD) == SAVED})},
            ]
        }


SIGNALS = SignalsTask()
