"""Fine-tune a sentence-transformers cross-encoder on a task's examples.

The cross-encoder starts from the base model's transformer weights with a fresh one-logit head
(``num_labels=1``); the task brings the examples (a ``datasets.Dataset`` of two texts and a label: a pair and
its merge label, a query and a document's relevance) and the loss (``BinaryCrossEntropyLoss`` by default).
The best weights by validation loss are saved as safetensors through the shared loop
(:func:`~fine_tuning_assets.core.fine_tuning.fine_tune`).

Example (slow: it trains):
    >>> from datasets import Dataset
    >>> rows = Dataset.from_dict({"sentence_a": ["Coffee raises alertness."] * 8,
    ...                           "sentence_b": ["Caffeine makes you alert."] * 8, "label": [1.0] * 8})
    >>> import tempfile
    >>> result = train_cross_encoder(rows, rows, base_model=None,  # doctest: +SKIP
    ...                              config=FineTuningConfig(epochs=1), output_dir=tempfile.mkdtemp())
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fine_tuning_assets.core.base_model import ModelLoadError, quiet_transformers, resolve_base_model
from fine_tuning_assets.core.fine_tuning import FineTuningConfig, ProgressFn, TrainingResult, fine_tune


def train_cross_encoder(
    train_dataset: Any,
    eval_dataset: Any | None,
    *,
    base_model: str | None,
    config: FineTuningConfig,
    output_dir: str | Path,
    loss: Callable[[Any], Any] | None = None,
    progress: ProgressFn | None = None,
    deadline: float | None = None,
) -> TrainingResult:
    """Fine-tune a cross-encoder with ``loss(model)`` (``BinaryCrossEntropyLoss`` when not given) and save the
    best weights (safetensors) into ``output_dir``."""
    import torch
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    quiet_transformers()
    base_path = resolve_base_model(base_model)
    # The fresh head's initial weights come from the global torch generator.
    torch.manual_seed(config.seed)
    try:
        model = CrossEncoder(base_path, num_labels=1, max_length=config.max_seq_length, device="cpu")
    except Exception as error:
        raise ModelLoadError(f"cannot load base model {base_path!r} as a cross-encoder: {error}") from error
    built_loss = (loss or BinaryCrossEntropyLoss)(model)
    return fine_tune(
        model,
        module=model.model,
        description=f"a cross-encoder from {base_path} with {type(built_loss).__name__}",
        trainer_class=CrossEncoderTrainer,
        arguments_class=CrossEncoderTrainingArguments,
        loss=built_loss,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        config=config,
        output_dir=output_dir,
        deadline=deadline,
        progress=progress,
    )
