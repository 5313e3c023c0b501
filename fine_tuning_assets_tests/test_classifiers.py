"""The shared classifier machinery: split, lexical features, heads saved without pickle, the search (lexical
recipes only: no model is loaded), metrics, the bootstrap behind the gate, confidence bands."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn.metrics import f1_score

from fine_tuning_assets.classifiers.evaluation import (
    _macro_f1_from_codes,
    band_coverage,
    bootstrap_label_metric_difference,
    check_band,
    field_metrics,
    ranking_metrics,
)
from fine_tuning_assets.classifiers.examples import TextExample, assign_splits, class_balance
from fine_tuning_assets.classifiers.model import Head, TextClassifier, fit_temperature, softmax
from fine_tuning_assets.classifiers.recipes import (
    ClassifierSearchConfig,
    FieldSpec,
    blend_shares,
    search_classifier,
)
from fine_tuning_assets.classifiers.task import drop_rare_labels
from fine_tuning_assets.core.task import TaskDataError

WORDS = {
    "BUG": ["crashes", "error message", "freezes", "broken login"],
    "FEATURE": ["please add", "i wish", "would love a", "dark mode option"],
    "OTHER": ["great app", "love it", "five stars", "awesome"],
}


def reviews(n: int, *, seed: int = 0) -> list[TextExample]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = rng.choice(list(WORDS))
        text = f"{rng.choice(WORDS[label])} {rng.choice(WORDS[label])} in the {rng.choice(['app', 'game', 'tool'])}"
        urgency = "high" if label == "BUG" and rng.random() < 0.8 else "low"
        out.append(
            TextExample(
                id=f"r{i}",
                text=text,
                labels={"category": label, "urgency": urgency},
                group=f"app{i % 30}",
                tags=(f"rating={1 if label == 'BUG' else 5}",),
                reference={"category": label if rng.random() < 0.7 else "OTHER"},
            )
        )
    return out


def test_the_split_is_grouped_stratified_and_mostly_stable_when_data_is_added():
    examples = reviews(240)
    splits = assign_splits(examples, field="category", validation_fraction=0.15, test_fraction=0.2, seed=3)
    by_group: dict[str, set[str]] = {}
    for e in examples:
        by_group.setdefault(e.group, set()).add(splits[e.id])
    assert all(len(sides) == 1 for sides in by_group.values())
    balance = class_balance(examples, splits, field="category")
    assert all(row["train"] and row["validation"] and row["test"] for row in balance)
    # Examples without a group are split one by one, stratified: each class is cut at the fractions.
    alone = [TextExample(id=e.id, text=e.text, labels=e.labels) for e in examples]
    solo = assign_splits(alone, field="category", validation_fraction=0.15, test_fraction=0.2, seed=3)
    for row in class_balance(alone, solo, field="category"):
        total = row["train"] + row["validation"] + row["test"]
        assert abs(row["test"] - 0.2 * total) <= 1 and abs(row["validation"] - 0.15 * total) <= 1
    more = assign_splits(
        alone + [TextExample(id=f"new{i}", text="x", labels={"category": "BUG"}) for i in range(10)],
        field="category",
        validation_fraction=0.15,
        test_fraction=0.2,
        seed=3,
    )
    moved = sum(solo[k] != more[k] for k in solo)
    assert moved <= 0.15 * len(solo)


def test_a_lexical_classifier_is_searched_saved_without_pickle_and_loads_to_the_same_probabilities(tmp_path):
    examples = reviews(300)
    splits = assign_splits(examples, field="category", validation_fraction=0.2, test_fraction=0.2, seed=1)
    train = [e for e in examples if splits[e.id] == "train"]
    validation = [e for e in examples if splits[e.id] == "validation"]
    result = search_classifier(
        train,
        validation,
        fields=[FieldSpec("category"), FieldSpec("urgency")],
        tune_field="category",
        base_model=None,
        config=ClassifierSearchConfig(recipes=("tfidf-lr",), c_values=(1.0, 10.0)),
        output_dir=tmp_path,
        progress=lambda _m: None,
    )
    metrics = result.metrics()
    assert metrics["fields"]["category"]["selected_recipe"] == "tfidf-lr"
    assert metrics["fields"]["category"]["recipes"]["tfidf-lr"]["macro_f1"] > 0.95
    assert metrics["fields"]["urgency"]["recipes"]["tfidf-lr"]["class_weight"] in ("balanced", "none")
    assert 0 <= metrics["fields"]["urgency"]["recipes"]["tfidf-lr"]["log_loss"] < 0.7
    # Every recipe's best model, as the search calibrated it: the chosen recipe's is the served one.
    recipes = result.recipe_classifier("urgency").predict_proba(["the app crashes"], [("rating=1",)])
    served = result.classifier.predict_proba(["the app crashes"], [("rating=1",)])
    assert set(recipes) == {"tfidf-lr"}
    np.testing.assert_allclose(recipes["tfidf-lr"], served["urgency"], rtol=1e-6)
    assert not [p for p in tmp_path.iterdir() if p.suffix in (".pkl", ".pickle", ".joblib")]
    loaded = TextClassifier.load(tmp_path)
    texts, tags = ["the app crashes with an error message", "please add dark mode"], [("rating=1",), ()]
    before, after = result.classifier.predict_proba(texts, tags), loaded.predict_proba(texts, tags)
    for field in ("category", "urgency"):
        np.testing.assert_allclose(before[field], after[field], rtol=1e-6)
    [first, second] = loaded.predict(texts, tags)
    assert first["category"].label == "BUG" and second["category"].label == "FEATURE"
    assert abs(sum(first["category"].probabilities.values()) - 1) < 1e-9


def test_both_fine_tunes_train_save_and_load_as_serving_loads_them(tmp_path):
    """The SetFit-style and the classification fine-tune, a few steps each on tiny data; the blends pool the
    fine-tuned heads with the lexical one, from the same part heads the single recipes chose."""
    from fine_tuning_assets.classifiers.model import FINETUNED_EMBEDDING, TUNED_EMBEDDING
    from fine_tuning_assets.core.fine_tuning import FineTuningConfig

    examples = reviews(60)
    config = ClassifierSearchConfig(
        recipes=("setfit", "finetune-lr", "blend-finetune", "blend-setfit-finetune"),
        c_values=(4.0,),
        setfit=FineTuningConfig(epochs=1, batch_size=16),
        setfit_pairs_per_example=1,
        classifier_finetune=FineTuningConfig(epochs=1, batch_size=16),
    )
    result = search_classifier(
        examples[:40],
        examples[40:],
        fields=[FieldSpec("category")],
        tune_field="category",
        base_model=None,
        config=config,
        output_dir=tmp_path,
        progress=lambda _m: None,
    )
    assert set(result.training) == {"setfit", "classifier-finetune"}
    validation = result.validation["category"]
    assert set(validation) == set(config.recipes)
    three = validation["blend-setfit-finetune"]
    assert tuple(three["shares"].values()) in blend_shares(3, config.blend_step)
    for part in ("setfit", "finetune-lr"):
        assert three["parts"][part] == {k: validation[part][k] for k in ("C", "class_weight")}
    assert validation["blend-finetune"]["parts"]["tfidf-lr"] == three["parts"]["tfidf-lr"]
    chosen = result.classifier.fields["category"].recipe
    kept = {
        "setfit": {TUNED_EMBEDDING},
        "finetune-lr": {FINETUNED_EMBEDDING},
        "blend-finetune": {FINETUNED_EMBEDDING},
        "blend-setfit-finetune": {TUNED_EMBEDDING, FINETUNED_EMBEDDING},
    }
    assert all((tmp_path / folder).is_dir() for folder in kept[chosen])
    assert not any(
        (tmp_path / folder).exists() for folder in {TUNED_EMBEDDING, FINETUNED_EMBEDDING} - kept[chosen]
    )
    # The three-way blend, saved and loaded as serving loads it, scores as the search's model did.
    three_way = result.recipe_classifier("category")
    texts = [e.text for e in examples[40:45]]
    assert three_way.fields["blend-setfit-finetune"].features == "lexical+tuned+finetuned"
    three_way.fields = {"category": three_way.fields["blend-setfit-finetune"]}
    three_way.save(tmp_path / "three")
    np.testing.assert_allclose(
        TextClassifier.load(tmp_path / "three", encoders=result.encoders).predict_proba(texts)["category"],
        three_way.predict_proba(texts)["category"],
        atol=1e-5,
    )
    loaded = TextClassifier.load(tmp_path)
    np.testing.assert_allclose(
        loaded.predict_proba(texts)["category"], result.classifier.predict_proba(texts)["category"], atol=1e-5
    )


def test_only_the_fine_tunes_the_recipes_need_are_trained(tmp_path):
    """A search without SetFit recipes trains no SetFit model (its feature set is not a suffix match away)."""
    from fine_tuning_assets.core.fine_tuning import FineTuningConfig

    examples = reviews(40)
    result = search_classifier(
        examples[:30],
        examples[30:],
        fields=[FieldSpec("category")],
        tune_field="category",
        base_model=None,
        config=ClassifierSearchConfig(
            recipes=("tfidf-lr", "finetune-lr"),
            c_values=(4.0,),
            classifier_finetune=FineTuningConfig(epochs=1, batch_size=16),
        ),
        output_dir=tmp_path,
        progress=lambda _m: None,
    )
    assert set(result.training) == {"classifier-finetune"}
    assert set(result.encoders) == {"finetuned"}


def test_a_pooled_head_is_the_weighted_mean_of_its_parts_calibrated_log_probabilities():
    rng = np.random.default_rng(2)
    labels = ["BUG", "FEATURE", "OTHER"]
    x1, x2 = rng.normal(size=(8, 5)), rng.normal(size=(8, 4))
    first = Head(labels, rng.normal(size=(5, 3)), rng.normal(size=3), temperature=0.7)
    second = Head(labels, rng.normal(size=(4, 3)), rng.normal(size=3), temperature=2.5)
    pooled = Head.pool([first, second], [0.3, 0.7])
    expected = softmax(0.3 * np.log(first.probabilities(x1)) + 0.7 * np.log(second.probabilities(x2)))
    np.testing.assert_allclose(pooled.probabilities(np.hstack([x1, x2])), expected, rtol=1e-5)
    x3 = rng.normal(size=(8, 2))
    third = Head(labels, rng.normal(size=(2, 3)), rng.normal(size=3), temperature=1.3)
    three = Head.pool([first, second, third], [0.2, 0.5, 0.3])
    expected = softmax(
        0.2 * np.log(first.probabilities(x1))
        + 0.5 * np.log(second.probabilities(x2))
        + 0.3 * np.log(third.probabilities(x3))
    )
    np.testing.assert_allclose(three.probabilities(np.hstack([x1, x2, x3])), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="share their labels"):
        Head.pool([first, Head(["a", "b", "c"], second.weights, second.bias)], [0.5, 0.5])
    with pytest.raises(ValueError, match="a share for each"):
        Head.pool([first, second], [1.0])


def test_every_blend_pools_single_block_recipes_in_the_order_of_its_features():
    """The pooled head's weights are stacked in the order of BLENDS; combine() stacks the feature blocks in
    the order of the feature set: they must agree (the fine-tuned encoders have the same width, so a
    mismatch would not fail on shapes)."""
    from fine_tuning_assets.classifiers.recipes import BLENDS, RECIPES

    for blend, parts in BLENDS.items():
        assert [RECIPES[part][0] for part in parts] == RECIPES[blend][0].split("+"), blend


def test_a_saved_classifier_with_features_this_version_cannot_compute_is_refused_at_load(tmp_path):
    import json

    from fine_tuning_assets.classifiers.model import CLASSIFIER_FILE, FieldModel, LexicalFeatures

    lexical = LexicalFeatures.fit(["the app crashes", "love it"], [(), ()])
    head = Head(["BUG", "OTHER"], np.zeros((lexical.dimension, 2), dtype=np.float32), np.zeros(2))
    TextClassifier(fields={"category": FieldModel("tfidf-lr", "lexical", head)}, lexical=lexical).save(
        tmp_path
    )
    spec = json.loads((tmp_path / CLASSIFIER_FILE).read_text())
    spec["fields"]["category"]["features"] = "lexical+vision"
    (tmp_path / CLASSIFIER_FILE).write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="'lexical\\+vision'.*cannot compute"):
        TextClassifier.load(tmp_path)


def test_blend_shares_cover_the_simplex_in_steps_with_every_head_in():
    assert blend_shares(2, 0.1) == [(round(k / 10, 1), round(1 - k / 10, 1)) for k in range(1, 10)]
    three = blend_shares(3, 0.1)
    assert len(three) == 36 and len(set(three)) == 36
    assert all(abs(sum(s) - 1) < 1e-9 and min(s) >= 0.1 - 1e-9 for s in three)


def test_the_search_config_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="choose_by"):
        ClassifierSearchConfig(choose_by="accuracy")
    with pytest.raises(ValueError, match="blend_step"):
        ClassifierSearchConfig(blend_step=0.4)  # three heads cannot each take 0.4
    assert ClassifierSearchConfig(recipes=("blend-finetune",), blend_step=0.25).blend_step == 0.25
    for step in (0.3, 0.01, 0):  # not whole steps of 1; a grid too fine to search; none
        with pytest.raises(ValueError, match="blend_step"):
            ClassifierSearchConfig(recipes=("blend-finetune",), blend_step=step)
    with pytest.raises(ValueError, match="list of names"):
        ClassifierSearchConfig(class_weights="none")
    with pytest.raises(ValueError, match="class_weights"):
        ClassifierSearchConfig(class_weights=("balanced", "inverse"))
    with pytest.raises(ValueError, match="unknown recipes"):
        ClassifierSearchConfig(recipes=("tfidf-lr", "gpt"))


def test_the_search_refuses_a_field_with_one_label(tmp_path):
    examples = [TextExample(id=str(i), text=f"text {i}", labels={"category": "BUG"}) for i in range(20)]
    with pytest.raises(TaskDataError, match="fewer than two category labels"):
        search_classifier(
            examples[:15],
            examples[15:],
            fields=[FieldSpec("category")],
            tune_field="category",
            base_model=None,
            config=ClassifierSearchConfig(recipes=("tfidf-lr",)),
            output_dir=tmp_path,
            progress=lambda _m: None,
        )


def test_the_vectorised_macro_f1_is_sklearns_and_the_bootstrap_sees_a_real_gain():
    rng = np.random.default_rng(0)
    truth, predicted = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    predicted[truth == 3] = 3
    assert _macro_f1_from_codes(truth, predicted, 5) == pytest.approx(
        f1_score(truth, predicted, labels=sorted(set(truth)), average="macro", zero_division=0)
    )
    labels = ["a", "b", "c"] * 40
    noisy = [x if i % 4 else {"a": "b", "b": "c", "c": "a"}[x] for i, x in enumerate(labels)]
    better = bootstrap_label_metric_difference(labels, labels, noisy, resamples=300)
    assert better["difference"] > 0 and better["lower"] > 0
    same = bootstrap_label_metric_difference(labels, noisy, noisy, resamples=300)
    assert same["difference"] == 0 and same["lower"] == 0


def test_metrics_bands_and_ranking_say_what_they_measure():
    m = field_metrics(
        ["BUG", "BUG", "OTHER", "OTHER"], ["BUG", "OTHER", "OTHER", "OTHER"], labels=["BUG", "OTHER"]
    )
    assert m["accuracy"] == 0.75
    per_class = {row["label"]: row for row in m["per_class"]}
    assert per_class["BUG"]["recall"] == 0.5 and per_class["OTHER"]["precision"] == pytest.approx(0.6667)
    band = band_coverage(["a", "a", "b", "b"], ["a", "b", "b", "a"], [0.99, 0.6, 0.95, 0.5], threshold=0.9)
    assert band["coverage"] == 0.5 and band["accuracy_automatic"] == 1.0 and band["accuracy_to_humans"] == 0.0
    assert check_band(band, target_accuracy=0.95)["holds"] is True
    missed = band_coverage(["a", "a", "b"], ["a", "b", "b"], [0.99, 0.97, 0.95], threshold=0.9)
    assert check_band(missed, target_accuracy=0.95)["holds"] is False  # 2 of 3 right above the threshold
    assert band_coverage(["a"], ["a"], [0.99], threshold=None)["coverage"] == 0.0
    ranked = ranking_metrics(
        [True, False, True, False],
        [0.9, 0.8, 0.7, 0.1],
        ks=(2,),
        votes_positive=[3, 0, 1, 0],
        votes_total=[3, 2, 2, 1],
    )
    assert ranked["precision@2"] == 0.5 and ranked["save_rate@2"] == 0.6


def test_temperature_scaling_lowers_the_held_out_negative_log_likelihood():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3))
    logits[np.arange(300), labels] += 1.0
    logits *= 6  # overconfident
    temperature = fit_temperature(logits, labels)
    assert temperature > 1

    def nll(t: float) -> float:
        return float(-np.mean(np.log(softmax(logits / t)[np.arange(300), labels])))

    assert nll(temperature) < nll(1.0)


def test_rare_labels_are_left_out_of_their_field_only():
    examples = [
        TextExample(id=str(i), text="t", labels={"category": "BUG", "topic": "rare" if i == 0 else "login"})
        for i in range(6)
    ]
    examples.append(TextExample(id="x", text="t", labels={"category": "SECURITY"}))
    kept, left_out = drop_rare_labels(examples, fields=["category", "topic"], minimum=2)
    assert left_out == {"category": {"SECURITY": 1}, "topic": {"rare": 1}}
    assert [e.id for e in kept] == [str(i) for i in range(6)]
    assert kept[0].labels == {"category": "BUG"}


@pytest.mark.parametrize(
    "module",
    [
        "fine_tuning_assets.classifiers.examples",
        "fine_tuning_assets.classifiers.model",
        "fine_tuning_assets.classifiers.recipes",
        "fine_tuning_assets.classifiers.evaluation",
        "fine_tuning_assets.tasks.triage.task",
        "fine_tuning_assets.tasks.signals.task",
        "fine_tuning_assets.core.imports",
    ],
)
def test_module_doctests_pass(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0


def test_serving_switches_off_a_band_the_evaluation_found_missing_its_target(tmp_path, registry):
    """A field whose confidence band missed its accuracy on held-out examples sends every prediction to a
    human; the other fields keep theirs."""
    from dataclasses import replace

    from fine_tuning_assets.classifiers.task import ClassifierPredictor
    from fine_tuning_assets.tasks.triage.task import TRIAGE

    flip = {"BUG": "FEATURE", "FEATURE": "OTHER", "OTHER": "BUG"}
    examples = [  # every fifth category wrong: no probability saturates, both fields get a band
        replace(e, labels={**e.labels, "category": flip[e.labels["category"]]}) if i % 5 == 0 else e
        for i, e in enumerate(reviews(300))
    ]
    from fine_tuning_assets.core.artifacts import ArtifactStore

    folder = ArtifactStore(tmp_path / "artifacts").write_directory(
        "models/triage/v1",
        lambda directory: search_classifier(
            examples[:200],
            examples[200:],
            fields=[FieldSpec("category"), FieldSpec("urgency")],
            tune_field="category",
            base_model=None,
            config=ClassifierSearchConfig(recipes=("tfidf-lr",), c_values=(10.0,), target_accuracy=0.6),
            output_dir=directory,
            progress=lambda _m: None,
        ),
        manifest={},
    )
    thresholds = {n: f.confidence_threshold for n, f in TextClassifier.load(folder).fields.items()}
    assert thresholds["category"] is not None and thresholds["urgency"] is not None
    version = registry.register(
        task="triage", model_kind="classifier", base_model="b", dataset_version="ds", config={}, actor="t"
    )
    registry.transition(version.id, "evaluating", actor="t", reason="trained", artifact_path=str(folder))
    registry.transition(
        version.id, "staged", actor="t", reason="gate", evaluation={"switched_off_bands": ["category"]}
    )
    registry.promote(version.id, expected_active_id=None, actor="t", reason="test")
    predictor = ClassifierPredictor.load(TRIAGE, registry, None, base_model=None)
    [prediction] = predictor.predict(["the app crashes with an error message"], [("rating=1",)])
    assert prediction["category"].threshold is None and prediction["category"].automatic is False
    assert prediction["urgency"].threshold == thresholds["urgency"]
