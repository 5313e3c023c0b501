"""The signals task's commands: import readers' actions on content chunks, record one action.

Example:
    $ fta import chunk-actions actions.csv                       # chunk_id,content,user_id,action,...
    $ fta import chunk-actions clips.jsonl --chunk-id-field clip_id --content-field text --context-field show
    $ fta record-action ep12-c07 --content "Batch your email twice a day." --action saved --user ana
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fine_tuning_assets.cli.classification import (
    DEMO_SEARCH,
    add_evaluate_options,
    add_predict_options,
    cmd_evaluate,
    cmd_predict,
    print_evaluation,
)
from fine_tuning_assets.cli.common import EXIT_OK, CliError, load_settings, open_engine
from fine_tuning_assets.core.config import Settings

TASK = "signals"

__all__ = ["DEMO_CANDIDATE_CONFIG", "add_commands", "errors", "print_evaluation", "seed_demo"]

#: `fta demo`'s signals search: the contrastive (SetFit-style) fine-tune the signals team asked for, one pair
#: of each kind per chunk, and the recipes without a fine-tune.
DEMO_CANDIDATE_CONFIG = {
    **DEMO_SEARCH,
    "recipes": ["tfidf-lr", "embedding-lr", "setfit", "stack", "stack-setfit"],
    "setfit_pairs_per_example": 1,
}


def errors() -> tuple[type[Exception], ...]:
    from fine_tuning_assets.core.imports import ImportFileError
    from fine_tuning_assets.tasks.signals.store import SignalsStoreError

    return (ImportFileError, SignalsStoreError)


def _store(settings: Settings):  # -> SignalsStore
    from fine_tuning_assets.tasks.signals.store import SignalsStore

    return SignalsStore(open_engine(settings))


def agreement_summary(store: Any) -> str:
    """One line on the store's chunks: how many, how many several readers acted on, how much they agree,
    ties, and the share labelled positive."""
    from fine_tuning_assets.tasks.signals.examples import agreement_report, chunk_examples

    report = agreement_report(chunk_examples(store.snapshot(recorded_through=None)))
    mean = report["mean_agreement"]
    share = report["share_positive"]
    return (
        f"{report['chunks']} chunks, {report['multi_user_chunks']} with several readers"
        + (
            f" (mean agreement {mean:.2f}, {report['ties']} ties labelled not worth surfacing)"
            if mean
            else ""
        )
        + (f", {share:.0%} labelled worth surfacing" if share is not None else "")
    )


def seed_demo(settings: Settings) -> None:
    """Seed the signals store with the demo podcast chunks and listeners' actions unless it holds actions."""
    from fine_tuning_assets.tasks.signals.demo import generate_demo_signals

    store = _store(settings)
    counts = store.counts()
    if counts["actions"]:
        print(
            f"the signals store at {settings.home} already holds {counts['actions']} chunk actions; using them "
            "as they are"
        )
        return
    report = store.add(generate_demo_signals(), source="fine_tuning_assets.tasks.signals.demo")
    counts = store.counts()
    print(
        f"seeded the signals store at {settings.home} with the demo podcasts: {report.actions_new} actions "
        f"by {counts['users']} listeners on {report.chunks_new} chunks; {agreement_summary(store)}"
    )


# -- import ------------------------------------------------------------------------------------------------
def _action_words(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    from fine_tuning_assets.tasks.signals.imports import DEFAULT_ACTION_WORDS

    words = dict(DEFAULT_ACTION_WORDS)
    for pair in pairs:
        word, sep, action = pair.partition("=")
        if not sep or not word.strip() or not action.strip():
            raise CliError(f"--action-word {pair!r}: use WORD=ACTION, e.g. bookmark=saved")
        words[word.strip()] = action.strip()
    return words


def _read_batch(args: argparse.Namespace):  # -> ChunkBatch
    from fine_tuning_assets.tasks.signals.imports import CONTEXT_FIELDS, read_chunk_actions

    return read_chunk_actions(
        Path(args.file),
        chunk_id_field=args.chunk_id_field,
        content_field=args.content_field,
        user_field=args.user_field,
        action_field=args.action_field,
        context_fields=(*CONTEXT_FIELDS, *(args.context_field or ())),
        relevance_field=args.relevance_field,
        quality_field=args.quality_field,
        acted_at_field=args.acted_at_field,
        action_words=_action_words(args.action_word),
        file_format=args.format,
    )


def cmd_import_chunk_actions(args: argparse.Namespace) -> int:
    path = Path(args.file)
    batch = _read_batch(args)
    store = _store(load_settings())
    report = store.add(batch, source=str(path.resolve()))
    duplicates = (
        f" ({len(batch.duplicates)} duplicate rows in the file, stored once)" if batch.duplicates else ""
    )
    if not report.wrote_anything:
        print(
            f"nothing new in {path}: its {report.actions_already_present} actions are already in the signals "
            f"store{duplicates}; nothing was written; the store: {agreement_summary(store)}"
        )
        return EXIT_OK
    print(
        f"imported {path}: {report.actions_new} actions new, {report.actions_already_present} already "
        f"present{duplicates}; {report.chunks_new} new chunks of {report.chunks}; import batch "
        f"{report.batch_id}; the store: {agreement_summary(store)}"
    )
    return EXIT_OK


def cmd_record_action(args: argparse.Namespace) -> int:
    from fine_tuning_assets.core.database import utcnow
    from fine_tuning_assets.core.imports import ValueProblem, parse_timestamp
    from fine_tuning_assets.tasks.signals.records import ChunkAction, normalise_content

    context: dict[str, str] = {}
    for pair in args.context or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--context {pair!r}: use KEY=VALUE, e.g. podcast='The Build Log'")
        context[key.strip()] = value.strip()
    try:
        acted_at = parse_timestamp(args.at, "--at") if args.at else utcnow()
    except ValueProblem as problem:
        raise CliError(str(problem)) from None
    action = ChunkAction(
        chunk_id=args.chunk_id.strip(),
        content=normalise_content(args.content),
        action=args.action,
        user_id=args.user.strip() if args.user else None,
        context=context,
        relevance_score=args.relevance_score,
        acted_at=acted_at,
    )
    report = _store(load_settings()).record_action(
        action, source=f"fta record-action{' by ' + action.user_id if action.user_id else ''}"
    )
    who = action.user_id or "an unknown reader"
    if report.wrote_anything:
        print(f"recorded: {who} {action.action} chunk {action.chunk_id!r} at {acted_at.isoformat()}")
    else:
        print(f"already recorded: {who} {action.action} chunk {action.chunk_id!r} at {acted_at.isoformat()}")
    return EXIT_OK


# -- evaluate, score ---------------------------------------------------------------------------------------
def cmd_evaluate_signals(args: argparse.Namespace) -> int:
    from fine_tuning_assets.tasks.signals.examples import chunk_examples
    from fine_tuning_assets.tasks.signals.task import SIGNALS, chunk_example

    def read(arguments: argparse.Namespace) -> list[Any]:
        return [chunk_example(c) for c in chunk_examples(_read_batch(arguments).actions)]

    return cmd_evaluate(args, task=SIGNALS, read_examples=read)


def cmd_score_chunk(args: argparse.Namespace) -> int:
    from fine_tuning_assets.tasks.signals.task import SIGNALS

    return cmd_predict(args, task=SIGNALS, texts=[args.text], tags=[()], what="the chunk's score")


# -- parser ------------------------------------------------------------------------------------------------
def add_commands(commands: Any, imports: Any, evaluations: Any) -> None:
    """`fta import chunk-actions`, `fta evaluate signals`, `fta score-chunk`, `fta record-action`."""
    from fine_tuning_assets.tasks.signals.records import ACTIONS

    chunk = imports.add_parser(
        "chunk-actions",
        help="readers' saved/snipped/skipped actions on content chunks (chunk_id,content,user_id,action)",
    )
    _add_file_options(chunk)
    chunk.set_defaults(handler=cmd_import_chunk_actions)

    evaluate = evaluations.add_parser(
        "signals",
        help="the active signals model, the base model and the surfacing system's scores on a chunk-actions "
        "file (stores nothing)",
    )
    _add_file_options(evaluate)
    add_evaluate_options(evaluate)
    evaluate.set_defaults(handler=cmd_evaluate_signals)

    score = commands.add_parser(
        "score-chunk", help="how likely readers are to save a chunk, by the active signals model"
    )
    score.add_argument("text", help="the chunk's text")
    add_predict_options(score)
    score.set_defaults(handler=cmd_score_chunk)

    record = commands.add_parser("record-action", help="record one reader's action on one chunk")
    record.add_argument("chunk_id")
    record.add_argument("--content", required=True, help="the chunk's text (must match the stored text)")
    record.add_argument("--action", required=True, choices=list(ACTIONS))
    record.add_argument("--user", help="who acted")
    record.add_argument("--at", help="when (ISO 8601, naive = UTC; default: now)")
    record.add_argument(
        "--context", action="append", metavar="KEY=VALUE", help="where the chunk comes from (repeatable)"
    )
    record.add_argument("--relevance-score", type=float, help="the surfacing system's score, if known")
    record.set_defaults(handler=cmd_record_action)


def _add_file_options(chunk: argparse.ArgumentParser) -> None:
    from fine_tuning_assets.tasks.signals.imports import CONTEXT_FIELDS

    chunk.add_argument("file", help="CSV or JSONL file, one action per row")
    chunk.add_argument("--format", choices=["csv", "jsonl"], help="file format (default: from the extension)")
    chunk.add_argument(
        "--chunk-id-field",
        default="chunk_id",
        help="column of the chunk id (without such a column, ids are derived from the content)",
    )
    chunk.add_argument("--content-field", default="content")
    chunk.add_argument("--user-field", default="user_id")
    chunk.add_argument("--action-field", default="action", help="saved/save, snipped/snip, skipped/skip")
    chunk.add_argument(
        "--action-word",
        action="append",
        metavar="WORD=ACTION",
        help="read another file word as an action, e.g. bookmark=saved (repeatable)",
    )
    chunk.add_argument(
        "--context-field",
        action="append",
        metavar="NAME",
        help=f"a column to keep in the chunk's context, besides {', '.join(CONTEXT_FIELDS)} and a JSON "
        "'context' column (repeatable)",
    )
    chunk.add_argument("--relevance-field", default="relevance_score")
    chunk.add_argument("--quality-field", default="quality_score")
    chunk.add_argument("--acted-at-field", default="acted_at", help="ISO 8601; naive = UTC")
