"""Compare the candidate (each of its recipes), the active and the base model on the same held-out human
decisions.

Decision bands are learned on the validation split (the auto-merge threshold that reaches the target
precision there; none, so nothing auto-merges, when no threshold does) and reported on the test split; the
candidate's on its out-of-fold validation probabilities, the active model keeps the bands it serves with.
The base model is MiniLM cosine similarity, Platt-calibrated and thresholded (best F1) on the
human-labelled train and validation pairs. The promotion gate compares the candidate with the active model,
or with the base model when none is active, and never passes a candidate worse than the base model.

Example (slow: it scores with real models):
    >>> report = evaluate_dedup_models(training_set, candidate=PairModel.load(path, recipes=recipes),  # doctest: +SKIP
    ...                                active=None, active_bands=None, base=BaseCosineScorer(None),
    ...                                config=EvaluationConfig())
    >>> report["gate"]["passed"]  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fine_tuning_assets.core.calibration import PlattScaling
from fine_tuning_assets.core.metrics import (
    AUTO_MERGE,
    BAND_NAMES,
    KEEP_SEPARATE,
    NEEDS_REVIEW,
    REVIEW_HIGH_PRIORITY,
    DecisionBands,
    band_report_from_masks,
    bootstrap_average_precision_difference,
    compute_pair_metrics,
    fit_best_threshold,
    learn_auto_merge_threshold,
    learn_keep_separate_threshold,
)
from fine_tuning_assets.tasks.dedup.examples import PairExample
from fine_tuning_assets.tasks.dedup.model import PairModel
from fine_tuning_assets.tasks.dedup.scoring import BaseCosineScorer, PairScorer
from fine_tuning_assets.tasks.dedup.training_set import TrainingSet

PRIMARY_METRIC = "average_precision"
METRIC_COLUMNS: tuple[str, ...] = (
    "average_precision",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "brier_score",
    "expected_calibration_error",
    "auto_merge_coverage",
    "auto_merge_precision",
    "keep_separate_coverage",
    "keep_separate_duplicate_share",
    "decided_without_human",
)
#: Error rates allowed in each band for the trade-off curve (auto-merge: 1 - precision; keep-separate: share
#: of true duplicates).
TRADE_OFF_RATES: tuple[float, ...] = (0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1)


@dataclass(frozen=True)
class EvaluationConfig:
    """How models are compared, gated and how their decision bands are learned.

    Promotion answers "is the model better": the candidate must beat the reference at the bootstrap lower
    bound and never be worse than the base model. Each band answers "is this band safe": a band whose
    target does not hold on the held-out decisions is switched off for serving, and the better model is
    promoted all the same (the report and the Dagster UI say which band was switched off and why).

    Attributes:
        target_precision: auto-merge precision the learned threshold must reach, and the band must hold on the
            held-out decisions to stay on (0.99).
        max_duplicate_rate: largest share of true duplicates allowed in the keep-separate band, learned and
            checked the same way (0.01).
        band_confidence: one-sided confidence of the Clopper–Pearson bound a threshold must meet on the
            out-of-fold validation probabilities: the auto-merge precision's lower bound reaches
            ``target_precision``, the keep-separate duplicate share's upper bound stays within
            ``max_duplicate_rate`` (0.9). Higher is safer and decides fewer pairs without a human; with no
            error at all a 0.99 lower bound takes 230 auto-merged validation pairs at 0.9 (299 at 0.95).
        min_improvement: how much the candidate's average precision must beat the reference's by, at the
            lower confidence bound of a paired bootstrap on the held-out decisions (0.01).
        improvement_confidence: one-sided confidence of that bound (0.95).
        bootstrap_resamples: resamples of the held-out decisions for the bound (1000).
        review_threshold: probability from which a pair is a high-priority review (0.85).
        min_auto_merged: validation pairs a learned auto-merge threshold must cover (10).
        min_kept_separate: validation pairs a learned keep-separate threshold must cover (10).
        min_improvement_over_base: how much the candidate's average precision must beat the base model's
            on the held-out decisions, whatever the reference (0.0: a candidate worse than base never passes).
    """

    target_precision: float = 0.99
    min_improvement: float = 0.01
    improvement_confidence: float = 0.95
    bootstrap_resamples: int = 1000
    review_threshold: float = 0.85
    min_auto_merged: int = 10
    min_improvement_over_base: float = 0.0
    max_duplicate_rate: float = 0.01
    band_confidence: float = 0.9
    min_kept_separate: int = 10


def _pairs(examples: Sequence[PairExample]) -> list[tuple[str, str]]:
    return [(e.text_a, e.text_b) for e in examples]


def _labels(examples: Sequence[PairExample]) -> np.ndarray:
    return np.array([e.label for e in examples], dtype=int)


def learn_bands(
    labels: np.ndarray,
    probabilities: np.ndarray,
    *,
    config: EvaluationConfig,
    target_precision: float | None = None,
    max_duplicate_rate: float | None = None,
) -> DecisionBands:
    """Bands learned conservatively on these (out-of-fold validation) decisions: the lowest auto-merge threshold
    whose precision's Clopper–Pearson lower bound (``config.band_confidence``) reaches the target, and the
    highest keep-separate threshold whose duplicate share's upper bound stays within the allowed rate.

    A band no threshold qualifies for is switched off (auto-merge threshold 1.0, keep-separate None): those
    pairs go to a human. ``target_precision`` / ``max_duplicate_rate`` override the configured rates (the
    trade-off curve uses them).
    """
    learned = learn_auto_merge_threshold(
        labels,
        probabilities,
        target_precision=config.target_precision if target_precision is None else target_precision,
        min_auto_merged=config.min_auto_merged,
        confidence=config.band_confidence,
    )
    auto_merge = 1.0 if learned is None else float(learned)
    review = min(config.review_threshold, auto_merge)
    keep_separate = learn_keep_separate_threshold(
        labels,
        probabilities,
        max_duplicate_rate=config.max_duplicate_rate if max_duplicate_rate is None else max_duplicate_rate,
        min_kept_separate=config.min_kept_separate,
        confidence=config.band_confidence,
    )
    if keep_separate is not None and keep_separate >= review:
        # Both bands are confident enough to meet: the keep-separate band ends where review (or auto-merge) begins.
        keep_separate = float(np.nextafter(review, 0.0))
    return DecisionBands(auto_merge=auto_merge, review=review, keep_separate=keep_separate)


def cross_validated_band_masks(
    labels: np.ndarray,
    probabilities: np.ndarray,
    folds: np.ndarray,
    *,
    config: EvaluationConfig,
    target_precision: float | None = None,
    max_duplicate_rate: float | None = None,
) -> dict[str, np.ndarray]:
    """Band membership of each pair when its band thresholds are learned on the other folds' out-of-fold
    probabilities (so the band's precision on the pair is measured on a pair the thresholds never saw).
    Bands switched off in a fold hold none of its pairs."""
    masks = {band: np.zeros(labels.size, dtype=bool) for band in BAND_NAMES}
    for fold in np.unique(folds):
        held_out = folds == fold
        bands = learn_bands(
            labels[~held_out],
            probabilities[~held_out],
            config=config,
            target_precision=target_precision,
            max_duplicate_rate=max_duplicate_rate,
        )
        fold_masks = bands._masks(probabilities[held_out])
        for band in BAND_NAMES:
            if band in fold_masks:
                masks[band][held_out] = fold_masks[band]
    masks[NEEDS_REVIEW] |= ~(
        masks[AUTO_MERGE] | masks[REVIEW_HIGH_PRIORITY] | masks[KEEP_SEPARATE] | masks[NEEDS_REVIEW]
    )
    return masks


def model_report(
    name: str,
    *,
    bands: DecisionBands,
    test: tuple[np.ndarray, np.ndarray],
    threshold: float,
    masks: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Metrics and band coverage/precision of one model on the held-out decisions, with the given bands (or,
    in the cross-validation regime, the band membership ``masks`` of cross-validated thresholds).

    ``decided_without_human`` is the share of pairs the auto-merge and keep-separate bands decide."""
    labels, probabilities = test
    metrics = compute_pair_metrics(labels, probabilities, threshold=threshold)
    rows = band_report_from_masks(labels, masks if masks is not None else bands._masks(probabilities), bands)
    by_band = {row["band"]: row for row in rows}
    auto = by_band[AUTO_MERGE] if bands.auto_merge < 1.0 else {"coverage": 0.0, "precision": None}
    # A band the model does not serve decides nothing (cross-validated masks may hold pairs of fold bands).
    keep = by_band.get(KEEP_SEPARATE) if bands.keep_separate is not None else None
    metrics["auto_merge_coverage"] = auto["coverage"]
    metrics["auto_merge_precision"] = auto["precision"]
    metrics["keep_separate_coverage"] = keep["coverage"] if keep else 0.0
    metrics["keep_separate_duplicate_share"] = keep["precision"] if keep else None
    metrics["decided_without_human"] = auto["coverage"] + (keep["coverage"] if keep else 0.0)
    return {
        "name": name,
        "threshold": threshold,
        "metrics": metrics,
        "bands": asdict(bands),
        "band_report": rows,
        "auto_merge_enabled": bands.auto_merge < 1.0,
        "keep_separate_enabled": bands.keep_separate is not None,
    }


def check_bands(report: dict[str, Any], *, config: EvaluationConfig) -> dict[str, Any]:
    """Is each band safe? On the held-out decisions, the auto-merge band must hold ``target_precision`` and the
    keep-separate band at most ``max_duplicate_rate`` true duplicates. A band that misses its target is
    switched off in the bands served (its pairs go to a human); an empty or disabled band passes.

    Returns ``{"bands": {band: {...}}, "serving_bands": {...}, "switched_off": [...], "reasons": [...]}``."""
    learned = DecisionBands(**report["bands"])
    rows = {row["band"]: row for row in report["band_report"]}
    checks: dict[str, dict[str, Any]] = {}
    reasons: list[str] = []
    auto = rows[AUTO_MERGE]
    if not report["auto_merge_enabled"]:
        checks[AUTO_MERGE] = {
            "enabled": False,
            "holds": True,
            "action": "off (no threshold reached the target on validation)",
        }
        reasons.append("auto-merge band off: no threshold reached the target precision on validation")
    elif auto["count"] == 0:
        checks[AUTO_MERGE] = {
            "enabled": True,
            "holds": True,
            "count": 0,
            "action": "kept (empty on held-out decisions)",
        }
        reasons.append("auto-merge band is empty on the held-out decisions: kept")
    else:
        holds = auto["precision"] >= config.target_precision
        checks[AUTO_MERGE] = {
            "enabled": True,
            "holds": bool(holds),
            "count": auto["count"],
            "precision": auto["precision"],
            "target": config.target_precision,
            "action": "kept" if holds else "switched off",
        }
        reasons.append(
            f"auto-merge precision {auto['precision']:.4f} on {auto['count']} held-out pairs "
            f"({'≥' if holds else '<'} target {config.target_precision}): "
            + ("kept" if holds else "band SWITCHED OFF, those pairs go to a reviewer")
        )
    keep = rows.get(KEEP_SEPARATE)
    if not report["keep_separate_enabled"] or keep is None:
        checks[KEEP_SEPARATE] = {
            "enabled": False,
            "holds": True,
            "action": "off (no threshold reached the target on validation)",
        }
        reasons.append(
            "keep-separate band off: no threshold kept the duplicate share within the allowed rate on validation"
        )
    elif keep["count"] == 0:
        checks[KEEP_SEPARATE] = {
            "enabled": True,
            "holds": True,
            "count": 0,
            "action": "kept (empty on held-out decisions)",
        }
        reasons.append("keep-separate band is empty on the held-out decisions: kept")
    else:
        holds = keep["precision"] <= config.max_duplicate_rate
        checks[KEEP_SEPARATE] = {
            "enabled": True,
            "holds": bool(holds),
            "count": keep["count"],
            "duplicate_share": keep["precision"],
            "target": config.max_duplicate_rate,
            "action": "kept" if holds else "switched off",
        }
        reasons.append(
            f"keep-separate band: {keep['precision']:.4f} true duplicates among {keep['count']} held-out pairs "
            f"({'≤' if holds else '>'} allowed {config.max_duplicate_rate}): "
            + ("kept" if holds else "band SWITCHED OFF, those pairs go to a reviewer")
        )
    switched_off = [band for band, check in checks.items() if check["action"] == "switched off"]
    serving = DecisionBands(
        auto_merge=1.0 if AUTO_MERGE in switched_off else learned.auto_merge,
        review=learned.review,
        keep_separate=None if KEEP_SEPARATE in switched_off else learned.keep_separate,
    )
    return {
        "bands": checks,
        "serving_bands": asdict(serving),
        "switched_off": switched_off,
        "reasons": reasons,
    }


def trade_off(
    labels: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray] | None,
    test_probabilities: np.ndarray,
    *,
    config: EvaluationConfig,
    folds: np.ndarray | None = None,
    rates: Sequence[float] = TRADE_OFF_RATES,
) -> list[dict[str, Any]]:
    """Share of held-out pairs decided without a human when each band may err at ``rate`` (auto-merge precision
    ``1 - rate``, keep-separate duplicate share ``rate``), thresholds learned as the bands are: on
    ``validation`` (labels, out-of-fold probabilities), or fold-wise on the other folds when ``folds`` is given."""
    points = []
    for rate in rates:
        if folds is not None:
            masks = cross_validated_band_masks(
                labels,
                test_probabilities,
                folds,
                config=config,
                target_precision=1 - rate,
                max_duplicate_rate=rate,
            )
        else:
            assert validation is not None
            bands = learn_bands(
                *validation, config=config, target_precision=1 - rate, max_duplicate_rate=rate
            )
            masks = bands._masks(test_probabilities)
        auto, keep = masks[AUTO_MERGE], masks.get(KEEP_SEPARATE, np.zeros(labels.size, dtype=bool))
        points.append(
            {
                "error_rate": rate,
                "auto_merged": float(auto.mean()),
                "kept_separate": float(keep.mean()),
                "decided_without_human": float(auto.mean() + keep.mean()),
                "auto_merge_precision": float(labels[auto].mean()) if auto.any() else None,
                "keep_separate_duplicate_share": float(labels[keep].mean()) if keep.any() else None,
            }
        )
    return points


def trade_off_plot_png(
    points: Sequence[dict[str, Any]], *, configured: tuple[float, float], title: str
) -> bytes:
    """PNG: share decided without a human (and each band's share) against the error rate allowed per band."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    rates = [100 * p["error_rate"] for p in points]
    for key, label in (
        ("decided_without_human", "decided without a human"),
        ("kept_separate", "kept separate"),
        ("auto_merged", "auto-merged"),
    ):
        axes.plot(rates, [100 * p[key] for p in points], marker="o", label=label)
    for rate, what in ((1 - configured[0], "auto-merge"), (configured[1], "keep-separate")):
        axes.axvline(100 * rate, color="grey", linestyle=":", linewidth=1)
        axes.annotate(f"configured {what}", (100 * rate, 2), rotation=90, fontsize=7, color="grey")
    axes.set_xscale("log")
    axes.set_xlabel("error rate allowed in each band (%, log scale)")
    axes.set_ylabel("share of held-out pairs (%)")
    axes.set_ylim(0, 100)
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def fit_base_calibration(
    base: BaseCosineScorer, examples: Sequence[PairExample]
) -> tuple[BaseCosineScorer, float]:
    """Platt-calibrate the base cosine on human-labelled pairs; returns the calibrated scorer and the
    probability threshold equivalent to the best-F1 cosine threshold."""
    fit = [e for e in examples if e.origin != "low_similarity_sample"]
    labels = _labels(fit)
    cosine = base.similarities(_pairs(fit))
    calibration = PlattScaling.fit(cosine, labels)
    cosine_threshold = fit_best_threshold(labels, cosine, metric="f1")
    threshold = float(calibration.predict_proba([cosine_threshold])[0])
    return base.calibrated_copy(calibration), threshold


def promotion_gate(
    candidate: dict[str, Any],
    reference: dict[str, Any],
    *,
    reference_role: str,
    labels: Sequence[int],
    candidate_probabilities: Sequence[float],
    reference_probabilities: Sequence[float],
    base: dict[str, Any] | None = None,
    config: EvaluationConfig,
    held_out: str = "test",
) -> dict[str, Any]:
    """Is the model better? Pass when, on the held-out decisions, the candidate beats the reference's average
    precision by ``min_improvement`` even at the lower bound of a paired bootstrap (so a small or noisy
    held-out set cannot promote a model that only looks better) and is not worse than the base model
    (``base``, by ``min_improvement_over_base``). Whether each decision band is safe is a separate question
    (:func:`check_bands`): a band that misses its target is switched off, it does not keep a better model
    out. ``held_out`` names the pairs in the reasons ("test" or "cross-validated")."""
    reasons: list[str] = []
    bootstrap = bootstrap_average_precision_difference(
        labels,
        candidate_probabilities,
        reference_probabilities,
        resamples=config.bootstrap_resamples,
        confidence=config.improvement_confidence,
    )
    candidate_ap = candidate["metrics"][PRIMARY_METRIC] or 0.0
    reference_ap = reference["metrics"][PRIMARY_METRIC] or 0.0
    beats = bootstrap["lower"] >= config.min_improvement
    reasons.append(
        f"average precision {candidate_ap:.4f} vs {reference_role} {reference_ap:.4f}: "
        f"{bootstrap['difference']:+.4f}, at least {bootstrap['lower']:+.4f} with "
        f"{config.improvement_confidence:.0%} confidence over {len(labels)} {held_out} pairs "
        f"({'≥' if beats else '<'} required {config.min_improvement:+.4f})"
    )
    not_worse = True
    if base is not None:
        base_ap = base["metrics"][PRIMARY_METRIC] or 0.0
        not_worse = candidate_ap - base_ap >= config.min_improvement_over_base
        reasons.append(
            f"average precision {candidate_ap:.4f} vs base {base_ap:.4f} ({candidate_ap - base_ap:+.4f}, "
            f"{'≥' if not_worse else '<'} required {config.min_improvement_over_base:+.4f})"
        )
    return {
        "passed": bool(beats and not_worse),
        "reference": reference_role,
        "primary_metric": PRIMARY_METRIC,
        "improvement": round(bootstrap["difference"], 6),
        "improvement_lower_bound": round(bootstrap["lower"], 6),
        "bootstrap": bootstrap,
        "reasons": reasons,
    }


#: In the cross-validation regime, the fewest unseen decisions on which the active model is compared.
MIN_UNSEEN_FOR_ACTIVE = 20


def evaluate_dedup_models(
    training_set: TrainingSet,
    *,
    candidate: PairModel,
    active: PairScorer | None,
    active_bands: DecisionBands | None,
    base: BaseCosineScorer,
    config: EvaluationConfig,
    seen_by_active: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The evaluation report (JSON-serialisable): per-model metrics and bands on held-out decisions for the
    candidate's chosen recipe, each of its other recipes, the active model and the base model; the gate
    ("is the model better"); the band checks ("is each band safe", :func:`check_bands`) with the bands to
    serve; the share of pairs decided without a human and its trade-off against the allowed error rates; and
    the held-out labels and probabilities (for plots).

    Fixed-split regime: held out = the test split; the candidate's bands are learned on its out-of-fold
    validation probabilities. Cross-validation regime (the model says so, see
    :func:`~fine_tuning_assets.tasks.dedup.recipes.cross_validate_recipes`): held out = every decided pair with its
    out-of-fold probability; bands are checked with thresholds learned on the other folds. The active model
    keeps the bands it serves with (``active_bands``). ``seen_by_active`` holds the insights the active model
    trained or was tuned on; held-out pairs touching them are left out for every model (in the
    cross-validation regime, when too few unseen pairs are left, the active model is not compared and the
    candidate is judged against the base model, as the first model was).
    """
    if candidate.spec.get("regime") == "cross_validation":
        return _evaluate_cross_validated(
            training_set,
            candidate=candidate,
            active=active,
            active_bands=active_bands,
            config=config,
            seen_by_active=seen_by_active,
        )
    validation = training_set.split("validation")
    all_test = training_set.split("test")
    test = [e for e in all_test if not (set(e.key) & seen_by_active)]
    if {e.label for e in test} != {0, 1}:
        raise ValueError(
            f"after leaving out {len(all_test) - len(test)} of {len(all_test)} test pairs the active model "
            "has seen, the test split no longer holds both merges and keep-separate decisions"
        )
    test_labels = _labels(test)
    test_pairs = _pairs(test)
    calibrated_base, base_threshold = fit_base_calibration(base, [*training_set.split("train"), *validation])
    oof_labels, oof = candidate.validation_out_of_fold()

    models: dict[str, dict[str, Any]] = {}
    probabilities: dict[str, list[float]] = {}

    def add(role: str, name: str, bands: DecisionBands, test_p: np.ndarray, threshold: float) -> None:
        models[role] = model_report(name, bands=bands, test=(test_labels, test_p), threshold=threshold)
        probabilities[role] = [round(float(p), 6) for p in test_p]

    selected = candidate.selected_recipe
    recipe_p = candidate.predict_all(test_pairs, candidate.recipes)
    for recipe in (selected, *(r for r in candidate.recipes if r != selected)):
        role = "candidate" if recipe == selected else f"recipe {recipe}"
        name = f"{candidate.name} · {recipe}{' (chosen)' if recipe == selected else ''}"
        add(role, name, learn_bands(oof_labels, oof[recipe], config=config), recipe_p[recipe], 0.5)
        models[role]["recipe"] = recipe
        models[role]["validation_average_precision"] = candidate.spec["recipes"][recipe][
            "validation_average_precision"
        ]
    if active is not None:
        bands = active_bands or DecisionBands(auto_merge=1.0, review=config.review_threshold)
        add("active", active.name, bands, active.predict_proba(test_pairs), 0.5)
    validation_labels = _labels(validation)
    validation_base = calibrated_base.predict_proba(_pairs(validation))
    base_bands = learn_bands(validation_labels, validation_base, config=config)
    add("base", calibrated_base.name, base_bands, calibrated_base.predict_proba(test_pairs), base_threshold)
    models["base"]["calibration"] = calibrated_base.calibration.to_dict()
    reference_role = "active" if "active" in models else "base"
    gate = promotion_gate(
        models["candidate"],
        models[reference_role],
        reference_role=reference_role,
        labels=test_labels,
        candidate_probabilities=probabilities["candidate"],
        reference_probabilities=probabilities[reference_role],
        base=models["base"],
        config=config,
    )
    curve = trade_off(
        test_labels,
        (oof_labels, oof[selected]),
        np.asarray(probabilities["candidate"]),
        config=config,
    )
    base_curve = trade_off(
        test_labels, (validation_labels, validation_base), np.asarray(probabilities["base"]), config=config
    )
    return _report(
        training_set,
        regime="fixed_split",
        selected=selected,
        models=models,
        gate=gate,
        config=config,
        held_out_labels=test_labels,
        probabilities=probabilities,
        trade_off_points={"candidate": curve, "base": base_curve},
        extra={
            "test_pairs": len(test),
            "test_pairs_seen_by_active_left_out": len(all_test) - len(test),
            "validation_pairs": len(validation),
        },
    )


def _report(
    training_set: TrainingSet,
    *,
    regime: str,
    selected: str,
    models: dict[str, dict[str, Any]],
    gate: dict[str, Any],
    config: EvaluationConfig,
    held_out_labels: np.ndarray,
    probabilities: dict[str, list[float]],
    trade_off_points: dict[str, list[dict[str, Any]]],
    extra: dict[str, Any],
) -> dict[str, Any]:
    bands = check_bands(models["candidate"], config=config)
    served = DecisionBands(**bands["serving_bands"])
    candidate_metrics = models["candidate"]["metrics"]
    rows = {row["band"]: row for row in models["candidate"]["band_report"]}
    # Only the bands that are served count: learned (enabled) and not switched off by the check.
    auto_share = rows[AUTO_MERGE]["coverage"] if served.auto_merge < 1.0 else 0.0
    keep_share = (
        rows[KEEP_SEPARATE]["coverage"] if served.keep_separate is not None and KEEP_SEPARATE in rows else 0.0
    )
    return {
        "dataset_version": training_set.version,
        "regime": regime,
        "selected_recipe": selected,
        **extra,
        "test_merge_pairs": int(held_out_labels.sum()),
        "config": asdict(config),
        "models": models,
        "gate": gate,
        "band_checks": bands,
        "serving_bands": asdict(served),
        # The headline: the share of held-out pairs the served bands decide without a human.
        "decided_without_human": {
            "share": auto_share + keep_share,
            "auto_merged": auto_share,
            "kept_separate": keep_share,
            "candidate_before_band_checks": candidate_metrics["decided_without_human"],
            "target_precision": config.target_precision,
            "max_duplicate_rate": config.max_duplicate_rate,
            "band_confidence": config.band_confidence,
        },
        "trade_off": trade_off_points,
        "test_labels": held_out_labels.tolist(),
        "test_probabilities": probabilities,
    }


def _evaluate_cross_validated(
    training_set: TrainingSet,
    *,
    candidate: PairModel,
    active: PairScorer | None,
    active_bands: DecisionBands | None,
    config: EvaluationConfig,
    seen_by_active: frozenset[str],
) -> dict[str, Any]:
    cv = candidate.spec["cross_validation"]
    labels, oof = candidate.validation_out_of_fold()
    keys = [tuple(k) for k in cv["keys"]]
    folds = np.asarray(cv["fold_of_pair"], dtype=int)
    base_oof = np.asarray(cv["base_out_of_fold_probabilities"], dtype=np.float64)
    by_key = {e.key: e for e in training_set.examples}
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise ValueError(
            f"the model was cross-validated on {len(missing)} pairs its training set "
            f"{training_set.version} does not hold (e.g. {missing[0]}): evaluate it on its own training set"
        )
    keep = np.ones(labels.size, dtype=bool)
    active_note = None
    if active is not None and seen_by_active:
        unseen = np.array([not (set(k) & seen_by_active) for k in keys])
        if unseen.sum() >= MIN_UNSEEN_FOR_ACTIVE and len(set(labels[unseen].tolist())) == 2:
            keep = unseen
        else:
            active_note = (
                f"the active model saw {int((~unseen).sum())} of these {labels.size} decisions and only "
                f"{int(unseen.sum())} unseen ones remain (fewer than {MIN_UNSEEN_FOR_ACTIVE}, or one class): "
                "it is not compared; the candidate is judged against the base model"
            )
            active = None
    y = labels[keep]
    held_pairs = [(by_key[k].text_a, by_key[k].text_b) for k, kept in zip(keys, keep, strict=True) if kept]
    models: dict[str, dict[str, Any]] = {}
    probabilities: dict[str, list[float]] = {}

    def add(role: str, name: str, bands: DecisionBands, p_all: np.ndarray | None, p: np.ndarray) -> None:
        masks = None
        if p_all is not None:
            masks = {
                band: mask[keep]
                for band, mask in cross_validated_band_masks(labels, p_all, folds, config=config).items()
            }
        models[role] = model_report(name, bands=bands, test=(y, p), threshold=0.5, masks=masks)
        probabilities[role] = [round(float(v), 6) for v in p]

    selected = candidate.selected_recipe
    for recipe in (selected, *(r for r in oof if r != selected)):
        role = "candidate" if recipe == selected else f"recipe {recipe}"
        name = f"{candidate.name} · {recipe}{' (chosen)' if recipe == selected else ''}"
        add(role, name, learn_bands(labels, oof[recipe], config=config), oof[recipe], oof[recipe][keep])
        models[role]["recipe"] = recipe
        models[role]["validation_average_precision"] = candidate.spec["recipes"][recipe][
            "validation_average_precision"
        ]
    if active is not None:
        bands = active_bands or DecisionBands(auto_merge=1.0, review=config.review_threshold)
        add("active", active.name, bands, None, np.asarray(active.predict_proba(held_pairs)))
    base_name = f"base {candidate.spec.get('base_model', 'all-MiniLM-L6-v2')} cosine"
    add("base", base_name, learn_bands(labels, base_oof, config=config), base_oof, base_oof[keep])
    base_calibration = candidate.spec.get("base_calibration")
    if base_calibration:
        models["base"]["calibration"] = base_calibration
    reference_role = "active" if "active" in models else "base"
    gate = promotion_gate(
        models["candidate"],
        models[reference_role],
        reference_role=reference_role,
        labels=y,
        candidate_probabilities=probabilities["candidate"],
        reference_probabilities=probabilities[reference_role],
        base=models["base"],
        config=config,
        held_out="cross-validated",
    )
    if active_note:
        gate["reasons"].insert(0, active_note)
    return _report(
        training_set,
        regime="cross_validation",
        selected=selected,
        models=models,
        gate=gate,
        config=config,
        held_out_labels=y,
        probabilities=probabilities,
        trade_off_points={
            "candidate": trade_off(labels, None, oof[selected], config=config, folds=folds),
            "base": trade_off(labels, None, base_oof, config=config, folds=folds),
        },
        extra={
            "test_pairs": int(keep.sum()),
            "test_pairs_seen_by_active_left_out": int((~keep).sum()),
            "validation_pairs": int(labels.size),
            "cross_validation": {"folds": cv["folds"], "repeats": cv["repeats"], "pairs": int(labels.size)},
            "active_not_compared": active_note,
        },
    )
