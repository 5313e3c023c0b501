"""Fine-tune the base bi-encoder (a sentence-transformers ``SentenceTransformer``) on a task's examples.

The task brings the examples as a ``datasets.Dataset`` and the loss that reads its columns: dedup trains
labelled pairs with ``OnlineContrastiveLoss``, retrieval trains (query, positive, negative) tuples with
``MultipleNegativesRankingLoss``. Time budget, early stopping, progress and the safetensors output are the
shared loop's (:func:`~fine_tuning_assets.core.fine_tuning.fine_tune`).

Example (slow: it trains):
    >>> from datasets import Dataset
    >>> from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    >>> pairs = Dataset.from_dict({"anchor": ["coffee and alertness"] * 8,
    ...                            "positive": ["Caffeine makes you alert."] * 8})
    >>> import tempfile
    >>> result = train_bi_encoder(pairs, None, base_model=None, loss=MultipleNegativesRankingLoss,  # doctest: +SKIP
    ...                           config=FineTuningConfig(epochs=1), output_dir=tempfile.mkdtemp())
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fine_tuning_assets.core.base_model import load_sentence_transformer, resolve_base_model
from fine_tuning_assets.core.fine_tuning import FineTuningConfig, ProgressFn, TrainingResult, fine_tune


def train_bi_encoder(
    train_dataset: Any,
    eval_dataset: Any | None,
    *,
    loss: Callable[[Any], Any],
    base_model: str | None,
    config: FineTuningConfig,
    output_dir: str | Path,
    progress: ProgressFn | None = None,
    deadline: float | None = None,
    arguments: dict[str, Any] | None = None,
) -> TrainingResult:
    """Fine-tune the base bi-encoder with ``loss(model)`` on ``train_dataset`` (validating on
    ``eval_dataset``, or none: fixed epochs, final weights) and save the best weights into ``output_dir``.
    ``arguments`` adds trainer arguments (e.g. ``batch_sampler``)."""
    import torch
    from sentence_transformers.sentence_transformer import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )

    base_path = resolve_base_model(base_model)
    torch.manual_seed(config.seed)
    model = load_sentence_transformer(base_path)
    model.max_seq_length = config.max_seq_length
    built_loss = loss(model)
    return fine_tune(
        model,
        module=model,
        description=f"a bi-encoder from {base_path} with {type(built_loss).__name__}",
        trainer_class=SentenceTransformerTrainer,
        arguments_class=SentenceTransformerTrainingArguments,
        loss=built_loss,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        config=config,
        output_dir=output_dir,
        deadline=deadline,
        progress=progress,
        arguments=arguments,
    )
