"""Recipe selection, cross-fitted heads, the time budget, and saving and loading a pair model."""

from __future__ import annotations

import doctest
import json
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from fine_tuning_assets.core.artifacts import ArtifactStore
from fine_tuning_assets.core.base_model import ModelLoadError
from fine_tuning_assets.core.fine_tuning import FineTuningConfig
from fine_tuning_assets.tasks.dedup import model as pair_model
from fine_tuning_assets.tasks.dedup import recipes as recipe_search
from fine_tuning_assets.tasks.dedup.examples import PairExample
from fine_tuning_assets.tasks.dedup.model import PAIR_MODEL_FILE, PairModel, StackedLogisticRegression
from fine_tuning_assets.tasks.dedup.recipes import (
    RecipeSearchConfig,
    RecipeSearchError,
    cross_validate_recipes,
    fit_recipe_heads,
    search_recipes,
    select_recipe,
)

RNG = np.random.default_rng(11)


def test_module_doctests_pass():
    assert doctest.testmod(recipe_search).failed == 0
    assert doctest.testmod(pair_model).failed == 0


def synthetic_features(n: int = 300) -> tuple[dict[str, np.ndarray], np.ndarray]:
    labels = np.array([0, 1] * (n // 2))
    return {
        "base_cosine": labels * 0.6 + RNG.normal(0, 0.5, n),  # weak on its own
        "numbers_differ": (1 - labels) * 0.6 + RNG.normal(0, 0.5, n),  # weak, and independent of it
        "bi_encoder_cosine": labels + RNG.normal(0, 0.35, n),  # strong
        "cross_encoder_logit": RNG.normal(0, 1, n),  # learned nothing
    }, labels


def test_the_recipe_with_the_best_out_of_fold_validation_ap_is_selected():
    features, labels = synthetic_features()
    results = fit_recipe_heads(
        features,
        labels,
        recipe_features={
            "bi-encoder": ["bi_encoder_cosine"],
            "cross-encoder": ["cross_encoder_logit"],
            "stacker": ["base_cosine", "numbers_differ"],
        },
    )
    assert select_recipe(results) == "bi-encoder"
    assert results["cross-encoder"].validation_average_precision < 0.65
    # Out-of-fold probabilities come from heads that never saw the pair: they are not the in-sample fit.
    in_sample = results["stacker"].head.predict_proba(features)
    assert not np.allclose(in_sample, results["stacker"].out_of_fold_probabilities)
    # The stacker combines two weak features into a better one than either alone.
    stacker_ap = results["stacker"].validation_average_precision
    assert stacker_ap > max(
        average_precision_score(labels, features["base_cosine"]),
        average_precision_score(labels, -features["numbers_differ"]),
    )
    # With the strong score in the stacker too, the stacker is chosen.
    with_all = fit_recipe_heads(
        features,
        labels,
        recipe_features={
            "bi-encoder": ["bi_encoder_cosine"],
            "stacker": ["base_cosine", "numbers_differ", "bi_encoder_cosine"],
        },
    )
    assert select_recipe(with_all) == "stacker"


def test_a_tie_goes_to_the_earlier_recipe():
    features, labels = synthetic_features()
    same = {
        "bi_encoder_cosine": features["bi_encoder_cosine"],
        "cross_encoder_logit": features["bi_encoder_cosine"],
    }
    results = fit_recipe_heads(
        same,
        labels,
        recipe_features={"cross-encoder": ["cross_encoder_logit"], "bi-encoder": ["bi_encoder_cosine"]},
    )
    assert select_recipe(results) == "bi-encoder"


@pytest.mark.parametrize("calibration", ["platt", "isotonic"])
def test_a_fixed_calibration_method_is_used(calibration):
    features, labels = synthetic_features()
    [result] = fit_recipe_heads(
        features, labels, recipe_features={"bi-encoder": ["bi_encoder_cosine"]}, calibration=calibration
    ).values()
    assert result.calibration_method == calibration
    assert result.head.to_dict()["calibration"]["method"] == calibration


def test_too_few_validation_pairs_of_a_class_is_a_clear_error():
    features = {"bi_encoder_cosine": np.array([0.1, 0.9, 0.2, 0.3])}
    with pytest.raises(RecipeSearchError, match="1 merge and 3 keep-separate pairs"):
        fit_recipe_heads(features, [0, 1, 0, 0], recipe_features={"bi-encoder": ["bi_encoder_cosine"]})


def test_config_rejects_unknown_recipes_and_budgets():
    with pytest.raises(ValueError, match="recipes must be distinct names"):
        RecipeSearchConfig(recipes=("bi-encoder", "gpt"))
    with pytest.raises(ValueError, match="max_train_minutes"):
        RecipeSearchConfig(max_train_minutes=0)
    with pytest.raises(ValueError, match="calibration"):
        RecipeSearchConfig(calibration="beta")


def test_stacker_head_round_trips():
    features, labels = synthetic_features()
    head = recipe_search.fit_stacker(
        features, labels, names=["base_cosine", "bi_encoder_cosine"], regularization=1.0
    )
    restored = pair_model.head_from_dict(json.loads(json.dumps(head.to_dict())))
    assert isinstance(restored, StackedLogisticRegression)
    np.testing.assert_allclose(restored.predict_proba(features), head.predict_proba(features))


# -- with real models (the bundled MiniLM; tiny data) ---------------------------------------------------
def pair(a: str, b: str, label: int) -> PairExample:
    return PairExample(a, b, a, b, label, "approved_selected" if label else "rejected", None, None, None)


DRUGS = ["aspirin", "ibuprofen", "statins", "metformin", "vitamin D", "zinc", "melatonin", "caffeine"]


def examples(offset: int) -> list[PairExample]:
    rows = []
    for i, drug in enumerate(DRUGS):
        dose = 10 * (i + offset + 1)
        rows.append(
            pair(
                f"{drug} at {dose} mg lowers blood pressure.",
                f"Taking {dose} mg of {drug} reduces blood pressure.",
                1,
            )
        )
        rows.append(
            pair(
                f"{drug} at {dose} mg lowers blood pressure.",
                f"{drug} at {dose + 5} mg lowers blood pressure.",
                0,
            )
        )
    return rows


def test_stacker_only_search_saves_a_model_that_loads_and_scores(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    holder = {}

    def write(directory: Path) -> None:
        holder["result"] = search_recipes(
            examples(0),
            examples(3),
            base_model=None,
            config=RecipeSearchConfig(recipes=("stacker",)),
            output_dir=directory,
        )

    path = store.write_directory("models/dedup/v1-id1", write, manifest={"kind": "pair-model"})
    result = holder["result"]
    assert result.selected_recipe == "stacker" and result.training == {}
    spec = json.loads((path / PAIR_MODEL_FILE).read_text())
    assert spec["recipes"]["stacker"]["features"][:3] == ["base_cosine", "bertscore_f1", "tfidf_cosine"]
    assert spec["regime"] == "fixed_split" and spec["tfidf"]["analyzer"] == "char_wb"
    assert len(spec["validation"]["out_of_fold_probabilities"]["stacker"]) == len(examples(3))
    model = PairModel.load(path, name="v1")
    probabilities = model.predict_proba([(e.text_a, e.text_b) for e in examples(6)])
    assert probabilities.shape == (16,) and np.all((probabilities >= 0) & (probabilities <= 1))
    # It learned that a changed dose keeps statements apart.
    assert probabilities[0::2].mean() > probabilities[1::2].mean()
    # A damaged model is a load error naming the problem, never a silent fallback.
    (path / PAIR_MODEL_FILE).write_text("{}")
    with pytest.raises(ModelLoadError, match="cannot load v1"):
        PairModel.load(path, name="v1")


def test_a_fine_tune_stops_when_the_time_budget_is_used_up(tmp_path):
    config = RecipeSearchConfig(
        recipes=("bi-encoder", "stacker"),
        # No early stopping: only the budget can end these 200 steps before they are done.
        bi_encoder=FineTuningConfig(epochs=50, batch_size=4, early_stopping_patience=10_000),
        max_train_minutes=0.05,  # 3 s: enough to start, far too little for 200 steps
    )
    result = search_recipes(examples(0), examples(3), base_model=None, config=config, output_dir=tmp_path)
    bi = result.training["bi-encoder"]
    assert bi.stopped_by_time_budget and bi.steps < 4 * 50
    assert set(result.recipes) == {"bi-encoder", "stacker"}
    assert "bi_encoder_cosine" in result.recipes["stacker"].features


def test_a_setfit_style_fine_tune_without_validation_stops_at_its_deadline_with_its_final_weights(tmp_path):
    from fine_tuning_assets.tasks.dedup.fine_tunes import train_bi_encoder

    config = FineTuningConfig(epochs=50, batch_size=4)
    result = train_bi_encoder(
        examples(0), None, base_model=None, config=config, output_dir=tmp_path, deadline=time.monotonic() + 3
    )
    assert result.stopped_by_time_budget and result.steps < 4 * 50
    assert result.best_validation_loss is None and result.validation_examples == 0
    assert (tmp_path / "model.safetensors").is_file()


def test_small_data_regime_cross_validates_every_pair_by_groups_and_refits_on_all(tmp_path):
    rows = [*examples(0), *examples(3)]
    groups = list(range(len(rows)))
    result = cross_validate_recipes(
        rows,
        groups,
        base_model=None,
        config=RecipeSearchConfig(
            recipes=("cross-encoder", "stacker"), cross_validation_folds=3, cross_validation_repeats=2
        ),
        output_dir=tmp_path,
    )
    spec = json.loads((tmp_path / PAIR_MODEL_FILE).read_text())
    assert spec["regime"] == "cross_validation" and result.selected_recipe == "stacker"
    assert "cross-encoder" in spec["skipped"] and spec["components"] == {}
    assert len(spec["validation"]["out_of_fold_probabilities"]["stacker"]) == len(rows)
    assert sorted(set(spec["cross_validation"]["fold_of_pair"])) == [0, 1, 2]
    assert spec["cross_validation"]["repeats"] == 2 and "base_calibration" in spec
    head = pair_model.head_from_dict(spec["recipes"]["stacker"]["head"])
    assert head.features[:2] == ("base_cosine", "bertscore_f1")  # refitted on every pair, saved to serve
    with pytest.raises(RecipeSearchError, match="too few independent groups"):
        cross_validate_recipes(
            rows,
            [0] * len(rows),
            base_model=None,
            config=RecipeSearchConfig(recipes=("stacker",)),
            output_dir=tmp_path,
        )


def test_a_loaded_base_model_is_reused_only_for_versions_built_on_it(monkeypatch):
    from types import SimpleNamespace

    from fine_tuning_assets.tasks.dedup.model import load_version_model

    calls = []
    monkeypatch.setattr(PairModel, "load", classmethod(lambda cls, path, **options: calls.append(options)))
    base = SimpleNamespace(base_model="all-MiniLM-L6-v2")
    version = SimpleNamespace(artifact_path="/m", label="v1", state="active", base_model="all-MiniLM-L6-v2")
    load_version_model(version, name="v1", base=base)
    other = SimpleNamespace(artifact_path="/m", label="v2", state="active", base_model="/models/e5-small")
    load_version_model(other, name="v2", base=base)
    assert calls[0]["base"] is base and calls[1]["base"] is None
    with pytest.raises(ModelLoadError, match="has no saved model"):
        load_version_model(SimpleNamespace(artifact_path=None, label="v3", state="failed"), name="v3")
