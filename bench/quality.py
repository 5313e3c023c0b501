"""Quality benchmark on STS-B: does the model trained from human decisions beat what you have today?

For each decision count (learning curve) and seed, in a fresh FTA_HOME:

1. a sample of the STS-B train split is imported as merge decisions with the product's import
   (``fta import pairs``, score >= 4.0 = merge),
2. the dedup chain is materialized (``fta materialize``): recipe search, evaluation, gate, promotion,
3. the dev split is evaluated through ``fta evaluate pairs`` (the active model, or the base model the
   product falls back to when the gate kept every candidate out, and the candidate itself),

and in the same run two baselines are fitted on the same sampled decisions and scored on dev: the base
MiniLM cosine (threshold fitted on the sample) and TF-IDF + logistic regression.

Usage (from the project root; STS-B is read from ../shared/datasets/stsb):
    .venv/bin/python bench/quality.py                       # the full learning curve
    .venv/bin/python bench/quality.py --sizes all --seeds 1 # one run on the whole train split

Writes bench/results/quality-stsb.json and bench/results/quality-stsb.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

PROJECT = Path(__file__).resolve().parents[1]
DATA = PROJECT.parent / "shared" / "datasets" / "stsb"
RESULTS = PROJECT / "bench" / "results"
FTA = str(Path(sys.executable).with_name("fta"))
PAIR_OPTIONS = ["--no-header", "--columns", "text_a,text_b,label", "--positive", ">=4"]
SMALL_SIZES = {50, 100, 250}


def read_stsb(name: str) -> list[tuple[str, str, float]]:
    with (DATA / f"stsb-en-{name}.csv").open(encoding="utf-8", newline="") as stream:
        return [(a, b, float(score)) for a, b, score in csv.reader(stream)]


def write_rows(path: Path, rows: list[tuple[str, str, float]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows(rows)


def fta(home: Path, *args: str) -> tuple[int, str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTA_", "FINETUNE_", "DAGSTER_"))}
    env["FTA_HOME"] = str(home / ".fta")
    started = time.perf_counter()
    done = subprocess.run([FTA, *args], cwd=home, env=env, capture_output=True, text=True)
    (home / "fta.log").open("a").write(f"$ fta {' '.join(args)}\n{done.stdout}\n{done.stderr}\n")
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - started


# -- baselines ------------------------------------------------------------------------------------------
def base_cosine_baseline(train, dev, model) -> dict[str, Any]:
    from fine_tuning_assets.core.base_model import cosine_similarities
    from fine_tuning_assets.core.metrics import compute_pair_metrics, fit_best_threshold

    cache: dict[str, np.ndarray] = {}

    def cosine(rows):
        return cosine_similarities(model, [r[0] for r in rows], [r[1] for r in rows], cache=cache)

    train_y = np.array([int(r[2] >= 4.0) for r in train])
    dev_y = np.array([int(r[2] >= 4.0) for r in dev])
    threshold = fit_best_threshold(train_y, cosine(train), metric="f1")
    dev_cos = np.clip(cosine(dev), 0.0, 1.0)
    metrics = compute_pair_metrics(dev_y, dev_cos, threshold=float(np.clip(threshold, 0, 1)))
    return {"average_precision": metrics["average_precision"], "f1": metrics["f1"], "threshold": threshold}


def tfidf_logistic_regression_baseline(train, dev) -> dict[str, Any]:
    """TF-IDF (word 1-2 grams, fitted on the sampled texts) of each side; logistic regression on
    [|a - b|, a * b, cosine]."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit([t for r in train for t in r[:2]])

    def features(rows):
        a = vectorizer.transform([r[0] for r in rows])
        b = vectorizer.transform([r[1] for r in rows])
        cosine = np.asarray(a.multiply(b).sum(axis=1))
        return hstack([abs(a - b), a.multiply(b), cosine]).tocsr()

    train_y = np.array([int(r[2] >= 4.0) for r in train])
    dev_y = np.array([int(r[2] >= 4.0) for r in dev])
    model = LogisticRegression(C=1.0, max_iter=2000).fit(features(train), train_y)
    p = model.predict_proba(features(dev))[:, 1]
    return {"average_precision": float(average_precision_score(dev_y, p))}


# -- one run --------------------------------------------------------------------------------------------
def run_one(
    size: int | str,
    seed: int,
    *,
    train_all,
    dev,
    dev_file: Path,
    base_model,
    max_train_minutes: float,
    keep: bool,
) -> dict[str, Any]:
    rng = random.Random(seed)
    sample = list(train_all) if size == "all" else rng.sample(train_all, int(size))
    home = Path(tempfile.mkdtemp(prefix=f"fta-bench-{size}-{seed}-"))
    shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
    write_rows(home / "decisions.csv", sample)
    run: dict[str, Any] = {"decisions": len(sample), "seed": seed, "home": str(home)}
    code, out, seconds = fta(home, "import", "pairs", str(home / "decisions.csv"), *PAIR_OPTIONS)
    if code != 0:
        raise SystemExit(f"import failed for {size}/{seed}:\n{out}")
    run["import_seconds"] = round(seconds, 2)
    code, out, seconds = fta(home, "materialize", "--max-train-minutes", str(max_train_minutes))
    run["materialize_exit_code"], run["materialize_seconds"] = code, round(seconds, 1)
    run["outcome"] = {0: "promoted", 3: "gate refused"}.get(code, "chain failed")
    if code == 1:
        failures = [line for line in out.splitlines() if "failed:" in line]
        run["failure"] = failures[-1][:300] if failures else out[-300:]
    registry_versions = _versions(home)
    version_args = [a for v in registry_versions for a in ("--model-version", str(v))]
    report_path = home / "dev-evaluation.json"
    code, out, seconds = fta(
        home, "evaluate", "pairs", str(dev_file), *PAIR_OPTIONS, *version_args, "--output", str(report_path)
    )
    if code != 0:
        raise SystemExit(f"evaluate failed for {size}/{seed}:\n{out}")
    run["evaluate_seconds"] = round(seconds, 1)
    report = json.loads(report_path.read_text())
    by_role = {m["role"]: m for m in report["models"]}
    serving = by_role.get("active") or by_role["base"]
    candidate = by_role.get("active") or next(
        (m for r, m in by_role.items() if r.startswith("version")), None
    )
    run["serving"] = _summary(serving)
    run["base_as_served"] = _summary(by_role["base"])
    run["candidate"] = _summary(candidate) if candidate else None
    run["test_split_gate"] = _gate(home)
    run["base_cosine"] = base_cosine_baseline(sample, dev, base_model)
    run["tfidf_logistic_regression"] = tfidf_logistic_regression_baseline(sample, dev)
    if not keep:
        shutil.rmtree(home, ignore_errors=True)
    return run


def _versions(home: Path) -> list[int]:
    from fine_tuning_assets.core.database import open_database
    from fine_tuning_assets.core.registry import ModelRegistry

    registry = ModelRegistry(open_database(f"sqlite:///{home / '.fta' / 'fta.sqlite'}"))
    return [v.id for v in registry.versions("dedup") if v.artifact_path]


def _gate(home: Path) -> dict[str, Any] | None:
    from fine_tuning_assets.core.database import open_database
    from fine_tuning_assets.core.registry import ModelRegistry

    registry = ModelRegistry(open_database(f"sqlite:///{home / '.fta' / 'fta.sqlite'}"))
    evaluated = [v for v in registry.versions("dedup") if v.evaluation]
    if not evaluated:
        return None
    evaluation = evaluated[-1].evaluation
    models = evaluation["models"]
    return {
        "passed": evaluation["gate"]["passed"],
        "reasons": evaluation["gate"]["reasons"],
        "test_pairs": evaluation["test_pairs"],
        "regime": evaluation.get("regime", "fixed_split"),
        "band_checks": evaluation.get("band_checks"),
        "decided_without_human": evaluation.get("decided_without_human"),
        "selected_recipe": evaluation.get("selected_recipe"),
        "test_average_precision": {role: m["metrics"]["average_precision"] for role, m in models.items()},
        "recipe_search": evaluated[-1].training_metrics,
    }


def _summary(model: dict[str, Any]) -> dict[str, Any]:
    m = model["metrics"]
    return {
        "role": model["role"],
        "name": model["name"],
        "recipe": model.get("recipe"),
        "average_precision": m["average_precision"],
        "f1": m["f1"],
        "brier_score": m["brier_score"],
        "auto_merge_threshold": model["bands"]["auto_merge"] if model["bands"] else None,
        "auto_merge_coverage": m["auto_merge_coverage"],
        "auto_merge_precision": m["auto_merge_precision"],
        "keep_separate_threshold": (model["bands"] or {}).get("keep_separate"),
        "keep_separate_coverage": m.get("keep_separate_coverage"),
        "keep_separate_duplicate_share": m.get("keep_separate_duplicate_share"),
        "decided_without_human": m.get("decided_without_human"),
    }


# -- aggregate ------------------------------------------------------------------------------------------
def _mean_sd(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| decisions | seeds | regime | served model AP (dev) | base cosine AP | served − base | TF-IDF + LR AP | promoted | candidate AP (dev) | chosen recipes | auto-merge coverage / precision (dev) | keep-separate coverage / duplicates (dev) | decided without a human (dev) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for runs in results["runs"].values():
        served = [r["serving"]["average_precision"] for r in runs]
        base = [r["base_cosine"]["average_precision"] for r in runs]
        tfidf = [r["tfidf_logistic_regression"]["average_precision"] for r in runs]
        promoted = sum(r["outcome"] == "promoted" for r in runs)
        candidate = [r["candidate"]["average_precision"] for r in runs if r["candidate"]]
        recipes = sorted({(r["test_split_gate"] or {}).get("selected_recipe") or "–" for r in runs})
        auto = [
            f"{r['serving']['auto_merge_coverage']:.3f} / "
            + (
                "–"
                if r["serving"]["auto_merge_precision"] is None
                else f"{r['serving']['auto_merge_precision']:.3f}"
            )
            for r in runs
        ]
        keep = [
            f"{r['serving'].get('keep_separate_coverage') or 0.0:.3f} / "
            + (
                "–"
                if r["serving"].get("keep_separate_duplicate_share") is None
                else f"{r['serving']['keep_separate_duplicate_share']:.3f}"
            )
            for r in runs
        ]
        decided = [r["serving"].get("decided_without_human") or 0.0 for r in runs]
        regimes = sorted({(r["test_split_gate"] or {}).get("regime") or "–" for r in runs})
        gain = [s - b for s, b in zip(served, base, strict=True)]
        lines.append(
            f"| {runs[0]['decisions']} | {len(runs)} | {', '.join(regimes).replace('_', ' ')} | {_mean_sd(served)} | "
            f"{_mean_sd(base)} | {_mean_sd(gain)} (min {min(gain):+.3f}) | {_mean_sd(tfidf)} | "
            f"{promoted}/{len(runs)} | {_mean_sd(candidate)} | {', '.join(recipes)} | {'; '.join(auto)} | "
            f"{'; '.join(keep)} | {'; '.join(f'{d:.3f}' for d in decided)} |"
        )
    return "\n".join(lines) + "\n\n" + per_run_markdown(results)


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def per_run_markdown(results: dict[str, Any]) -> str:
    """One row per run. "Base AP" is the base model's row of the same ``fta evaluate pairs`` report (the
    same de-duplicated dev pairs the served model is scored on), so Δ is exactly 0 when base is served; the
    base-cosine baseline of the first table is scored on the raw dev file and differs in the third decimal."""
    lines = [
        "| decisions | seed | outcome | served model | served AP (dev) | base AP (dev) | Δ | candidate AP (dev) | decided without a human (dev) | auto-merge coverage / precision (dev) | keep-separate coverage / duplicates (dev) | materialize |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for runs in results["runs"].values():
        for r in runs:
            served, base = r["serving"], r["base_as_served"]
            candidate = r["candidate"]
            lines.append(
                f"| {r['decisions']} | {r['seed']} | {r['outcome']} | {served['name']} | "
                f"{served['average_precision']:.3f} | {base['average_precision']:.3f} | "
                f"{served['average_precision'] - base['average_precision']:+.3f} | "
                f"{_rate(candidate['average_precision'] if candidate else None)} | "
                f"{served.get('decided_without_human') or 0.0:.3f} | "
                f"{served['auto_merge_coverage']:.3f} / {_rate(served['auto_merge_precision'])} | "
                f"{served.get('keep_separate_coverage') or 0.0:.3f} / "
                f"{_rate(served.get('keep_separate_duplicate_share'))} | {r['materialize_seconds']:.0f} s |"
            )
    return "\n".join(lines) + "\n"


def write_results(results: dict[str, Any], output: Path) -> None:
    results["table"] = markdown(results)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    output.with_suffix(".md").write_text(results["table"], encoding="utf-8")
    print("\n" + results["table"])
    print(f"written {output} and {output.with_suffix('.md')}")


def combine(files: list[Path], output: Path) -> int:
    parts = [json.loads(f.read_text()) for f in files]
    runs: dict[str, list] = {}
    for part in parts:
        for size, size_runs in part["runs"].items():
            runs.setdefault(size, []).extend(size_runs)
    order = sorted(runs, key=lambda size: float("inf") if size == "all" else int(size))
    write_results(
        {
            "dataset": parts[0]["dataset"],
            "command": " && ".join(part["command"] for part in parts),
            "max_train_minutes": sorted({part["max_train_minutes"] for part in parts}),
            "seconds": sum(part.get("seconds", 0) for part in parts),
            "runs": {size: runs[size] for size in order},
        },
        output,
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="50,100,250,1000,all")
    parser.add_argument("--seeds", type=int, default=3, help="seeds for the small sizes (50, 100, 250)")
    parser.add_argument("--large-seeds", type=int, default=1, help="seeds for the larger sizes")
    parser.add_argument(
        "--seed-list", help="comma-separated seeds to run for every size (instead of --seeds / --large-seeds)"
    )
    parser.add_argument("--max-train-minutes", type=float, default=30.0)
    parser.add_argument("--output", default=str(RESULTS / "quality-stsb.json"))
    parser.add_argument("--keep", action="store_true", help="keep each run's FTA_HOME")
    parser.add_argument(
        "--combine",
        nargs="+",
        metavar="JSON",
        help="merge the runs of earlier result files (e.g. sizes run in parallel) into --output; runs nothing",
    )
    args = parser.parse_args()
    if args.combine:
        return combine([Path(f) for f in args.combine], Path(args.output))

    from fine_tuning_assets.core.base_model import load_sentence_transformer, resolve_base_model

    train_all, dev = read_stsb("train"), read_stsb("dev")
    base_model = load_sentence_transformer(resolve_base_model(None))
    dev_file = Path(tempfile.mkdtemp(prefix="fta-bench-dev-")) / "stsb-dev.csv"
    write_rows(dev_file, dev)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "dataset": "STS-B en (train as decisions, dev as evaluation; score >= 4.0 = merge)",
        "command": "python bench/quality.py " + " ".join(sys.argv[1:]),
        "max_train_minutes": args.max_train_minutes,
        "runs": {},
    }
    for size in args.sizes.split(","):
        size_value: int | str = size if size == "all" else int(size)
        seeds = args.seeds if size_value in SMALL_SIZES else args.large_seeds
        for seed in [int(s) for s in args.seed_list.split(",")] if args.seed_list else range(seeds):
            run = run_one(
                size_value,
                seed,
                train_all=train_all,
                dev=dev,
                dev_file=dev_file,
                base_model=base_model,
                max_train_minutes=args.max_train_minutes,
                keep=args.keep,
            )
            results["runs"].setdefault(size, []).append(run)
            # Partial results after every run, so a long benchmark interrupted keeps what it measured.
            Path(args.output).with_suffix(".partial.json").write_text(json.dumps(results, indent=2) + "\n")
            print(
                f"{size:>5} seed {seed}: {run['outcome']:<12} served {run['serving']['name']}: AP "
                f"{run['serving']['average_precision']:.3f} (auto-merge {run['serving']['auto_merge_coverage']:.3f}/"
                f"{run['serving']['auto_merge_precision']}); base {run['base_cosine']['average_precision']:.3f}, "
                f"TF-IDF+LR {run['tfidf_logistic_regression']['average_precision']:.3f}; "
                f"materialize {run['materialize_seconds']:.0f}s",
                flush=True,
            )
    results["seconds"] = round(time.perf_counter() - started, 1)
    write_results(results, Path(args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
