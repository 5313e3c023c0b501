"""Fine-tune a sentence-transformers cross-encoder on labelled pairs.

The cross-encoder starts from the base model's transformer weights with a fresh one-logit classification
head (``num_labels=1``) and is trained with binary cross-entropy by ``CrossEncoderTrainer``; the best
weights by validation loss are saved, as safetensors (see :func:`~fine_tuning_assets.core.fine_tuning.train_with_early_stopping`).

Example (slow: it trains):
    >>> from fine_tuning_assets.tasks.dedup.examples import PairExample
    >>> def pair(a, b, label):
    ...     return PairExample(a, b, a, b, label, "approved_selected", None, None, None)
    >>> rows = [pair("Coffee raises alertness.", "Caffeine makes you alert.", 1),
    ...         pair("Coffee raises alertness.", "Statins lower LDL.", 0)] * 8
    >>> import tempfile
    >>> result = train_cross_encoder(rows, rows[:4], base_model=None,  # doctest: +SKIP
    ...                              config=FineTuningConfig(epochs=1), output_dir=tempfile.mkdtemp())
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fine_tuning_assets.core.base_model import ModelLoadError, quiet_transformers, resolve_base_model
from fine_tuning_assets.core.fine_tuning import (
    FineTuningConfig,
    ProgressFn,
    TrainingResult,
    check_splits,
    fine_tune,
)
from fine_tuning_assets.tasks.dedup.examples import PairExample


def train_cross_encoder(
    train: Sequence[PairExample],
    validation: Sequence[PairExample],
    *,
    base_model: str | None,
    config: FineTuningConfig,
    output_dir: str | Path,
    progress: ProgressFn | None = None,
    deadline: float | None = None,
) -> TrainingResult:
    """Fine-tune a cross-encoder and save the best weights (safetensors) into ``output_dir``."""
    import torch
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    check_splits(train, validation)
    quiet_transformers()
    base_path = resolve_base_model(base_model)
    # The fresh head's initial weights come from the global torch generator.
    torch.manual_seed(config.seed)
    try:
        model = CrossEncoder(base_path, num_labels=1, max_length=config.max_seq_length, device="cpu")
    except Exception as error:
        raise ModelLoadError(f"cannot load base model {base_path!r} as a cross-encoder: {error}") from error
    return fine_tune(
        model,
        module=model.model,
        description=f"a cross-encoder from {base_path}",
        trainer_class=CrossEncoderTrainer,
        arguments_class=CrossEncoderTrainingArguments,
        loss=BinaryCrossEntropyLoss(model),
        label_type=float,
        train=train,
        validation=validation,
        config=config,
        output_dir=output_dir,
        deadline=deadline,
        progress=progress,
    )
