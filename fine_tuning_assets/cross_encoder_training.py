"""Fine-tune a sentence-transformers cross-encoder on labelled pairs.

The cross-encoder starts from the base model's transformer weights with a fresh one-logit classification
head (``num_labels=1``) and is trained with binary cross-entropy by ``CrossEncoderTrainer``; the best
weights by validation loss are saved, as safetensors (see :func:`~fine_tuning_assets.fine_tuning.train_with_early_stopping`).

Example (slow: it trains):
    >>> from fine_tuning_assets.pair_examples import PairExample
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

from fine_tuning_assets.base_model import ModelLoadError, quiet_transformers, resolve_base_model
from fine_tuning_assets.fine_tuning import (
    FineTuningConfig,
    ProgressFn,
    TrainingResult,
    check_splits,
    evaluation_steps,
    pair_dataset,
    train_with_early_stopping,
    training_arguments,
)
from fine_tuning_assets.pair_examples import PairExample


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
    eval_steps = evaluation_steps(len(train), config)
    say = progress or (lambda _message: None)
    say(
        f"training a cross-encoder from {base_path} on {len(train)} pairs ({config.epochs} epochs, "
        f"batch {config.batch_size}, learning rate {config.learning_rate:g}), validating every "
        f"{eval_steps} steps on {len(validation)} pairs"
    )

    def make_trainer(scratch: str, callbacks: list) -> CrossEncoderTrainer:
        return CrossEncoderTrainer(
            model=model,
            args=training_arguments(
                CrossEncoderTrainingArguments, config, output_dir=scratch, eval_steps=eval_steps
            ),
            train_dataset=pair_dataset(train),
            eval_dataset=pair_dataset(validation),
            loss=BinaryCrossEntropyLoss(model),
            callbacks=callbacks,
        )

    result = train_with_early_stopping(
        make_trainer,
        module=model.model,
        train_pairs=len(train),
        validation_pairs=len(validation),
        config=config,
        deadline=deadline,
        progress=progress,
    )
    model.save_pretrained(str(output_dir), safe_serialization=True)
    return result
