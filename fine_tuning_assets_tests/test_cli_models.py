"""Promotion, rollback and serving through the CLI when a model's files are broken."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fine_tuning_assets.core.artifacts import ArtifactStore
from fine_tuning_assets.core.database import open_database
from fine_tuning_assets.core.registry import ModelRegistry
from fine_tuning_assets_tests.cli_helpers import refused, run


def versions(home: Path, count: int) -> tuple[ModelRegistry, list[int]]:
    """``count`` staged dedup versions in FTA_HOME's registry, each with a (tiny) artifact and a manifest."""
    registry = ModelRegistry(open_database(f"sqlite:///{home / 'fta.sqlite'}"))
    store = ArtifactStore(home / "artifacts")
    ids = []
    for _ in range(count):
        version = registry.register(
            task="dedup",
            model_kind="pair-model",
            base_model="all-MiniLM-L6-v2",
            dataset_version="ds-1",
            config={},
            actor="test",
        )
        path = store.write_directory(
            f"models/dedup/v{version.version}-id{version.id}",
            lambda d: (d / "w.bin").write_bytes(b"w"),
            manifest={},
        )
        registry.transition(version.id, "evaluating", actor="t", reason="trained", artifact_path=str(path))
        ids.append(registry.transition(version.id, "staged", actor="t", reason="gate passed").id)
    return registry, ids


def test_promote_and_rollback_refuse_a_broken_version_and_serving_says_it_fell_back(tmp_path):
    home = tmp_path / "home"
    registry, (first, second, third) = versions(home, 3)
    assert run(tmp_path, "models", "promote", str(first), home=home).returncode == 0

    shutil.rmtree(registry.get(second).artifact_path)  # the folder is gone
    refused(
        run(tmp_path, "models", "promote", str(second), home=home),
        "dedup v2 (id 2) cannot be made active: its artifact is broken",
        "no manifest.json",
        "promote refused, nothing changed",
    )
    assert registry.active("dedup").id == first and registry.get(second).state == "staged"

    assert run(tmp_path, "models", "promote", str(third), home=home).returncode == 0
    (Path(registry.get(first).artifact_path) / "w.bin").write_bytes(b"damaged")
    refused(
        run(tmp_path, "models", "rollback", str(third), "--reason", "spike", home=home),
        "dedup v1 (id 1) cannot be made active: its artifact is broken",
        "w.bin does not match its sha256",
        "rollback refused, nothing changed",
    )
    assert registry.active("dedup").id == third and registry.get(first).state == "deprecated"
    # A rollback names the version it rolls back; when that one is not active, it says which one is.
    refused(
        run(tmp_path, "models", "rollback", str(first), "--reason", "spike", home=home),
        "dedup v1 (id 1) is not the active dedup version; the active one is dedup v3 (id 3)",
    )

    # The active version cannot be loaded: serving falls back to the base model, visibly.
    fallback = run(tmp_path, "predict-merge", "--json", "Vitamin D helps.", "Vitamin D is good.", home=home)
    assert fallback.returncode == 4
    answer = json.loads(fallback.stdout)
    assert answer["fallback_reason"].startswith("the active model dedup v3 (id 3) could not be loaded")
    assert answer["model_version_id"] is None and answer["band"] != "auto_merge"
    assert "came from the base-model fallback" in fallback.stderr and "--allow-fallback" in fallback.stderr
    allowed = run(
        tmp_path,
        "predict-merge",
        "--json",
        "--allow-fallback",
        "Vitamin D helps.",
        "Vitamin D is good.",
        home=home,
    )
    assert (
        allowed.returncode == 0 and json.loads(allowed.stdout)["fallback_reason"] == answer["fallback_reason"]
    )
