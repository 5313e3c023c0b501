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

import csv
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

MANIFEST = "manifest.json"
#: In the name of a staging folder (``.<name>.tmp-<random>``) that :meth:`ArtifactStore.write_directory`
#: fills and then renames into place.
STAGING_MARK = ".tmp-"


class ArtifactError(RuntimeError):
    """An artifact is missing, incomplete or does not match its manifest."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_text_atomic(path: Path, write: Callable[[TextIO], None], *, newline: str | None = None) -> Path:
    """Call ``write(stream)`` on a temporary file in ``path``'s folder and move it into place in one rename:
    a reader sees the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline=newline) as stream:
            write(stream)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: Path, data: Any) -> Path:
    """Write JSON to ``path`` through a temporary file in the same folder and one rename."""

    def write(stream: TextIO) -> None:
        json.dump(data, stream, indent=2, sort_keys=True, default=str)
        stream.write("\n")

    return write_text_atomic(path, write)


def write_records_atomic(
    path: Path, records: Sequence[Mapping[str, Any]], *, columns: Sequence[str], file_format: str
) -> Path:
    """Write ``records`` as ``csv`` (a header of ``columns``, RFC 4180) or ``jsonl`` (one object per line),
    all at once (see :func:`write_text_atomic`)."""
    if file_format not in ("csv", "jsonl"):
        raise ValueError(f"file_format must be csv or jsonl, not {file_format!r}")

    def write(stream: TextIO) -> None:
        if file_format == "csv":
            writer = csv.DictWriter(stream, fieldnames=list(columns), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(records)
        else:
            for record in records:
                stream.write(json.dumps({c: record.get(c) for c in columns}, ensure_ascii=False) + "\n")

    return write_text_atomic(path, write, newline="" if file_format == "csv" else None)


def write_jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write ``rows`` as JSON lines (each row as it is), creating the parent folder: for the files of an
    artifact being written in :meth:`ArtifactStore.write_directory`'s temporary folder, which makes the
    whole folder appear at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as stream:
        for row in rows:
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")


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

    def staging_leftovers(self, *, older_than: float | None = None) -> list[Path]:
        """Staging folders (and half-written JSON temp files) a crashed write left behind, last modified
        before ``older_than`` (epoch seconds; None: all of them). A write in progress has one too: remove
        only those older than every run that is still alive."""
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.rglob(".*")):
            staging = (path.is_dir() and STAGING_MARK in path.name) or (
                path.is_file() and path.name.endswith(".tmp")
            )
            if not staging or any(STAGING_MARK in part for part in path.relative_to(self.root).parts[:-1]):
                continue
            try:
                modified = path.stat().st_mtime
            except FileNotFoundError:  # a write just finished and moved it
                continue
            if older_than is None or modified < older_than:
                found.append(path)
        return found

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
