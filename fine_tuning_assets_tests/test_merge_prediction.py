from __future__ import annotations

import shutil

import pytest

from fine_tuning_assets.core.artifacts import ArtifactStore
from fine_tuning_assets.core.metrics import AUTO_MERGE
from fine_tuning_assets.tasks.dedup.prediction import MergePredictor, predict_merge

SAME = (
    "Vitamin D lowers fracture risk in adults over 65.",
    "Vitamin D lowers fracture risk in adults over 65.",
)


def test_without_an_active_model_the_base_similarity_decides_and_says_so(registry):
    prediction = predict_merge(*SAME, registry=registry)
    assert prediction.fallback_reason == "no dedup model is active"
    assert prediction.model == "base all-MiniLM-L6-v2 cosine" and prediction.model_version_id is None
    assert prediction.probability > 0.99
    assert prediction.band != AUTO_MERGE, "a fallback never auto-merges, even identical statements"


def test_an_active_model_whose_files_are_missing_falls_back_and_says_why(registry, tmp_path):
    version = registry.register(
        task="dedup",
        model_kind="cross-encoder",
        base_model="all-MiniLM-L6-v2",
        dataset_version="ds-x",
        config={},
        actor="t",
    )
    path = ArtifactStore(tmp_path).write_directory(
        "v1", lambda d: (d / "w.bin").write_bytes(b"w"), manifest={}
    )
    registry.transition(version.id, "evaluating", actor="t", reason="r", artifact_path=str(path))
    registry.transition(version.id, "staged", actor="t", reason="r")
    registry.promote(version.id, expected_active_id=None, actor="t", reason="r")
    shutil.rmtree(path)  # gone after it was promoted
    prediction = predict_merge(*SAME, registry=registry)
    assert prediction.fallback_reason.startswith("the active model dedup v1 (id 1) could not be loaded")
    assert "no manifest.json" in prediction.fallback_reason
    assert prediction.band != AUTO_MERGE


def test_empty_statements_are_refused(registry):
    with pytest.raises(ValueError, match="non-empty"):
        predict_merge(" ", "x", registry=registry)


def test_a_predictor_loaded_once_scores_a_batch_as_single_predictions_do(registry):
    pairs = [
        SAME,
        ("Statins lower LDL cholesterol.", "Statin therapy cuts LDL."),
        ("Statins lower LDL cholesterol.", "Aspirin thins the blood."),
    ]
    predictor = MergePredictor.load(registry=registry)
    done: list[int] = []
    batch = predictor.predict(pairs, batch_size=2, progress=done.append)
    assert done == [2, 1]
    singles = [predict_merge(a, b, registry=registry) for a, b in pairs]
    assert [p.probability for p in batch] == pytest.approx([p.probability for p in singles], abs=1e-6)
    assert [p.band for p in batch] == [p.band for p in singles]
    assert {p.fallback_reason for p in batch} == {"no dedup model is active"}
    with pytest.raises(ValueError, match="pair 2: both statements must be non-empty"):
        predictor.predict([SAME, ("x", " ")])
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        predictor.predict([SAME], batch_size=0)
