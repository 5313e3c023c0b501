"""The triage task: a support team's corrections of an AI's triage of app reviews → a classifier per field
(category, urgency, topic) that beats the AI it corrects.

:data:`TRIAGE` is the task object ``defs/`` turns into the Dagster chain (``triage_feedback →
triage_training_set → triage_candidate_model → triage_evaluation → triage_active_model``); the chain's
work is :class:`~fine_tuning_assets.classifiers.task.ClassificationTask`'s, this module says what triage is.

Example:
    >>> TRIAGE.name, [f.name for f in TRIAGE.fields], TRIAGE.reference_name
    ('triage', ['category', 'urgency', 'topic'], 'the original AI')
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fine_tuning_assets.classifiers.examples import TextExample
from fine_tuning_assets.classifiers.recipes import FieldSpec
from fine_tuning_assets.classifiers.task import ClassificationTask
from fine_tuning_assets.tasks.triage.records import SUMMARY, TRIAGE_FIELDS, TriageCorrection

#: The system message of every OpenAI chat example: it names the job.
SYSTEM_MESSAGE = (
    "You triage app reviews for a support team. Answer with a JSON object with the keys category, urgency, "
    "topic and summary: the review's category, how urgent it is, its topic, and a one-sentence summary."
)


def review_tags(rating: float | None) -> tuple[str, ...]:
    """What the lexical features see of a review besides its text: its star rating (the app is the split's
    group, not a feature: a new app must be triaged as well as a known one)."""
    return (f"rating={rating:g}",) if rating is not None else ()


def review_example(correction: TriageCorrection) -> TextExample:
    return TextExample(
        id=correction.review_id,
        text=correction.text,
        labels={f: correction.corrected[f] for f in TRIAGE_FIELDS if correction.corrected.get(f) is not None},
        group=f"app:{correction.app}" if correction.app else None,
        tags=review_tags(correction.rating),
        reference={
            f: correction.original[f] for f in TRIAGE_FIELDS if correction.original.get(f) is not None
        },
        details={
            "app": correction.app,
            "rating": correction.rating,
            "summary": correction.corrected.get(SUMMARY),
            "original_summary": correction.original.get(SUMMARY),
            "corrected_by": correction.corrected_by,
        },
    )


def latest_per_review(
    corrections: Sequence[TriageCorrection],
) -> tuple[list[TriageCorrection], list[dict[str, Any]]]:
    """One correction per review, the latest recorded (the snapshot is oldest first); the reviews whose
    corrections disagree, with what was kept."""
    by_review: dict[str, list[TriageCorrection]] = {}
    for c in corrections:
        by_review.setdefault(c.review_id, []).append(c)
    kept, conflicts = [], []
    for review_id, rows in by_review.items():
        latest = rows[-1]
        kept.append(latest)
        seen = {json.dumps({f: r.corrected.get(f) for f in TRIAGE_FIELDS}, sort_keys=True) for r in rows}
        if len(seen) > 1:
            conflicts.append(
                {
                    "review": review_id,
                    "decisions": len(rows),
                    "kept": json.dumps({f: latest.corrected.get(f) for f in TRIAGE_FIELDS}),
                }
            )
    return kept, conflicts


class TriageTask(ClassificationTask):
    """See the module docstring."""

    name = "triage"
    description = (
        "a support team's corrections of an AI's triage (category, urgency, topic, summary) of app reviews"
    )
    # Triage has no "yes" label: live precision is not defined for it (live accuracy is).
    positive_label = ""
    fields = tuple(FieldSpec(f) for f in TRIAGE_FIELDS)
    reference_name = "the original AI"

    def store(self, engine: Any) -> Any:
        from fine_tuning_assets.tasks.triage.store import TriageStore

        return TriageStore(engine)

    def examples_from_store(
        self, engine: Any, *, recorded_through: datetime | None
    ) -> tuple[list[TextExample], dict[str, Any]]:
        corrections, conflicts = latest_per_review(
            self.store(engine).snapshot(recorded_through=recorded_through)
        )
        examples = [review_example(c) for c in corrections]
        with_original = sum(1 for c in corrections if c.has_original())
        confirmations = {f: sum(1 for c in corrections if c.confirmed(f) is True) for f in TRIAGE_FIELDS}
        return examples, {
            "reviews": len(examples),
            "with_original_triage": with_original,
            "confirmations": confirmations,
            "summaries_edited": sum(
                1
                for c in corrections
                if c.original.get(SUMMARY)
                and c.corrected.get(SUMMARY)
                and c.original[SUMMARY] != c.corrected[SUMMARY]
            ),
            "conflicts": conflicts,
        }

    def zero_shot_prompts(self, field_name: str, labels: Sequence[str]) -> dict[str, str]:
        words = {lab: lab.lower().replace("_", " ") for lab in labels}
        if field_name == "urgency":
            return {lab: f"an app review of {w} urgency" for lab, w in words.items()}
        if field_name == "topic":
            return {lab: f"an app review about {w}" for lab, w in words.items()}
        return {lab: f"an app review: {w}" for lab, w in words.items()}

    def openai_chat_example(self, example: TextExample) -> dict[str, Any]:
        details = example.details
        header = ", ".join(
            part
            for part in (
                f"app: {details['app']}" if details.get("app") else "",
                f"rating: {details['rating']:g}" if details.get("rating") is not None else "",
            )
            if part
        )
        answer = {**{f: example.labels.get(f) for f in TRIAGE_FIELDS}, SUMMARY: details.get("summary")}
        return {
            "messages": [
                {"role": "system", "content": SYSTEM_MESSAGE},
                {"role": "user", "content": (f"({header})\n" if header else "") + example.text},
                {"role": "assistant", "content": json.dumps(answer, ensure_ascii=False)},
            ]
        }


TRIAGE = TriageTask()
