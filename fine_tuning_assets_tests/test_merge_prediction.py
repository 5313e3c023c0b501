from __future__ import annotations

from fine_tuning_assets.evaluation import AUTO_MERGE
from fine_tuning_assets.merge_prediction import predict_merge

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
    registry.transition(version.id, "evaluating", actor="t", reason="r", artifact_path=str(tmp_path / "gone"))
    registry.transition(version.id, "staged", actor="t", reason="r")
    registry.promote(version.id, expected_active_id=None, actor="t", reason="r")
    prediction = predict_merge(*SAME, registry=registry)
    assert prediction.fallback_reason.startswith("the active model dedup v1 (id 1) could not be loaded")
    assert "no manifest.json" in prediction.fallback_reason
    assert prediction.band != AUTO_MERGE


def test_empty_statements_are_refused(registry):
    import pytest

    with pytest.raises(ValueError, match="non-empty"):
        predict_merge(" ", "x", registry=registry)
