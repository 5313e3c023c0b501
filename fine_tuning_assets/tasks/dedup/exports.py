"""Export labelled pairs as OpenAI chat fine-tuning JSONL, JSON records, or CSV.

Example:
    >>> from fine_tuning_assets.tasks.dedup.examples import PairExample
    >>> e = PairExample("a", "b", "Coffee raises alertness.", "Caffeine makes you alert.", 1,
    ...                 "approved_selected", "c1", None, 0.91, {"source": "PubMed 1"}, {})
    >>> record = openai_chat_record(e)
    >>> record["messages"][2]
    {'role': 'assistant', 'content': 'MERGE'}
    >>> json_record(e)["should_merge"]
    True
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from fine_tuning_assets.tasks.dedup.examples import PairExample

SYSTEM_PROMPT = (
    "You are an expert at determining if two insights express the same idea, even if worded differently."
)
MERGE = "MERGE"
DONT_MERGE = "DON'T MERGE"
EXPORT_FORMATS: tuple[str, ...] = ("openai_jsonl", "json", "csv")


def _metadata(example: PairExample) -> dict[str, Any]:
    return {"insight1": example.metadata_a, "insight2": example.metadata_b}


def openai_chat_record(example: PairExample) -> dict[str, Any]:
    """One OpenAI chat fine-tuning example: system, user (the two insights) and assistant (the label)."""
    similarity = "unknown" if example.similarity is None else f"{example.similarity:.3f}"
    user = (
        f"Insight 1: {example.text_a}\n"
        f"Insight 2: {example.text_b}\n"
        f"Similarity Score: {similarity}\n"
        f"Metadata: {json.dumps(_metadata(example), sort_keys=True, ensure_ascii=False)}"
    )
    return {
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user},
            {"role": "assistant", "content": MERGE if example.label == 1 else DONT_MERGE},
        ]
    }


def json_record(example: PairExample) -> dict[str, Any]:
    return {
        "insight1": example.text_a,
        "insight2": example.text_b,
        "similarity": example.similarity,
        "should_merge": example.label == 1,
        "metadata": {
            **_metadata(example),
            "insight1_id": example.insight_a_id,
            "insight2_id": example.insight_b_id,
            "cluster_id": example.cluster_id,
            "origin": example.origin,
            "split": example.split,
        },
    }


def export_counts(examples: Sequence[PairExample]) -> dict[str, Any]:
    """Counts by label, split and origin."""
    return {
        "total": len(examples),
        "merge": sum(e.label == 1 for e in examples),
        "dont_merge": sum(e.label == 0 for e in examples),
        "by_split": dict(sorted(Counter(e.split or "unsplit" for e in examples).items())),
        "by_origin": dict(sorted(Counter(e.origin for e in examples).items())),
    }


def write_export(examples: Iterable[PairExample], path: Path, *, export_format: str) -> Path:
    """Write ``examples`` to ``path`` in ``export_format`` (one of :data:`EXPORT_FORMATS`)."""
    examples = list(examples)
    path.parent.mkdir(parents=True, exist_ok=True)
    if export_format == "openai_jsonl":
        with path.open("w", encoding="utf-8") as stream:
            for example in examples:
                stream.write(json.dumps(openai_chat_record(example), ensure_ascii=False) + "\n")
    elif export_format == "json":
        payload = {"counts": export_counts(examples), "records": [json_record(e) for e in examples]}
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    elif export_format == "csv":
        frame = pd.DataFrame([e.to_record() for e in examples])
        for column in ("metadata_a", "metadata_b"):
            if column in frame:
                frame[column] = frame[column].map(lambda m: json.dumps(m, sort_keys=True))
        frame.to_csv(path, index=False)
    else:
        raise ValueError(f"unknown export format {export_format!r}; use one of {', '.join(EXPORT_FORMATS)}")
    return path
