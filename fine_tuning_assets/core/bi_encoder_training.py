"""Fine-tune the base bi-encoder contrastively on labelled pairs; the model scores a pair by cosine.

``OnlineContrastiveLoss`` pulls the embeddings of merged pairs together and pushes kept-apart pairs beyond
a cosine-distance margin, learning from the hard pairs of each batch (merges that are still far apart,
near-misses that are still close): exactly the reviewers' near-duplicates. The best weights by validation
loss are saved (see :func:`~fine_tuning_assets.core.fine_tuning.train_with_early_stopping`).

Example (slow: it trains):
    >>> from fine_tuning_assets.tasks.dedup.examples import PairExample
    >>> def pair(a, b, label):
    ...     return PairExample(a, b, a, b, label, "approved_selected", None, None, None)
    >>> rows = [pair("Coffee raises alertness.", "Caffeine makes you alert.", 1),
    ...         pair("Coffee raises alertness.", "Statins lower LDL.", 0)] * 8
    >>> import tempfile
    >>> result = train_bi_encoder(rows, rows[:4], base_model=None,  # doctest: +SKIP
    ...                           config=FineTuningConfig(epochs=1), output_dir=tempfile.mkdtemp())
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fine_tuning_assets.core.base_model import load_sentence_transformer, resolve_base_model
from fine_tuning_assets.core.fine_tuning import (
    FineTuningConfig,
    ProgressFn,
    TrainingResult,
    check_splits,
    fine_tune,
)
from fine_tuning_assets.tasks.dedup.examples import PairExample

#: Cosine distance beyond which a kept-apart pair no longer adds to the loss.
CONTRASTIVE_MARGIN = 0.5


def train_bi_encoder(
    train: Sequence[PairExample],
    validation: Sequence[PairExample] | None,
    *,
    base_model: str | None,
    config: FineTuningConfig,
    output_dir: str | Path,
    progress: ProgressFn | None = None,
    deadline: float | None = None,
) -> TrainingResult:
    """Fine-tune the base bi-encoder with ``OnlineContrastiveLoss`` and save the best weights."""
    import torch
    from sentence_transformers.sentence_transformer import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import (
        OnlineContrastiveLoss,
        SiameseDistanceMetric,
    )

    check_splits(train, validation)
    base_path = resolve_base_model(base_model)
    torch.manual_seed(config.seed)
    model = load_sentence_transformer(base_path)
    model.max_seq_length = config.max_seq_length
    loss = OnlineContrastiveLoss(
        model, distance_metric=SiameseDistanceMetric.COSINE_DISTANCE, margin=CONTRASTIVE_MARGIN
    )
    return fine_tune(
        model,
        module=model,
        description=f"a bi-encoder from {base_path} with OnlineContrastiveLoss",
        trainer_class=SentenceTransformerTrainer,
        arguments_class=SentenceTransformerTrainingArguments,
        loss=loss,
        label_type=int,
        train=train,
        validation=validation,
        config=config,
        output_dir=output_dir,
        deadline=deadline,
        progress=progress,
    )
