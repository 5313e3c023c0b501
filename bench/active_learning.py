"""Active-learning benchmark on STS-B: do labels revealed in review-queue order teach the model faster than
labels revealed in random order?

The STS-B train split (5,749 pairs, score >= 4.0 = merge) is the pool of pairs waiting for a reviewer; the
dev split (1,500 pairs) measures the model. Both orders start from the same 20 random labels. After each
batch of 10 labels the model is retrained and scored on dev (average precision):

* **random order** reveals the next 10 pairs of a random permutation;
* **queue order** reveals the 10 pairs the product's review queue puts first
  (:func:`fine_tuning_assets.tasks.dedup.review_queue.queue_order`: uncertainty near the 0.5 threshold plus the
  disagreement between recipes), scored by the model trained so far.

The model retrained at every step is the product's small-data stacker (logistic regression over
:data:`~fine_tuning_assets.tasks.dedup.model.BASE_FEATURES`: base MiniLM cosine, BERTScore F1, character TF-IDF
cosine, token overlap, length ratio, numbers that differ), as :func:`~fine_tuning_assets.tasks.dedup.recipes.fit_stacker`
fits it; the second "recipe" whose disagreement counts is the base cosine, Platt-calibrated on the labels so far.
The TF-IDF is fitted once on all pool texts (unlabelled text is available to a team before any decision).

Usage (from the project root; STS-B is read from ../shared/datasets/stsb):
    .venv/bin/python bench/active_learning.py --seeds 3

Writes bench/results/active-learning.json and bench/results/active-learning.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "bench"))

from quality import read_stsb  # noqa: E402

RESULTS = PROJECT / "bench" / "results"
CHECKPOINTS = (50, 100, 250, 500)
START, BATCH, BUDGET = 20, 10, 500


def features(rows, *, base, tfidf) -> dict[str, np.ndarray]:
    from fine_tuning_assets.tasks.dedup.features import lexical_features
    from fine_tuning_assets.tasks.dedup.model import BASE_COSINE, BASE_TOKEN_F1

    pairs = [(a, b) for a, b, _ in rows]
    return {
        BASE_COSINE: base.similarities(pairs).astype(np.float64),
        BASE_TOKEN_F1: base.token_f1(pairs),
        **lexical_features(pairs, tfidf=tfidf),
    }


def simulate(
    order: str, seed: int, pool: dict, y: np.ndarray, dev: dict, dev_y: np.ndarray
) -> dict[int, float]:
    from fine_tuning_assets.core.calibration import PlattScaling
    from fine_tuning_assets.tasks.dedup.model import BASE_COSINE, BASE_FEATURES
    from fine_tuning_assets.tasks.dedup.recipes import fit_stacker
    from fine_tuning_assets.tasks.dedup.review_queue import queue_order

    rng = np.random.default_rng(seed)
    permutation = rng.permutation(y.size)
    start = 0
    while len(set(y[permutation[start : start + START]].tolist())) < 2:
        start += 1
    labelled = list(permutation[start : start + START])
    ap: dict[int, float] = {}

    def fit(index):
        index = np.asarray(index)
        return fit_stacker(
            {k: v[index] for k, v in pool.items()}, y[index], names=BASE_FEATURES, regularization=1.0
        )

    while True:
        if len(labelled) % BATCH == 0 and len(set(y[labelled].tolist())) == 2:
            ap[len(labelled)] = float(average_precision_score(dev_y, fit(labelled).predict_proba(dev)))
        if len(labelled) >= BUDGET:
            return ap
        chosen = set(labelled)
        rest = np.asarray([i for i in range(y.size) if i not in chosen])
        if order == "random":
            remaining = [i for i in permutation if i not in chosen]
            labelled += remaining[:BATCH]
            continue
        model = fit(labelled)
        probabilities = model.predict_proba({k: v[rest] for k, v in pool.items()})
        base = PlattScaling.fit(pool[BASE_COSINE][labelled], y[labelled]).predict_proba(
            pool[BASE_COSINE][rest]
        )
        ranked = queue_order(probabilities, threshold=0.5, recipe_probabilities=[base])
        labelled += [int(rest[i]) for i in ranked[:BATCH]]


def labels_to_reach(curve: dict[int, float], target: float) -> int | None:
    reached = [n for n in sorted(curve) if curve[n] >= target]
    return reached[0] if reached else None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--output", default=str(RESULTS / "active-learning.json"))
    args = parser.parse_args()

    from fine_tuning_assets.tasks.dedup.features import TfidfCosine
    from fine_tuning_assets.tasks.dedup.recipes import TFIDF_ANALYZER
    from fine_tuning_assets.tasks.dedup.scoring import BaseCosineScorer

    started = time.perf_counter()
    train, dev = read_stsb("train"), read_stsb("dev")
    y = np.asarray([int(s >= 4.0) for *_, s in train])
    dev_y = np.asarray([int(s >= 4.0) for *_, s in dev])
    base = BaseCosineScorer(None)
    tfidf = TfidfCosine.fit([t for a, b, _ in train for t in (a, b)], analyzer=TFIDF_ANALYZER)
    pool, dev_features = features(train, base=base, tfidf=tfidf), features(dev, base=base, tfidf=tfidf)
    print(
        f"features of {len(train)} pool and {len(dev)} dev pairs in {time.perf_counter() - started:.0f}s",
        flush=True,
    )
    runs: dict[str, list[dict[int, float]]] = {"random": [], "queue": []}
    for seed in range(args.seeds):
        for order in runs:
            runs[order].append(simulate(order, seed, pool, y, dev_features, dev_y))
            curve = runs[order][-1]
            print(
                f"seed {seed} {order}: " + ", ".join(f"AP@{n} {curve[n]:.3f}" for n in CHECKPOINTS),
                flush=True,
            )
    steps = sorted(runs["random"][0])
    mean = {
        order: {n: float(np.mean([c[n] for c in curves])) for n in steps} for order, curves in runs.items()
    }
    target = mean["random"][BUDGET]
    needed = labels_to_reach(mean["queue"], target)
    per_seed = [labels_to_reach(q, r[BUDGET]) for q, r in zip(runs["queue"], runs["random"], strict=True)]
    base_ap = float(average_precision_score(dev_y, dev_features["base_cosine"]))
    lines = [
        f"Model retrained at every step: the small-data stacker; {args.seeds} seeds; base cosine dev AP {base_ap:.3f}.",
        "",
        "| labels | random order AP (dev) | queue order AP (dev) |",
        "|---|---|---|",
        *(
            f"| {n} | {mean['random'][n]:.3f} ± {np.std([c[n] for c in runs['random']]):.3f} | "
            f"{mean['queue'][n]:.3f} ± {np.std([c[n] for c in runs['queue']]):.3f} |"
            for n in CHECKPOINTS
        ),
        "",
        f"Queue order reaches random order's AP@{BUDGET} ({target:.3f}) with "
        + (f"{needed} labels ({needed / BUDGET:.0%})" if needed else f"more than {BUDGET} labels")
        + f" (mean curves); per seed: {', '.join(str(n) for n in per_seed)}.",
    ]
    table = "\n".join(lines) + "\n"
    results: dict[str, Any] = {
        "dataset": "STS-B en train as the pool (score >= 4.0 = merge), dev as evaluation",
        "command": "python bench/active_learning.py " + " ".join(sys.argv[1:]),
        "model": "small-data stacker (fit_stacker over BASE_FEATURES), retrained every batch",
        "start_labels": START,
        "batch": BATCH,
        "seeds": args.seeds,
        "base_cosine_average_precision": base_ap,
        "mean_average_precision": {order: {str(n): v for n, v in m.items()} for order, m in mean.items()},
        "curves": {
            order: [{str(n): v for n, v in c.items()} for c in curves] for order, curves in runs.items()
        },
        "random_ap_at_budget": target,
        "queue_labels_to_reach_it": needed,
        "queue_labels_to_reach_it_per_seed": per_seed,
        "seconds": round(time.perf_counter() - started, 1),
        "table": table,
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    output.with_suffix(".md").write_text(table, encoding="utf-8")
    print("\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
