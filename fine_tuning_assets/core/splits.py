"""Train / validation / test assignment that every task shares: a group's split follows from a hash of its
key, so later decisions never move earlier groups and a retrained model is evaluated on held-out decisions
the model it replaces never trained on.

Example:
    >>> hash_split("how do i export notes", validation_fraction=0.15, test_fraction=0.2, seed=13)
    'train'
    >>> hash_split("how do i export notes", validation_fraction=0.15, test_fraction=0.2, seed=13) == \\
    ...     hash_split("how do i export notes", validation_fraction=0.15, test_fraction=0.2, seed=13)
    True
"""

from __future__ import annotations

import hashlib

SPLITS = ("train", "validation", "test")


def check_fractions(*, validation_fraction: float, test_fraction: float) -> None:
    """Both shares in (0, 1), leaving at least 10% for training."""
    if not 0 < validation_fraction < 1 or not 0 < test_fraction < 1:
        raise ValueError("validation_fraction and test_fraction must be between 0 and 1")
    if validation_fraction + test_fraction >= 0.9:
        raise ValueError("validation_fraction + test_fraction must leave at least 10% for training")


def hash_split(key: str, *, validation_fraction: float, test_fraction: float, seed: int) -> str:
    """The split of the group identified by ``key`` (a normalised text): a uniform draw from its sha256."""
    draw = int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:13], 16) / 16**13
    if draw < test_fraction:
        return "test"
    if draw < test_fraction + validation_fraction:
        return "validation"
    return "train"
