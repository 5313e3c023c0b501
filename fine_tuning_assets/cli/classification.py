"""The commands every classification task shares (``triage``, ``signals``): evaluate the active model on a
labelled file, predict one text, print a chain's evaluation. Each task's module (``cli/triage.py``,
``cli/signals.py``) registers them with its own names and file readers."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fine_tuning_assets.cli.common import (
    EXIT_OK,
    CliError,
    evaluation_output,
    exit_for_fallback,
    load_settings,
    open_engine,
    open_registry,
    print_table,
)

#: What `fta demo` narrows in a classification task's recipe search (the full defaults:
#: ``ClassifierSearchConfig``): two regularisation strengths, the embedding beside the n-grams at weight 1.
#: Each task's module adds its recipes (``DEMO_CANDIDATE_CONFIG``).
DEMO_SEARCH: dict = {"c_values": [4.0, 32.0], "embedding_weights": [1.0]}

METRIC_COLUMNS = ("accuracy", "macro_f1", "average_precision", "precision@10", "save_rate@10")


def _columns(models: dict[str, Any]) -> list[str]:
    return ["model", "rows"] + [
        c for c in METRIC_COLUMNS if any(m.get(c) is not None for m in models.values())
    ]


def print_field_tables(fields: dict[str, Any]) -> None:
    for name, f in fields.items():
        print(f"\n{name} ({f['n']} examples):")
        print_table(
            [
                {"model": f"{role}: {m['name']}", "rows": m.get("rows", m.get("n")), **m}
                for role, m in f["models"].items()
            ],
            _columns(f["models"]),
        )


def print_evaluation(version: Any) -> None:
    """A classification chain's evaluation as the CLI prints it after a run."""
    evaluation = version.evaluation
    print(
        f"\nEvaluation of {version.label} on {evaluation['test_examples']} held-out examples, training set "
        f"{evaluation['dataset_version']}:"
    )
    print_field_tables(evaluation["fields"])
    primary = evaluation["fields"].get(evaluation["primary_field"])
    if primary:
        metric = evaluation["primary_metric"]
        models = primary["models"]
        line = (
            f"\n{evaluation['primary_field']}: candidate ({primary['recipe']}) {metric} "
            f"{models['candidate'][metric]:.3f}"
        )
        if "base" in models and models["base"].get(metric) is not None:
            line += f" vs base {models['base'][metric]:.3f} ({models['candidate'][metric] - models['base'][metric]:+.3f})"
        if "reference" in models:
            ref = models["reference"]
            same = models.get("candidate_on_reference_rows", models["candidate"])
            line += (
                f"; accuracy {same['accuracy']:.3f} vs {ref['accuracy']:.3f} for {ref['name']} on the "
                f"{ref['rows']} rows it triaged"
            )
        print(line)
    bands = [{"field": name, "recipe": f["recipe"], **f["band"]} for name, f in evaluation["fields"].items()]
    print("\nconfidence bands (applied without a human above the threshold):")
    print_table(
        bands,
        [
            "field",
            "recipe",
            "threshold",
            "coverage",
            "accuracy_automatic",
            "target_accuracy",
            "holds",
            "accuracy_to_humans",
        ],
    )
    for name in evaluation.get("switched_off_bands", []):
        print(
            f"  the {name} band missed its target on held-out examples: switched off, every {name} goes to a human"
        )
    gate = evaluation["gate"]
    print(f"promotion gate {'PASSED' if gate['passed'] else 'REFUSED'} (vs {gate['reference']}):")
    for reason in gate["reasons"]:
        print(f"  - {reason}")


def cmd_evaluate(
    args: argparse.Namespace, *, task: Any, read_examples: Callable[[argparse.Namespace], list[Any]]
) -> int:
    """Evaluate the active model (and ``--model-version`` ones), the base model and the file's reference on a
    labelled file of the import's shape; nothing is stored. Prints the tables, writes the JSON report."""
    from fine_tuning_assets.classifiers.model import TextClassifier
    from fine_tuning_assets.classifiers.task import switch_off_missed_bands
    from fine_tuning_assets.core.artifacts import write_json_atomic
    from fine_tuning_assets.core.base_model import load_sentence_transformer, resolve_base_model

    settings = load_settings()
    path = Path(args.file)
    output = evaluation_output(settings, args.output, name=f"{path.stem}-{task.name}")
    examples = read_examples(args)
    if not examples:
        raise CliError(f"{path} holds no labelled examples")
    registry = open_registry(settings)
    base = load_sentence_transformer(resolve_base_model(settings.base_model))
    models = []
    active = registry.active(task.name)
    versions = ([active] if active else []) + [registry.get(v) for v in args.model_version]
    for version in versions:
        if version.task != task.name:
            raise CliError(f"{version.label} is a {version.task} model, not a {task.name} model")
        role = "active" if active is not None and version.id == active.id else f"version {version.id}"
        models.append(
            (
                role,
                version.label,
                switch_off_missed_bands(  # as serving uses it
                    TextClassifier.load(
                        version.artifact_path, base_model=settings.base_model, encoders={"embedding": base}
                    ),
                    version.evaluation,
                ),
            )
        )
    print(f"evaluating on {len(examples)} labelled examples from {path}")
    report = task.evaluate_examples(examples, models=models, base=base)
    print_field_tables(report["fields"])
    if active is None:
        print(f"\nno {task.name} model is active: serving falls back to the base model's zero-shot labels")
    report = {"file": str(path.resolve()), "active_version_id": active.id if active else None, **report}
    write_json_atomic(output, report)
    print(f"\nreport written to {output}")
    return EXIT_OK


def cmd_predict(
    args: argparse.Namespace, *, task: Any, texts: Sequence[str], tags: Sequence[Sequence[str]], what: str
) -> int:
    """Predict every field of one text with the active model (or the base-model fallback) and print each
    field's label, probability and whether it would be applied without a human."""
    settings = load_settings()
    predictor = task.load_predictor(
        open_registry(settings), open_engine(settings), base_model=settings.base_model
    )
    # A person trying the model from a shell is not live traffic: nothing goes to the prediction log.
    [prediction] = predictor.predict(list(texts), list(tags))
    fields = [
        {
            "field": p.field,
            "label": p.label,
            "probability": p.probability,
            "band": "automatic" if p.automatic else "needs review",
            "threshold": p.threshold,
        }
        for p in prediction.values()
    ]
    if not fields:
        raise CliError(f"{predictor.fallback_reason}: nothing to predict with")
    if args.json:
        print(
            json.dumps(
                {"model": predictor.model, "fallback_reason": predictor.fallback_reason, "fields": fields},
                indent=2,
            )
        )
    else:
        if predictor.fallback_reason:
            print(f"FALLBACK to the base model: {predictor.fallback_reason}")
        print(f"{what} by {predictor.model}:")
        print_table(fields, ["field", "label", "probability", "band", "threshold"])
    return exit_for_fallback(predictor.fallback_reason, allow_fallback=args.allow_fallback, what=what)


def add_predict_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--allow-fallback", action="store_true", help="exit 0 even when the base model answered")


def add_evaluate_options(p: argparse.ArgumentParser) -> None:
    from fine_tuning_assets.cli.common import add_model_version_option

    p.add_argument("--output", help="where to write the JSON report (default FTA_HOME/evaluations/…)")
    add_model_version_option(p)
