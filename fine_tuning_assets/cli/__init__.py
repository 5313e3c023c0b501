"""The ``fta`` command line: seed the demo, import decisions, run the chain, manage and use models.

Example:
    $ fta demo                      # seed demo decisions, run the dedup chain, print the evaluation
    $ fta import pairs pairs.csv --positive 'score>=4'
    $ fta predict-merge "Coffee raises alertness." "Caffeine makes people alert."
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fine_tuning_assets.cli import chain, dedup, models, retrieval, serving, signals, triage
from fine_tuning_assets.cli.common import (
    EXIT_ERROR,
    CliError,
)
from fine_tuning_assets.core.config import ConfigurationError

#: The CLI's task list: each task's commands (``add_commands``), demo seeding and evaluation printout.
TASK_COMMANDS = {"dedup": dedup, "retrieval": retrieval, "triage": triage, "signals": signals}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fta", description="Turn human decisions into fine-tuned models.")
    commands = parser.add_subparsers(dest="command", required=True)
    chain.add_commands(commands, tasks=list(TASK_COMMANDS))
    imp = commands.add_parser(
        "import", help="import decisions, documents or ratings from CSV / JSONL files (all or nothing)"
    )
    shapes = imp.add_subparsers(dest="shape", required=True)
    model_commands = models.add_commands(commands)
    serving.add_commands(commands, model_commands)
    evaluate = commands.add_parser("evaluate", help="evaluate models on an external labelled file")
    evaluations = evaluate.add_subparsers(dest="what", required=True)
    for module in TASK_COMMANDS.values():
        module.add_commands(commands, shapes, evaluations)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from fine_tuning_assets.core.artifacts import ArtifactError
    from fine_tuning_assets.core.base_model import ModelLoadError
    from fine_tuning_assets.core.database import DatabaseUnavailableError
    from fine_tuning_assets.core.onnx_export import OnnxExportError
    from fine_tuning_assets.core.registry import RegistryError

    reported = (
        CliError,
        ConfigurationError,
        RegistryError,
        DatabaseUnavailableError,
        ModelLoadError,
        ArtifactError,
        OnnxExportError,
        ValueError,
        *(error for module in TASK_COMMANDS.values() for error in module.errors()),
    )
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except reported as error:
        print(f"fta: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as error:  # a file or folder that cannot be read or written: say which and why
        where = f": {error.filename}" if error.filename else ""
        print(f"fta: error: {error.strerror or error}{where}", file=sys.stderr)
        return EXIT_ERROR
    except (
        SQLAlchemyError
    ) as error:  # a database error no check above foresaw: the message, never a traceback
        detail = getattr(error, "orig", None) or error
        print(f"fta: error: the database refused the operation: {detail}", file=sys.stderr)
        return EXIT_ERROR
