"""The model cache: each task's active model loaded once, swapped when the registry's active version changes.

A serving process asks :meth:`ModelCache.get` for a task's predictor on every request. The cache looks up
the task's active version at most every ``refresh_seconds``; when a promotion or rollback changed it (or the
predictor says its inputs changed, :meth:`Predictor.is_stale`), the new predictor is loaded in a background
thread while the old one keeps answering, and replaces it once loaded — no restart, no request waiting on a
load except the very first. Each loaded model has its own cache of predictions for identical inputs
(:meth:`Loaded.cached`), dropped with the model.

Example:
    >>> active = {"dedup": 1}
    >>> class Echo:
    ...     def __init__(self, version): self.model_version_id, self.model, self.fallback_reason = version, f"v{version}", None
    >>> cache = ModelCache(active_version=active.get, loaders={"dedup": lambda: Echo(active["dedup"])},
    ...                    refresh_seconds=0)
    >>> cache.get("dedup").predictor.model
    'v1'
    >>> active["dedup"] = 2
    >>> _ = cache.get("dedup"); cache.wait_for_reloads()
    >>> cache.get("dedup").predictor.model
    'v2'
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from cachetools import LRUCache

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Predictions kept per loaded model for identical inputs.
DEFAULT_PREDICTION_CACHE_SIZE = 50_000


class Predictor(Protocol):
    """What a task's serving side loads: the model that answers now and, when it is the base model standing
    in for an active version that could not load (or no version is active), why."""

    model: str
    model_version_id: int | None
    fallback_reason: str | None


@dataclass
class Loaded:
    """A loaded predictor, the active version id it was loaded for, and its prediction cache."""

    predictor: Any
    active_version_id: int | None
    loaded_at: float
    load_seconds: float
    cache: LRUCache = field(default_factory=lambda: LRUCache(maxsize=DEFAULT_PREDICTION_CACHE_SIZE))
    cache_hits: int = 0
    #: One prediction at a time per loaded model: the model uses every core for one batch, and its caches
    #: (the prediction cache, the scorers' embedding caches) are not thread-safe.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def cached(self, keys: Sequence[Hashable], compute: Callable[[list[int]], Sequence[T]]) -> list[T]:
        """The value of each key from the prediction cache, computing the missing ones together
        (``compute`` gets their positions in ``keys`` and returns their values in that order), under
        :attr:`lock`."""
        with self.lock:
            return self._cached(keys, compute)

    def _cached(self, keys: Sequence[Hashable], compute: Callable[[list[int]], Sequence[T]]) -> list[T]:
        values: list[Any] = [None] * len(keys)
        missing: list[int] = []
        for index, key in enumerate(keys):
            hit = self.cache.get(key)
            if hit is None:
                missing.append(index)
            else:
                values[index] = hit
        self.cache_hits += len(keys) - len(missing)
        if missing:
            for index, value in zip(missing, compute(missing), strict=True):
                values[index] = value
                self.cache[keys[index]] = value
        return values


class ModelCache:
    """Each task's predictor, loaded once and reloaded when its active version changes (see module doc).

    ``active_version(task)`` returns the id of the task's active version (None when none is); ``loaders``
    load a task's predictor for whatever is active now.
    """

    def __init__(
        self,
        *,
        active_version: Callable[[str], int | None],
        loaders: Mapping[str, Callable[[], Any]],
        refresh_seconds: float = 1.0,
    ) -> None:
        self._active_version = active_version
        self._loaders = dict(loaders)
        self.refresh_seconds = refresh_seconds
        self._loaded: dict[str, Loaded] = {}
        self._checked_at: dict[str, float] = {}
        self._locks = {task: threading.Lock() for task in self._loaders}
        self._reloading: dict[str, threading.Thread] = {}
        self._guard = threading.Lock()

    @property
    def tasks(self) -> list[str]:
        return list(self._loaders)

    def get(self, task: str) -> Loaded:
        """The task's loaded predictor (loading it on first use); starts a reload when the active version
        changed since it was loaded."""
        if task not in self._loaders:
            raise KeyError(f"no task {task!r} (tasks: {', '.join(self._loaders)})")
        loaded = self._loaded.get(task)
        if loaded is None:
            with self._locks[task]:
                loaded = self._loaded.get(task)
                if loaded is None:
                    loaded = self._load(task)
                    self._loaded[task] = loaded
                    self._checked_at[task] = time.monotonic()
            return loaded
        now = time.monotonic()
        if now - self._checked_at.get(task, 0.0) >= self.refresh_seconds:
            self._checked_at[task] = now
            if self._needs_reload(task, loaded):
                self._reload_in_background(task)
        return loaded

    def refresh(self, task: str) -> Loaded:
        """Reload the task's predictor now, in this thread (after a promotion this process made itself)."""
        with self._locks[task]:
            loaded = self._load(task)
            self._loaded[task] = loaded
            self._checked_at[task] = time.monotonic()
        return loaded

    def reload_soon(self, task: str) -> None:
        """Load the task's predictor again in the background (after this process changed the active version);
        the loaded one keeps answering until then."""
        if task in self._loaded:
            self._reload_in_background(task)

    def loaded(self) -> dict[str, Loaded]:
        """What is loaded now, by task (nothing is loaded by asking)."""
        return dict(self._loaded)

    def wait_for_reloads(self, timeout: float | None = None) -> None:
        """Wait for the reloads in progress (tests, and a clean shutdown)."""
        with self._guard:
            threads = list(self._reloading.values())
        for thread in threads:
            thread.join(timeout)

    def _load(self, task: str) -> Loaded:
        active_id = self._active_version(task)
        started = time.monotonic()
        predictor = self._loaders[task]()
        finished = time.monotonic()
        log.info("loaded the %s model %s in %.1fs", task, predictor.model, finished - started)
        return Loaded(predictor, active_id, loaded_at=finished, load_seconds=finished - started)

    def _needs_reload(self, task: str, loaded: Loaded) -> bool:
        try:
            if self._active_version(task) != loaded.active_version_id:
                return True
            is_stale = getattr(loaded.predictor, "is_stale", None)
            return bool(is_stale and is_stale())
        except Exception:  # the registry is briefly unreachable: keep serving what is loaded, say so
            log.exception("could not check the active %s version; serving the loaded model", task)
            return False

    def _reload_in_background(self, task: str) -> None:
        with self._guard:
            running = self._reloading.get(task)
            if running is not None and running.is_alive():
                return

            def reload() -> None:
                try:
                    self.refresh(task)
                except Exception:  # a broken new version: the loaded model keeps serving, the log says why
                    log.exception("reloading the %s model failed; the loaded model keeps serving", task)

            thread = threading.Thread(target=reload, name=f"reload-{task}", daemon=True)
            self._reloading[task] = thread
            thread.start()
