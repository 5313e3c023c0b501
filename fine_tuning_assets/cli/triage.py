"""The triage task's commands: import a support team's corrections of an AI's triage, record one correction.

Example:
    $ fta import triage-corrections corrections.csv        # review_id,text,original_category,category,...
    $ fta import triage-corrections labelled.csv --field category=label
    $ fta import triage-corrections more.csv --allow-new-labels
    $ fta correct-triage rv-01234 --text "Crashes at login" --category BUG --original-category PERFORMANCE
    $ fta evaluate triage held_out.csv                     # the active model vs base vs the original AI
    $ fta predict-triage "Crashes every time I open a note" --rating 1
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Sequence
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

TASK = "triage"
__all__ = ["DEMO_CANDIDATE_CONFIG", "add_commands", "errors", "print_evaluation", "seed_demo"]

#: `fta demo`'s triage search: the recipes without the SetFit fine-tune (the classification fine-tune, 1
#: epoch, is the one that pays off on reviews, blended with the n-grams).
DEMO_CANDIDATE_CONFIG = {
    **DEMO_SEARCH,
    "recipes": ["tfidf-lr", "embedding-lr", "stack", "finetune-lr", "stack-finetune", "blend-finetune"],
    "classifier_finetune": {"epochs": 1},
}


#: The fields a correction holds (the same as ``tasks.triage.records.ALL_FIELDS``; repeated here so that
#: building the parser imports nothing of the task).
_FIELDS = ("category", "urgency", "topic", "summary")


def errors() -> tuple[type[Exception], ...]:
    from fine_tuning_assets.core.imports import ImportFileError
    from fine_tuning_assets.tasks.triage.store import TriageStoreError

    return (ImportFileError, TriageStoreError)


def _store(settings: Settings):  # -> TriageStore
    from fine_tuning_assets.tasks.triage.store import TriageStore

    return TriageStore(open_engine(settings))


def seed_demo(settings: Settings) -> None:
    """Seed the triage store with the demo app reviews and their corrections unless it holds corrections."""
    from fine_tuning_assets.tasks.triage.demo import generate_demo_triage, original_accuracy

    store = _store(settings)
    counts = store.counts()
    if counts["corrections"]:
        print(
            f"the triage store at {settings.home} already holds {counts['corrections']} corrections; using "
            "them as they are"
        )
        return
    batch = generate_demo_triage()
    report = store.add(batch, source="fine_tuning_assets.tasks.triage.demo")
    print(
        f"seeded the triage store at {settings.home} with {report.new} corrected app reviews "
        f"({len({c.app for c in batch.corrections})} apps); the original AI's category was right for "
        f"{original_accuracy(batch.corrections, 'category'):.0%} of them"
    )


# -- import ------------------------------------------------------------------------------------------------
def parse_field_names(values: Sequence[str] | None) -> dict[str, str]:
    """``["category=label", ...]`` (``--field``) as ``{"category": "label"}``; CliError when malformed.

    Example:
        >>> parse_field_names(["category=label", " urgency = priority "])
        {'category': 'label', 'urgency': 'priority'}
    """
    names: dict[str, str] = {}
    for value in values or ():
        field, sep, column = value.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not field or not column:
            raise CliError(f"--field {value!r}: write FIELD=COLUMN, e.g. category=label")
        if field not in _FIELDS:
            raise CliError(
                f"--field {value!r}: {field!r} is not a field; the fields are {', '.join(_FIELDS)}"
            )
        if field in names:
            raise CliError(f"--field names {field!r} twice")
        names[field] = column
    return names


def _print_new_labels(report: Any) -> None:
    for field, labels in report.new_labels.items():
        if labels:
            print(f"new {field} labels: {', '.join(labels)}")


def read_corrections(args: argparse.Namespace):  # -> TriageBatch
    """The corrections file of a command with :func:`add_file_options` (an import, or an evaluation of
    a file of the import's shape)."""
    from fine_tuning_assets.tasks.triage.imports import read_triage_corrections

    return read_triage_corrections(
        Path(args.file),
        review_id_field=args.review_id_field,
        text_field=args.text_field,
        app_field=args.app_field,
        rating_field=args.rating_field,
        field_names=parse_field_names(args.field),
        original_prefix=args.original_prefix,
        corrected_by_field=args.corrected_by_field,
        corrected_at_field=args.corrected_at_field,
        file_format=args.format,
    )


def cmd_import_corrections(args: argparse.Namespace) -> int:
    path = Path(args.file)
    batch = read_corrections(args)
    report = _store(load_settings()).add(
        batch, source=str(path.resolve()), allow_new_labels=args.allow_new_labels
    )
    duplicates = (
        f"; {len(batch.duplicates)} duplicate rows in the file (stored once)" if batch.duplicates else ""
    )
    if not report.wrote_anything:
        print(
            f"nothing new in {path}: its {report.already_present} corrections are already in the triage "
            f"store{duplicates}; nothing was written"
        )
        return EXIT_OK
    print(
        f"imported {path}: {report.new} new, {report.already_present} already present; "
        f"{report.corrections} corrections, {report.confirmations} confirmations{duplicates}; "
        f"import batch {report.batch_id}"
    )
    _print_new_labels(report)
    return EXIT_OK


def _actor(given: str | None) -> str:
    if given and given.strip():
        return given.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return "fta"


def cmd_correct(args: argparse.Namespace) -> int:
    from fine_tuning_assets.tasks.triage.records import TriageCorrection

    corrected = {field: getattr(args, field) for field in _FIELDS}
    if all(value is None or not value.strip() for value in corrected.values()):
        raise CliError(f"give at least one of {', '.join('--' + field for field in _FIELDS)}")
    correction = TriageCorrection(
        review_id=args.review_id.strip(),
        text=args.text.strip(),
        app=args.app,
        rating=args.rating,
        original={field: getattr(args, f"original_{field}") for field in _FIELDS},
        corrected=corrected,
        corrected_by=args.by.strip() if args.by and args.by.strip() else None,
    )
    report = _store(load_settings()).record_correction(
        correction, actor=_actor(args.by), allow_new_labels=args.allow_new_labels
    )
    parts = []
    for field in _FIELDS:
        value = correction.corrected[field]
        if value is None:
            continue
        before, confirmed = correction.original[field], correction.confirmed(field)
        if confirmed is True:
            parts.append(f"{field} {value!r} (confirmed)")
        elif confirmed is False:
            parts.append(f"{field} {before!r} -> {value!r} (corrected)")
        else:
            parts.append(f"{field} {value!r}")
    print(f"recorded review {correction.review_id}: {'; '.join(parts)}; import batch {report.batch_id}")
    _print_new_labels(report)
    return EXIT_OK


# -- parser ------------------------------------------------------------------------------------------------
def add_file_options(p: argparse.ArgumentParser) -> None:
    """The file argument and column options of ``fta import triage-corrections`` (also fit for a command that
    reads a file of the same shape, such as an evaluation)."""
    p.add_argument("file", help="CSV or JSONL file, one review per row")
    p.add_argument("--format", choices=["csv", "jsonl"], help="file format (default: from the extension)")
    p.add_argument(
        "--review-id-field",
        default="review_id",
        help="review id column; a file without it gets ids made from the text (default: review_id)",
    )
    p.add_argument("--text-field", default="text")
    p.add_argument("--app-field", default="app")
    p.add_argument("--rating-field", default="rating")
    p.add_argument(
        "--field",
        action="append",
        metavar="FIELD=COLUMN",
        help="the column of the person's value of a field when it is not named as the field, e.g. "
        "category=label (repeatable; fields: category, urgency, topic, summary)",
    )
    p.add_argument(
        "--original-prefix",
        default="original_",
        help="the AI's value of a field is in this prefix + the field's column (default: original_)",
    )
    p.add_argument("--corrected-by-field", default="corrected_by")
    p.add_argument("--corrected-at-field", default="corrected_at")


def rating_argument(text: str) -> float:
    """``--rating``: a number in the range an import accepts."""
    from fine_tuning_assets.core.imports import ValueProblem
    from fine_tuning_assets.tasks.triage.imports import parse_rating

    try:
        return parse_rating(text, "--rating")
    except ValueProblem as problem:
        raise argparse.ArgumentTypeError(str(problem)) from problem


def cmd_evaluate_triage(args: argparse.Namespace) -> int:
    from fine_tuning_assets.tasks.triage.task import TRIAGE, review_example

    def read(arguments: argparse.Namespace) -> list[Any]:
        return [review_example(c) for c in read_corrections(arguments).corrections if c.has_human_value()]

    return cmd_evaluate(args, task=TRIAGE, read_examples=read)


def cmd_predict_triage(args: argparse.Namespace) -> int:
    from fine_tuning_assets.tasks.triage.task import TRIAGE, review_tags

    return cmd_predict(
        args, task=TRIAGE, texts=[args.text], tags=[review_tags(args.rating)], what="the triage"
    )


def add_commands(commands: Any, imports: Any, evaluations: Any) -> None:
    """`fta import triage-corrections`, `fta correct-triage`, `fta evaluate triage`, `fta predict-triage`."""
    corrections = imports.add_parser(
        "triage-corrections",
        help="a team's corrections of an AI's triage of app reviews (review_id,text,original_category,"
        "category,...), or a plain labelled file (text,category)",
    )
    add_file_options(corrections)
    corrections.add_argument(
        "--allow-new-labels",
        action="store_true",
        help="accept labels the triage store does not hold yet (default: refuse them, a typo guard)",
    )
    corrections.set_defaults(handler=cmd_import_corrections)

    correct = commands.add_parser(
        "correct-triage", help="record one person's triage of one review (a correction of the AI's)"
    )
    correct.add_argument("review_id")
    correct.add_argument("--text", required=True, help="the review's text")
    correct.add_argument("--app")
    correct.add_argument("--rating", type=rating_argument, help="the review's star rating (0 to 10)")
    for field in _FIELDS:
        correct.add_argument(f"--{field}", help=f"the person's {field}")
    for field in _FIELDS:
        correct.add_argument(f"--original-{field}", help=f"the AI's {field}")
    correct.add_argument("--by", help="who corrected (default: the login name)")
    correct.add_argument(
        "--allow-new-labels", action="store_true", help="accept labels the triage store does not hold yet"
    )
    correct.set_defaults(handler=cmd_correct)

    evaluate = evaluations.add_parser(
        "triage",
        help="the active triage model, the base model and the file's original AI on a corrections file "
        "(stores nothing)",
    )
    add_file_options(evaluate)
    add_evaluate_options(evaluate)
    evaluate.set_defaults(handler=cmd_evaluate_triage)

    predict = commands.add_parser(
        "predict-triage", help="triage one review (category, urgency, topic) with the active triage model"
    )
    predict.add_argument("text", help="the review's text")
    predict.add_argument("--rating", type=rating_argument, help="the review's star rating (0 to 10)")
    add_predict_options(predict)
    predict.set_defaults(handler=cmd_predict_triage)
