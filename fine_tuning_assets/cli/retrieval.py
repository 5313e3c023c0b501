"""The retrieval task's commands: import documents and ratings, evaluate on a file, rank a query.

Example:
    $ fta import documents articles.jsonl
    $ fta import retrieval-feedback ratings.csv                   # query,document_id,label
    $ fta import retrieval-feedback wikiqa.tsv --document-field answer --query-field question
    $ fta import retrieval-feedback ./scifact                     # a BEIR folder
    $ fta evaluate retrieval held_out.csv --document-field answer --query-field question
    $ fta rank "how do I export a notebook as PDF"
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fine_tuning_assets.cli.common import (
    EXIT_FALLBACK,
    EXIT_OK,
    CliError,
    add_model_version_option,
    evaluation_output,
    exit_for_fallback,
    load_settings,
    open_engine,
    open_registry,
    print_table,
)
from fine_tuning_assets.core.config import Settings

TASK = "retrieval"


def errors() -> tuple[type[Exception], ...]:
    from fine_tuning_assets.core.imports import ImportFileError
    from fine_tuning_assets.tasks.retrieval.store import RetrievalStoreError

    return (ImportFileError, RetrievalStoreError)


def _store(settings: Settings):  # -> RetrievalStore
    from fine_tuning_assets.tasks.retrieval.store import RetrievalStore

    return RetrievalStore(open_engine(settings))


def seed_demo(settings: Settings) -> None:
    """Seed the retrieval store with the demo help center (articles, queries, ratings) unless it has ratings."""
    from fine_tuning_assets.tasks.retrieval.demo import generate_demo_retrieval

    store = _store(settings)
    counts = store.counts()
    if counts["judgements"]:
        print(
            f"the retrieval store at {settings.home} already holds {counts['judgements']} ratings; using them "
            "as they are"
        )
        return
    report = store.add(generate_demo_retrieval(), source="fine_tuning_assets.tasks.retrieval.demo")
    counts = store.counts()
    print(
        f"seeded the retrieval store at {settings.home} with the demo help center: {report.documents_new} "
        f"articles, {counts['queries']} queries, {report.judgements_new} ratings"
    )


# -- import ------------------------------------------------------------------------------------------------
def _read_feedback(args: argparse.Namespace):  # -> RetrievalBatch
    from fine_tuning_assets.tasks.retrieval.imports import read_beir, read_retrieval_feedback

    path = Path(args.file)
    if path.is_dir():
        if not (path / "corpus.jsonl").is_file():
            raise CliError(f"{path} is a folder without corpus.jsonl: not a BEIR dataset")
        return read_beir(path)
    return read_retrieval_feedback(
        path,
        query_field=args.query_field,
        document_field=args.document_field,
        document_id_field=args.document_id_field,
        label_field=args.label_field,
        user_field=args.user_field,
        relevant_at=args.relevant_at,
        user=args.user,
        file_format=args.format,
        has_header=not args.no_header,
        column_names=args.columns.split(",") if args.columns else None,
    )


def _print_import(path: Path, report: Any, *, duplicates: Sequence[str]) -> None:
    if not report.wrote_anything:
        print(
            f"nothing new in {path}: everything in it is already in the retrieval store; nothing was written"
        )
        return
    print(
        f"imported {path}: documents {report.documents_new} new, {report.documents_changed} changed, "
        f"{report.documents_already_present} already present; ratings {report.judgements_new} new, "
        f"{report.judgements_changed} changed, {report.judgements_already_present} already present"
        + (f"; {len(duplicates)} duplicate rows in the file (stored once)" if duplicates else "")
        + f"; import batch {report.batch_id}"
    )
    if report.changed_document_ids:
        print(f"changed documents (updated): {', '.join(report.changed_document_ids[:20])}")


def cmd_import_documents(args: argparse.Namespace) -> int:
    from fine_tuning_assets.tasks.retrieval.imports import read_documents

    path = Path(args.file)
    batch = read_documents(
        path,
        id_field=args.id_field,
        title_field=args.title_field,
        text_field=args.text_field,
        file_format=args.format,
    )
    report = _store(load_settings()).add(batch, source=str(path.resolve()))
    _print_import(path, report, duplicates=batch.duplicates)
    return EXIT_OK


def cmd_import_feedback(args: argparse.Namespace) -> int:
    path = Path(args.file)
    batch = _read_feedback(args)
    report = _store(load_settings()).add(batch, source=str(path.resolve()))
    _print_import(path, report, duplicates=batch.duplicates)
    return EXIT_OK


# -- evaluate ----------------------------------------------------------------------------------------------
def _rankers(settings: Settings, corpus: Any, *, version_ids: Sequence[int]):  # -> list[(role, name, Ranker)]
    from fine_tuning_assets.core.base_model import BUNDLED_BASE_MODEL
    from fine_tuning_assets.tasks.retrieval.model import Ranker

    registry = open_registry(settings)
    rankers = []
    active = registry.active(TASK)
    versions = ([active] if active else []) + [
        registry.get(i) for i in version_ids if not active or i != active.id
    ]
    for version in versions:
        if version.task != TASK:
            raise CliError(f"{version.label} is a {version.task} model, not a retrieval model")
        base = None if version.base_model == BUNDLED_BASE_MODEL else version.base_model
        role = "active" if active is not None and version.id == active.id else f"version {version.id}"
        rankers.append(
            (role, version.label, Ranker.for_model(version.artifact_path, corpus, base_model=base))
        )
    return rankers, active


def cmd_evaluate_retrieval(args: argparse.Namespace) -> int:
    """Rank each query's candidate documents (the documents the file rates for it; every document of a BEIR
    folder) with the active model, the base embedding and BM25; print and write the metric table."""
    from fine_tuning_assets.core.artifacts import write_json_atomic
    from fine_tuning_assets.tasks.retrieval.model import BASE_EMBEDDING, Ranker
    from fine_tuning_assets.tasks.retrieval.ranking import (
        Corpus,
        fuse,
        mean_metrics,
        ranking_metrics,
        reciprocal_rank_fusion,
    )
    from fine_tuning_assets.tasks.retrieval.training_set import TrainingSetConfig, rated_queries

    settings = load_settings()
    path = Path(args.file)
    output = evaluation_output(settings, args.output, name=f"{path.stem}-retrieval")
    batch = _read_feedback(args)
    documents = {d.id: d for d in batch.documents}
    missing = {j.document_id for j in batch.judgements} - documents.keys()
    if missing:
        documents.update(_store(settings).get_documents(missing))
        missing -= documents.keys()
    if missing:
        raise CliError(
            f"{len(missing)} rated documents are neither in {path} nor in the retrieval store "
            f"(first: {sorted(missing)[:5]}); give the documents inline (--document-field) or import them"
        )
    whole_corpus = path.is_dir()
    queries, _conflicts = rated_queries(batch.judgements, config=TrainingSetConfig())
    judged = [q for q in queries if q.relevant]
    if not judged:
        raise CliError(f"no query in {path} has a relevant document: nothing to evaluate")
    corpus = Corpus.of(list(documents.values()))
    index = corpus.index_of()
    # Each query ranks its own candidates (answer selection), or the whole corpus (a BEIR folder).
    allowed = np.ones((len(judged), len(corpus.ids)), dtype=bool)
    if not whole_corpus:
        allowed[:] = False
        for row, q in enumerate(judged):
            for document_id in (*q.relevant, *q.irrelevant):
                allowed[row, index[document_id]] = True
    texts = [q.query for q in judged]
    qrels = [q.relevant for q in judged]
    print(
        f"evaluating on {len(judged)} queries with a relevant document ({len(queries) - len(judged)} without "
        f"one skipped), ranking {'all ' + str(len(corpus.ids)) + ' documents' if whole_corpus else 'each query’s rated candidates'}"
    )
    rankers, active = _rankers(settings, corpus, version_ids=args.model_version)
    base = Ranker(corpus, directory=None, base_model=settings.base_model)
    bm25 = base.bm25.scores(texts)
    dense = base.dense(BASE_EMBEDDING).scores(texts)
    scored: list[tuple[str, str, np.ndarray]] = [
        (role, name, ranker.recipe_scores(texts)) for role, name, ranker in rankers
    ]
    scored += [
        ("base", "base embedding", dense),
        ("bm25", "BM25", bm25),
        ("rrf", "untrained hybrid (RRF: BM25 + base)", reciprocal_rank_fusion(bm25, dense)),
        (
            "z-mix",
            "untrained hybrid (z-mix, BM25 weight 0.3)",
            fuse(bm25, dense, weight=0.3),
        ),
    ]
    models = []
    for role, name, scores in scored:
        restricted = np.where(allowed, scores, -1e9)
        models.append(
            {"role": role, "name": name, "metrics": mean_metrics(ranking_metrics(restricted, qrels, corpus))}
        )
    print_table(
        [{"model": f"{m['role']}: {m['name']}", **m["metrics"]} for m in models],
        ["model", "ndcg@10", "mrr@10", "map", "recall@100"],
    )
    if active is None:
        print("no retrieval model is active: serving falls back to the base embedding")
    report = {
        "file": str(path.resolve()),
        "queries": len(judged),
        "queries_without_relevant": len(queries) - len(judged),
        "documents": len(corpus.ids),
        "ranked": "whole corpus" if whole_corpus else "each query's rated candidates",
        "active_version_id": active.id if active else None,
        "models": models,
    }
    write_json_atomic(output, report)
    print(f"\nreport written to {output}")
    return EXIT_OK


# -- rank ----------------------------------------------------------------------------------------------------
def cmd_rank(args: argparse.Namespace) -> int:
    from fine_tuning_assets.tasks.retrieval.serving import NoDocumentsError, RetrievalPredictor, serve_rank

    settings = load_settings()
    try:
        predictor = RetrievalPredictor.load(
            open_registry(settings), _store(settings), base_model=settings.base_model
        )
    except NoDocumentsError as error:
        raise CliError(str(error)) from None
    # A person trying the model from a shell is not live traffic: nothing goes to the prediction log.
    [served] = serve_rank(predictor, [args.query], top_k=args.top_k, engine=None)
    results = [
        {"rank": r.rank, "document_id": r.document_id, "score": r.score, "title": r.title}
        for r in served.results
    ]
    fallback_reason = served.fallback_reason
    if args.json:
        print(
            json.dumps(
                {
                    "query": args.query,
                    "model": served.model,
                    "fallback_reason": fallback_reason,
                    "results": results,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        if fallback_reason:
            print(f"FALLBACK to the base embedding: {fallback_reason}")
        print(f"top {len(results)} of {len(predictor.ranker.corpus.ids)} documents by {served.model}:")
        print_table(results, ["rank", "document_id", "score", "title"])
    return exit_for_fallback(fallback_reason, allow_fallback=args.allow_fallback, what="the ranking above")


# -- printing a chain's evaluation -----------------------------------------------------------------------
def print_evaluation(version: Any) -> None:
    evaluation = version.evaluation
    print(
        f"\nEvaluation of {version.label} on {evaluation['test_queries']} held-out queries over "
        f"{evaluation['documents']} documents, training set {evaluation['dataset_version']}:"
    )
    print_table(
        [{"model": f"{role}: {m['name']}", **m["metrics"]} for role, m in evaluation["models"].items()],
        ["model", "ndcg@10", "mrr@10", "map", "recall@100"],
    )
    candidate = evaluation["models"]["candidate"]["metrics"]["ndcg@10"]
    base = evaluation["models"]["base"]["metrics"]["ndcg@10"]
    print(f"\nfine-tuned vs base embedding: nDCG@10 {candidate:.3f} vs {base:.3f} ({candidate - base:+.3f})")
    gate = evaluation["gate"]
    print(f"promotion gate {'PASSED' if gate['passed'] else 'REFUSED'} (vs {gate['reference']}):")
    for reason in gate["reasons"]:
        print(f"  - {reason}")
    reindex = evaluation["reindex"]
    if reindex["needed"]:
        print(
            f"serving it means re-embedding {reindex['documents']} documents "
            f"(~{reindex['estimated_seconds']:.0f}s at {reindex['documents_per_second']} documents/s)"
        )


# -- parser ------------------------------------------------------------------------------------------------
def _add_feedback_file_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "file", help="CSV or JSONL file of ratings, or a BEIR folder (corpus.jsonl, queries.jsonl, qrels/)"
    )
    p.add_argument("--format", choices=["csv", "jsonl"], help="file format (default: from the extension)")
    p.add_argument("--query-field", default="query")
    p.add_argument("--document-id-field", default="document_id")
    p.add_argument(
        "--document-field",
        help="column holding the document's text inline (answer-selection rows: question,label,answer); the "
        "document is created",
    )
    p.add_argument(
        "--label-field", default="label", help="relevant/irrelevant, yes/no, true/false, or a rating"
    )
    p.add_argument(
        "--relevant-at", type=float, default=1.0, help="a rating at least this is relevant (default 1)"
    )
    p.add_argument("--user-field", default="user")
    p.add_argument("--user", help="who rated, for rows without a user column")
    p.add_argument("--no-header", action="store_true", help="the file has no header row (give --columns)")
    p.add_argument("--columns", help="comma-separated column names, for files without a header")


def add_commands(commands: Any, imports: Any, evaluations: Any) -> None:
    """`fta import documents|retrieval-feedback`, `fta evaluate retrieval`, `fta rank`."""
    documents = imports.add_parser("documents", help="archive documents (id,title,text) from CSV or JSONL")
    documents.add_argument("file")
    documents.add_argument(
        "--format", choices=["csv", "jsonl"], help="file format (default: from the extension)"
    )
    documents.add_argument("--id-field", default="id")
    documents.add_argument("--title-field", default="title")
    documents.add_argument("--text-field", default="text")
    documents.set_defaults(handler=cmd_import_documents)

    feedback = imports.add_parser(
        "retrieval-feedback",
        help="ratings of retrieved documents (query,document_id,label), or a BEIR folder",
    )
    _add_feedback_file_options(feedback)
    feedback.set_defaults(handler=cmd_import_feedback)

    evaluate = evaluations.add_parser(
        "retrieval",
        help="rank each query's rated documents with the active model, the base embedding and BM25 (stores nothing)",
    )
    _add_feedback_file_options(evaluate)
    add_model_version_option(evaluate)
    evaluate.add_argument(
        "--output", help="JSON report (default: FTA_HOME/evaluations/<file>-retrieval-<time>.json)"
    )
    evaluate.set_defaults(handler=cmd_evaluate_retrieval)

    rank = commands.add_parser("rank", help="the top documents of the retrieval store for a query")
    rank.add_argument("query")
    rank.add_argument("--top-k", type=int, default=10)
    rank.add_argument("--json", action="store_true")
    rank.add_argument(
        "--allow-fallback",
        action="store_true",
        help=f"exit 0 when no trained model can serve and the base embedding answers (default: exit {EXIT_FALLBACK})",
    )
    rank.set_defaults(handler=cmd_rank)
