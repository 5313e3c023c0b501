from __future__ import annotations

import numpy as np

from fine_tuning_assets.core.calibration import PlattScaling
from fine_tuning_assets.tasks.dedup.scoring import BaseCosineScorer


def test_base_scorer_embeds_each_text_once_across_calls_and_calibrated_copies():
    scorer = BaseCosineScorer(None)
    encoded: list[str] = []
    encode = scorer.model.encode

    def counting_encode(texts, **kwargs):
        encoded.extend(texts)
        return encode(texts, **kwargs)

    scorer.model.encode = counting_encode
    pairs = [("Coffee raises alertness.", "Caffeine makes you alert."), ("A cat sits.", "Stocks rose today.")]
    first = scorer.similarities(pairs)
    copy = scorer.calibrated_copy(PlattScaling(slope=1.0, intercept=0.0))
    again = copy.similarities([*pairs, ("A cat sits.", "A new statement.")])
    assert np.allclose(again[:2], first)
    assert sorted(encoded) == sorted({t for pair in pairs for t in pair} | {"A new statement."})
