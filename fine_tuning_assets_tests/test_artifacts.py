from __future__ import annotations

import pytest

from fine_tuning_assets.core.artifacts import ArtifactError, ArtifactStore, verify, write_json_atomic


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    store = ArtifactStore(tmp_path)

    def crash(directory):
        (directory / "half.bin").write_bytes(b"x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        store.write_directory("models/dedup/v1", crash, manifest={})
    assert not (tmp_path / "models" / "dedup" / "v1").exists()
    assert list((tmp_path / "models" / "dedup").iterdir()) == []


def test_versions_are_never_overwritten(tmp_path):
    store = ArtifactStore(tmp_path)
    store.write_directory("v1", lambda d: (d / "a").write_text("1"), manifest={})
    with pytest.raises(ArtifactError, match="never overwritten"):
        store.write_directory("v1", lambda d: (d / "a").write_text("2"), manifest={})
    assert (tmp_path / "v1" / "a").read_text() == "1"


def test_verify_detects_missing_and_changed_files(tmp_path):
    store = ArtifactStore(tmp_path)
    path = store.write_directory(
        "v1", lambda d: [(d / n).write_text(n) for n in ("a", "b")], manifest={"k": 1}
    )
    assert verify(path)["files"].keys() == {"a", "b"}
    (path / "a").write_text("changed")
    (path / "b").unlink()
    with pytest.raises(ArtifactError, match="a does not match its sha256.*b is missing"):
        verify(path)
    with pytest.raises(ArtifactError, match="no manifest.json"):
        verify(tmp_path / "nothing")


def test_write_json_atomic_replaces_whole_files(tmp_path):
    target = tmp_path / "report.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"a": 2})
    assert target.read_text().strip().endswith("}") and '"a": 2' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
