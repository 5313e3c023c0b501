"""The artifact store: model versions and training sets as directories with a manifest.

Everything is written to a temporary directory beside its destination and moved into place in one rename,
so a crash never leaves a half-written artifact. The manifest lists every file's sha256; :func:`verify`
refuses a directory whose files are missing or changed.

Example:
    >>> import tempfile
    >>> store = ArtifactStore(tempfile.mkdtemp())
    >>> path = store.write_directory("models/dedup/v1", lambda d: (d / "weights.txt").write_text("w"),
    ...                              manifest={"kind": "example"})
    >>> verify(path)["kind"]
    'example'
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"


class ArtifactError(RuntimeError):
    """An artifact is missing, incomplete or does not match its manifest."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json_atomic(path: Path, data: Any) -> Path:
    """Write JSON to ``path`` through a temporary file in the same folder and one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2, sort_keys=True, default=str)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def verify(directory: str | Path) -> dict[str, Any]:
    """Check an artifact directory against its manifest; returns the manifest."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(
            f"{directory}: no {MANIFEST}; the artifact is missing or was not written completely"
        )
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    problems = []
    for name, expected in manifest.get("files", {}).items():
        file = directory / name
        if not file.is_file():
            problems.append(f"{name} is missing")
        elif sha256_of(file) != expected:
            problems.append(f"{name} does not match its sha256 in the manifest")
    if problems:
        raise ArtifactError(f"{directory}: " + "; ".join(problems))
    return manifest


class ArtifactStore:
    """Directories under a local root (``$FTA_HOME/artifacts`` by default)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, relative: str) -> Path:
        return self.root / relative

    def write_directory(
        self, relative: str, write: Callable[[Path], None], *, manifest: dict[str, Any]
    ) -> Path:
        """Call ``write(tmp_dir)``, add ``manifest.json`` (with each file's sha256) and move it into place.

        Refuses to overwrite an existing artifact: versions are immutable.
        """
        destination = self.path(relative)
        if destination.exists():
            raise ArtifactError(f"{destination} already exists; artifact versions are never overwritten")
        destination.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.tmp-"))
        try:
            write(staging)
            files = {
                str(file.relative_to(staging)): sha256_of(file)
                for file in sorted(staging.rglob("*"))
                if file.is_file() and file.name != MANIFEST
            }
            write_json_atomic(staging / MANIFEST, {**manifest, "files": files})
            os.rename(staging, destination)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return destination
