from __future__ import annotations

import doctest
import json

import numpy as np
import pytest

from fine_tuning_assets.tasks.dedup import features as pair_features
from fine_tuning_assets.tasks.dedup.features import LEXICAL_FEATURES, TfidfCosine, lexical_features


def test_module_doctests_pass():
    assert doctest.testmod(pair_features).failed == 0


def test_lexical_features_see_what_reviewers_keep_apart():
    tfidf = TfidfCosine.fit(
        ["Statins lower LDL by 30% in adults.", "Vitamin D lowers fracture risk.", "Zinc helps."]
    )
    pairs = [
        ("Statins lower LDL by 30% in adults.", "Statins lower LDL by 30% in adults."),
        ("Statins lower LDL by 30% in adults.", "Statins lower LDL by 50% in adults."),
        ("Statins lower LDL by 30% in adults.", "Zinc helps."),
        ("1,000 IU daily", "1000 IU daily"),
    ]
    features = lexical_features(pairs, tfidf=tfidf)
    assert set(features) == set(LEXICAL_FEATURES)
    assert features["numbers_differ"].tolist() == [0.0, 1.0, 1.0, 0.0]  # "1,000" and "1000" are one number
    assert features["tfidf_cosine"][0] == pytest.approx(1.0)
    assert features["tfidf_cosine"][0] > features["tfidf_cosine"][1] > features["tfidf_cosine"][2] == 0.0
    assert features["token_jaccard"][0] == 1.0 and features["token_jaccard"][2] == 0.0
    assert features["length_ratio"][2] == pytest.approx(2 / 7)


def test_tfidf_round_trips_through_json():
    texts = ["Coffee raises alertness.", "Caffeine makes people alert.", "Statins lower LDL."]
    fitted = TfidfCosine.fit(texts)
    restored = TfidfCosine.from_dict(json.loads(json.dumps(fitted.to_dict())))
    pairs = [(texts[0], texts[1]), (texts[0], "coffee raises alertness a lot")]
    np.testing.assert_allclose(restored.similarities(pairs), fitted.similarities(pairs))
    with pytest.raises(ValueError, match="idf weight per term"):
        TfidfCosine.from_dict({"vocabulary": {"a": 0}, "idf": []})
    with pytest.raises(ValueError, match="at least one text"):
        TfidfCosine.fit([])
