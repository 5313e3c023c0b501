"""The dedup task's two fine-tunes over the shared loop: labelled pairs as the trainers' datasets.

The bi-encoder learns with ``OnlineContrastiveLoss``: it pulls the embeddings of merged pairs together and
pushes kept-apart pairs beyond a cosine-distance margin, learning from the hard pairs of each batch (merges
that are still far apart, near-misses that are still close): exactly the reviewers' near-duplicates. The
cross-encoder learns the merge label with binary cross-entropy.

Example:
    >>> from fine_tuning_assets.tasks.dedup.examples import PairExample
    >>> rows = [PairExample("a", "b", "a", "b", 1, "approved_selected", None, None, None)]
    >>> pair_dataset(rows).to_dict()
    {'sentence_a': ['a'], 'sentence_b': ['b'], 'label': [1.0]}
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fine_tuning_assets.core import bi_encoder_training, cross_encoder_training
from fine_tuning_assets.core.fine_tuning import FineTuningConfig, ProgressFn, TrainingResult
from fine_tuning_assets.tasks.dedup.examples import PairExample

#: Cosine distance beyond which a kept-apart pair no longer adds to the loss.
CONTRASTIVE_MARGIN = 0.5


def pair_dataset(examples: Sequence[PairExample], *, label_type: type = float):  # -> datasets.Dataset
    """Columns ``sentence_a``, ``sentence_b``, ``label`` as the sentence-transformers trainers take them."""
    from datasets import Dataset

    return Dataset.from_dict(
        {
            "sentence_a": [e.text_a for e in examples],
            "sentence_b": [e.text_b for e in examples],
            "label": [label_type(e.label) for e in examples],
        }
    )


def check_splits(train: Sequence[PairExample], validation: Sequence[PairExample] | None) -> None:
    """Training needs pairs; ``validation=None`` trains without one (fixed epochs, final weights)."""
    if not train or (validation is not None and not validation):
        raise ValueError(
            f"training needs pairs in both splits (train {len(train)}, "
            f"validation {len(validation) if validation is not None else 0})"
        )


def contrastive_loss(model):  # -> OnlineContrastiveLoss
    from sentence_transformers.sentence_transformer.losses import OnlineContrastiveLoss, SiameseDistanceMetric

    return OnlineContrastiveLoss(
        model, distance_metric=SiameseDistanceMetric.COSINE_DISTANCE, margin=CONTRASTIVE_MARGIN
    )


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
    """Fine-tune the base bi-encoder on labelled pairs with ``OnlineContrastiveLoss``."""
    check_splits(train, validation)
    return bi_encoder_training.train_bi_encoder(
        pair_dataset(train, label_type=int),
        pair_dataset(validation, label_type=int) if validation is not None else None,
        loss=contrastive_loss,
        base_model=base_model,
        config=config,
        output_dir=output_dir,
        progress=progress,
        deadline=deadline,
    )


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
    """Fine-tune a cross-encoder on labelled pairs with binary cross-entropy."""
    check_splits(train, validation)
    return cross_encoder_training.train_cross_encoder(
        pair_dataset(train),
        pair_dataset(validation),
        base_model=base_model,
        config=config,
        output_dir=output_dir,
        progress=progress,
        deadline=deadline,
    )
