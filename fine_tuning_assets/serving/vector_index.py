"""An approximate-nearest-neighbour index over the embeddings of many texts, kept on disk and grown
incrementally: the candidates a new text is compared with.

:class:`VectorIndex` wraps a usearch HNSW index (cosine, int8 vectors by default) whose keys are positions in
a list of string ids. It is saved in a folder per encoder (:func:`index_folder`), so a different base model
gets a new index built from scratch, never a mix of two embeddings. Saving writes a new folder and swaps it
in by renames: a crash leaves the previous index, never half of one. ``watermark`` is the caller's note of
how far its source has been indexed (a task syncs from its store from there).

Example:
    >>> import numpy as np, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> index = VectorIndex.open(folder, encoder_name="toy", ndim=3)
    >>> index.add(["a", "b", "c"], np.array([[1, 0, 0], [0, 1, 0], [0.9, 0.1, 0]], dtype=np.float32))
    3
    >>> [(i, round(s, 2)) for i, s in index.search(np.array([1, 0, 0], dtype=np.float32), k=2)]
    [('a', 1.0), ('c', 0.99)]
    >>> index.save(); len(VectorIndex.open(folder, encoder_name="toy", ndim=3))
    3
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from usearch.index import Index

from fine_tuning_assets.core.imports import content_digest

#: HNSW settings: graph degree, and the breadth of the search while adding and while querying.
CONNECTIVITY, EXPANSION_ADD, EXPANSION_SEARCH = 16, 128, 64


def index_folder(root: str | Path, *, name: str, encoder_name: str) -> Path:
    """The folder of the index called ``name`` built with ``encoder_name``'s embeddings."""
    return Path(root) / f"{name}-{content_digest(encoder_name)}"


class VectorIndex:
    """See the module docstring. Thread-safe: adds and searches take one lock."""

    def __init__(
        self,
        folder: Path,
        *,
        encoder_name: str,
        ndim: int,
        dtype: str = "i8",
        index: Index | None = None,
        ids: list[str] | None = None,
        watermark: Any = None,
    ) -> None:
        self.folder, self.encoder_name, self.ndim, self.dtype = Path(folder), encoder_name, ndim, dtype
        self._index = index or Index(
            ndim=ndim,
            metric="cos",
            dtype=dtype,
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )
        self._ids: list[str] = ids or []
        self._position = {id_: i for i, id_ in enumerate(self._ids)}
        self.watermark = watermark
        self._lock = threading.RLock()
        self.unsaved = 0

    # -- opening and saving ----------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: str | Path, *, encoder_name: str, ndim: int, dtype: str = "i8") -> VectorIndex:
        """The index saved in ``folder``, or an empty one when there is none or it was built with another
        encoder, dimension or vector type (then it is rebuilt from the source)."""
        folder = Path(folder)
        current = folder / "current"
        if not current.is_dir():
            # A crash between the two renames of a save leaves the previous index aside: take it back.
            previous = sorted(folder.glob("previous-*"))
            if previous:
                previous[-1].rename(current)
        meta_path = current / "meta.json"
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if (meta["encoder_name"], meta["ndim"], meta["dtype"]) == (encoder_name, ndim, dtype):
                index = Index.restore(str(current / "index.usearch"))
                ids = json.loads((current / "ids.json").read_text(encoding="utf-8"))
                if index is not None and len(index) == len(ids):
                    return cls(
                        folder,
                        encoder_name=encoder_name,
                        ndim=ndim,
                        dtype=dtype,
                        index=index,
                        ids=ids,
                        watermark=meta.get("watermark"),
                    )
        return cls(folder, encoder_name=encoder_name, ndim=ndim, dtype=dtype)

    def save(self) -> None:
        """Write the index to a new folder and swap it in (see the module docstring)."""
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            staging = self.folder / f"staging-{uuid.uuid4().hex}"
            staging.mkdir()
            try:
                self._index.save(str(staging / "index.usearch"))
                (staging / "ids.json").write_text(json.dumps(self._ids), encoding="utf-8")
                meta = {
                    "encoder_name": self.encoder_name,
                    "ndim": self.ndim,
                    "dtype": self.dtype,
                    "size": len(self._ids),
                    "watermark": self.watermark,
                }
                (staging / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
                current = self.folder / "current"
                previous = self.folder / f"previous-{uuid.uuid4().hex}"
                if current.exists():
                    current.rename(previous)
                staging.rename(current)
                shutil.rmtree(previous, ignore_errors=True)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            self.unsaved = 0

    # -- contents --------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, id_: object) -> bool:
        return id_ in self._position

    def memory_bytes(self) -> int:
        """The index's memory use as usearch reports it (vectors and graph)."""
        return int(self._index.memory_usage)

    def add(self, ids: Sequence[str], vectors: np.ndarray, *, threads: int = 0) -> int:
        """Add the vectors of ids not yet indexed (rows of ``vectors``, unit length for cosine); how many."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape != (len(ids), self.ndim):
            raise ValueError(
                f"expected {len(ids)} vectors of dimension {self.ndim}, got shape {vectors.shape}"
            )
        with self._lock:
            fresh = [i for i, id_ in enumerate(ids) if id_ not in self._position]
            seen: set[str] = set()
            fresh = [i for i in fresh if not (ids[i] in seen or seen.add(ids[i]))]
            if not fresh:
                return 0
            start = len(self._ids)
            keys = np.arange(start, start + len(fresh), dtype=np.uint64)
            self._index.add(keys, vectors[fresh], threads=threads)
            for offset, i in enumerate(fresh):
                self._ids.append(ids[i])
                self._position[ids[i]] = start + offset
            self.unsaved += len(fresh)
            return len(fresh)

    def search(self, vector: np.ndarray, *, k: int, exclude: Sequence[str] = ()) -> list[tuple[str, float]]:
        """The ``k`` nearest ids to one vector with their cosine similarity, nearest first; ids in
        ``exclude`` are skipped."""
        with self._lock:
            if not self._ids:
                return []
            wanted = min(k + len(exclude), len(self._ids))
            matches = self._index.search(np.asarray(vector, dtype=np.float32), wanted)
            skip = set(exclude)
            found = []
            for key, distance in zip(matches.keys, matches.distances, strict=True):
                id_ = self._ids[int(key)]
                if id_ not in skip:
                    found.append((id_, float(1.0 - distance)))
            return found[:k]
