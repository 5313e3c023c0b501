"""Retrieval benchmark on Cranfield: does the model trained from people's ratings rank better than what a RAG
system has without training — BM25, TF-IDF, the base embedding, and the two fused?

One run, for each seed:

1. Cranfield's 225 queries are split by the seed: half are "feedback" (their judgements are imported as
   ratings), half are held out. All 1,400 documents (title → text) are imported as the archive.
2. Through the product's CLI in a fresh FTA_HOME: ``fta import documents``, ``fta import
   retrieval-feedback``, ``fta materialize --task retrieval`` (training set with mined hard negatives, recipe
   search, evaluation, gate, promotion).
3. On the held-out queries, over the whole corpus: the served model (the active version, or the base
   embedding the product falls back to when the gate kept every candidate out) and, in the same run,
   BM25, TF-IDF (cosine), the base embedding, and the untrained hybrids (reciprocal-rank fusion, and a
   z-scored mix with BM25 weight 0.3).

Judgement grades (1 = complete answer … 4 = minimal interest; -1 = the paper the question came from) become
ratings 4 … 1 (-1 → 4): every judged document is relevant, graded gains for nDCG.

Usage (from the project root; Cranfield is read from ../shared/datasets/cranfield):
    .venv/bin/python bench/retrieval.py                 # seeds 0 and 1
    .venv/bin/python bench/retrieval.py --seeds 0 --max-train-minutes 10

Writes bench/results/retrieval-cranfield.json and .md (the table the README shows).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
DATA = PROJECT.parent / "shared" / "datasets" / "cranfield"
RESULTS = PROJECT / "bench" / "results"
FTA = str(Path(sys.executable).with_name("fta"))


def read_smart(path: Path) -> list[dict[str, str]]:
    """SMART records: ``.I id`` then fields ``.T``, ``.A``, ``.B``, ``.W``."""
    records, field = [], None
    for line in path.read_text(encoding="ascii", errors="replace").splitlines():
        if line.startswith(".I "):
            records.append({"id": line[3:].strip()})
            field = None
        elif re.fullmatch(r"\.[TABW]", line.strip()):
            field = line.strip()[1]
            records[-1].setdefault(field, "")
        elif field is not None:
            records[-1][field] += line + "\n"
    return [{k: " ".join(v.split()) if k != "id" else v for k, v in r.items()} for r in records]


def read_cranfield() -> tuple[list[dict[str, str]], list[str], dict[int, dict[str, float]]]:
    # Two records have neither text nor title: nothing to retrieve (their judgements are dropped with them).
    documents = [
        {"id": d["id"], "title": d.get("T", ""), "text": d.get("W", "") or d.get("T", "")}
        for d in read_smart(DATA / "cran.all.1400")
        if d.get("W") or d.get("T")
    ]
    kept = {d["id"] for d in documents}
    queries = [q.get("W", "") for q in read_smart(DATA / "cran.qry")]
    qrels: dict[int, dict[str, float]] = {}
    for line in (DATA / "cranqrel").read_text().split("\n"):
        parts = line.split()
        if len(parts) < 3:
            continue
        position, document, grade = int(parts[0]), parts[1], int(parts[2])
        rating = 4.0 if grade == -1 else float(5 - grade)
        if document in kept:
            qrels.setdefault(position - 1, {})[document] = rating
    return documents, queries, qrels


def fta(home: Path, *args: str) -> tuple[int, str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTA_", "FINETUNE_", "DAGSTER_"))}
    env["FTA_HOME"] = str(home / ".fta")
    env["DAGSTER_HOME"] = str(home)
    started = time.perf_counter()
    done = subprocess.run([FTA, *args], cwd=home, env=env, capture_output=True, text=True)
    with (home / "fta.log").open("a") as log:
        log.write(f"$ fta {' '.join(args)}\n{done.stdout}\n{done.stderr}\n")
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - started


def tfidf_scores(corpus_texts: list[str], queries: list[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english")
    documents = vectorizer.fit_transform(corpus_texts)
    return (vectorizer.transform(queries) @ documents.T).toarray()


def prepare_and_train(
    home: Path,
    seed: int,
    *,
    documents: list[dict[str, str]],
    queries: list[str],
    qrels: dict[int, dict[str, float]],
    feedback: list[int],
    max_train_minutes: float,
) -> dict[str, float]:
    """Write the archive and the feedback queries' ratings, import them and materialize the chain."""
    shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
    with (home / "documents.jsonl").open("w", encoding="utf-8") as stream:
        for d in documents:
            stream.write(json.dumps(d) + "\n")
    with (home / "ratings.csv").open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["query", "document_id", "label"])
        for q in feedback:
            for document, rating in sorted(qrels[q].items()):
                writer.writerow([queries[q], document, rating])
    times: dict[str, float] = {}
    for name, args in (
        ("import documents", ("import", "documents", "documents.jsonl")),
        ("import ratings", ("import", "retrieval-feedback", "ratings.csv", "--user", "cranfield")),
        (
            "materialize",
            ("materialize", "--task", "retrieval", "--max-train-minutes", str(max_train_minutes)),
        ),
    ):
        code, output, seconds = fta(home, *args)
        times[name] = round(seconds, 1)
        print(f"seed {seed}: fta {' '.join(args)} → exit {code} in {seconds:.0f}s", flush=True)
        if code not in (0, 3):
            raise SystemExit(f"fta {' '.join(args)} failed ({code}):\n{output[-3000:]}")
    (home / "times.json").write_text(json.dumps(times))
    return times


def run_seed(seed: int, *, max_train_minutes: float, keep: bool, home: Path | None = None) -> dict[str, Any]:
    """One seed; with ``home``, the kept FTA_HOME of an earlier run of the same seed is scored again."""
    from fine_tuning_assets.core.config import database_url_from_env
    from fine_tuning_assets.core.database import open_database
    from fine_tuning_assets.core.registry import ModelRegistry
    from fine_tuning_assets.tasks.retrieval.model import BASE_EMBEDDING, Ranker
    from fine_tuning_assets.tasks.retrieval.ranking import (
        Corpus,
        fuse,
        mean_metrics,
        ranking_metrics,
        reciprocal_rank_fusion,
    )

    documents, queries, qrels = read_cranfield()
    judged = sorted(qrels)
    random.Random(seed).shuffle(judged)
    feedback, held_out = sorted(judged[: len(judged) // 2]), sorted(judged[len(judged) // 2 :])
    if home is not None:
        keep = True
        times = json.loads((home / "times.json").read_text()) if (home / "times.json").is_file() else {}
    else:
        home = Path(tempfile.mkdtemp(prefix=f"fta-bench-retrieval-{seed}-"))
        times = prepare_and_train(
            home,
            seed,
            documents=documents,
            queries=queries,
            qrels=qrels,
            feedback=feedback,
            max_train_minutes=max_train_minutes,
        )
    registry = ModelRegistry(open_database(database_url_from_env(home / ".fta", {})))
    versions = registry.versions("retrieval")
    candidate = versions[-1] if versions else None
    active = registry.active("retrieval")
    corpus = Corpus.of(documents)
    texts = [queries[q] for q in held_out]
    truth = [qrels[q] for q in held_out]
    base = Ranker(corpus, directory=None, base_model=None)
    bm25 = base.bm25.scores(texts)
    dense = base.dense(BASE_EMBEDDING).scores(texts)
    rows: dict[str, np.ndarray] = {}
    if active is not None:
        served = Ranker.for_model(active.artifact_path, corpus, base_model=None)
        rows[f"served: {active.label} · {served.spec.selected_recipe}"] = served.recipe_scores(texts)
        for recipe in served.spec.recipes:
            if recipe != served.spec.selected_recipe:
                rows[f"its recipe: {recipe}"] = served.recipe_scores(texts, recipe)
    else:
        rows["served: base embedding (fallback: no active model)"] = dense
    rows["BM25"] = bm25
    rows["TF-IDF"] = tfidf_scores(corpus.texts, texts)
    rows["base embedding (all-MiniLM-L6-v2)"] = dense
    rows["untrained hybrid: RRF (BM25 + base)"] = reciprocal_rank_fusion(bm25, dense)
    rows["untrained hybrid: z-mix, BM25 weight 0.3"] = fuse(bm25, dense, weight=0.3)
    metrics = {name: mean_metrics(ranking_metrics(scores, truth, corpus)) for name, scores in rows.items()}
    served_name = next(iter(rows))
    reference = metrics["untrained hybrid: z-mix, BM25 weight 0.3"]["ndcg@10"]
    result = {
        "seed": seed,
        "feedback_queries": len(feedback),
        "held_out_queries": len(held_out),
        "documents": len(documents),
        "served": served_name,
        "candidate": candidate.label if candidate else None,
        "candidate_state": candidate.state if candidate else None,
        "gate": (candidate.evaluation.get("gate") if candidate else None),
        "training": candidate.training_metrics if candidate else None,
        "metrics": metrics,
        "served_minus_untrained_hybrid_ndcg@10": round(metrics[served_name]["ndcg@10"] - reference, 4),
        "seconds": times,
        "fta_home": str(home) if keep else None,
    }
    if not keep:
        shutil.rmtree(home, ignore_errors=True)
    return result


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| seed | model (held-out queries, whole corpus) | nDCG@10 | MRR@10 | MAP | Recall@100 |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        for name, m in r["metrics"].items():
            lines.append(
                f"| {r['seed']} | {name} | {m['ndcg@10']:.3f} | {m['mrr@10']:.3f} | {m['map']:.3f} | "
                f"{m['recall@100']:.3f} |"
            )
    gaps = [r["served_minus_untrained_hybrid_ndcg@10"] for r in results]
    lines.append("")
    lines.append(
        f"Served model minus the untrained z-mix hybrid, nDCG@10: {', '.join(f'{g:+.3f}' for g in gaps)} "
        f"(mean {statistics.mean(gaps):+.3f}; target +0.030)."
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--max-train-minutes", type=float, default=20.0)
    parser.add_argument("--keep", action="store_true", help="keep each run's FTA_HOME")
    parser.add_argument(
        "--home",
        action="append",
        default=[],
        metavar="SEED=PATH",
        help="score the kept FTA_HOME of an earlier run of SEED instead of running it again",
    )
    parser.add_argument("--output", default=str(RESULTS / "retrieval-cranfield.json"))
    args = parser.parse_args()
    homes = {int(seed): Path(path) for seed, path in (item.split("=", 1) for item in args.home)}
    results = []
    for seed in (int(s) for s in args.seeds.split(",")):
        results.append(
            run_seed(seed, max_train_minutes=args.max_train_minutes, keep=args.keep, home=homes.get(seed))
        )
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
        output.with_suffix(".md").write_text(markdown(results), encoding="utf-8")
        print(markdown(results), flush=True)


if __name__ == "__main__":
    main()
