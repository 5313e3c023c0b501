"""`fta models`: list, show, promote, roll back and reap model versions of every task."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from fine_tuning_assets.cli.common import (
    EXIT_OK,
    CliError,
    dagster_instance,
    load_settings,
    open_registry,
    print_table,
)
from fine_tuning_assets.core.config import Settings


def _version_row(v) -> dict[str, Any]:  # noqa: ANN001
    candidate = v.evaluation.get("models", {}).get("candidate", {}).get("metrics", {})
    return {
        "id": v.id,
        "task": v.task,
        "version": v.version,
        "state": v.state,
        "dataset": v.dataset_version,
        "test AP": candidate.get("average_precision"),
        "created": f"{v.created_at:%Y-%m-%d %H:%M}",
    }


def cmd_models(args: argparse.Namespace) -> int:
    settings = load_settings()
    registry = open_registry(settings)
    if args.models_command == "export-onnx":
        return _export_onnx(settings, registry, version_id=args.version_id, output=args.output)
    if args.models_command == "reap":
        return _reap(settings, registry, dry_run=args.dry_run, actor=args.actor)
    if args.models_command == "list":
        rows = [_version_row(v) for v in registry.versions(args.task)]
        if not rows:
            print("no model versions yet: run `fta demo` or `fta materialize`")
            return EXIT_OK
        print_table(rows, list(rows[0]))
    elif args.models_command == "show":
        version = registry.get(args.version_id)
        print(json.dumps({k: v for k, v in version.__dict__.items()}, indent=2, default=str))
        print("\naudit trail:")
        print_table(
            [
                {
                    "when": f"{e.created_at:%Y-%m-%d %H:%M:%S}",
                    "event": e.event,
                    "from": e.from_state,
                    "to": e.to_state,
                    "by": e.actor,
                    "why": e.reason,
                }
                for e in registry.events(version_id=version.id)
            ],
            ["when", "event", "from", "to", "by", "why"],
        )
    elif args.models_command == "promote":
        version = registry.get(args.version_id)
        current = registry.active(version.task)
        promoted = registry.promote(
            version.id,
            expected_active_id=current.id if current else None,
            actor=args.actor,
            reason=args.reason,
        )
        print(f"{promoted.label} is now active" + (f" (replacing {current.label})" if current else ""))
    elif args.models_command == "rollback":
        bad = registry.get(args.version_id)
        active = registry.rollback(
            bad.task, expected_active_id=bad.id, to_version_id=args.to, actor=args.actor, reason=args.reason
        )
        print(f"rolled back {bad.label}: {active.label} is active again; {bad.label} is marked failed")
    return EXIT_OK


def _export_onnx(settings: Settings, registry, *, version_id: int, output: str | None) -> int:  # noqa: ANN001
    """Export a version's fine-tuned embedding / reranker to ONNX, each checked against the torch model."""
    from fine_tuning_assets.core.artifacts import verify
    from fine_tuning_assets.core.onnx_export import export_onnx
    from fine_tuning_assets.tasks import task_named

    version = registry.get(version_id)
    if not version.artifact_path:
        raise CliError(f"{version.label} has no model folder ({version.state})")
    verify(version.artifact_path)
    components = task_named(version.task).onnx_components(Path(version.artifact_path))
    if not components:
        raise CliError(f"{version.label} has no fine-tuned embedding or reranker to export")
    root = (
        Path(output)
        if output
        else settings.artifact_root / "onnx" / version.task / f"v{version.version}-id{version.id}"
    )
    for name, (folder, kind) in components.items():
        exported = export_onnx(folder, root / name, kind=kind)
        print(
            f"{version.label} {name} ({kind}) → {exported.path}: scores agree with the torch model to "
            f"{exported.max_abs_difference:.1e} (tolerance {exported.tolerance:g}) in {exported.seconds:.0f}s"
        )
    return EXIT_OK


def _reap(settings: Settings, registry, *, dry_run: bool, actor: str) -> int:  # noqa: ANN001
    from fine_tuning_assets.core.artifacts import ArtifactStore
    from fine_tuning_assets.defs.crash_recovery import reap_abandoned_work

    report = reap_abandoned_work(
        dagster_instance(),
        registry,
        ArtifactStore(settings.artifact_root),
        actor=actor,
        dry_run=dry_run,
    )
    for line in report.lines():
        print(line)
    if not report.anything:
        print("nothing to reap: no run, model version or staging folder was abandoned by a crash")
    elif dry_run:
        print("(dry run: nothing was changed)")
    return EXIT_OK


def add_commands(commands: Any) -> Any:
    """`fta models list|show|promote|rollback|reap`."""
    models = commands.add_parser("models", help="list, show, promote and roll back model versions")
    model_commands = models.add_subparsers(dest="models_command", required=True)
    listing = model_commands.add_parser("list")
    listing.add_argument("--task", default=None)
    show = model_commands.add_parser("show")
    show.add_argument("version_id", type=int)
    promote = model_commands.add_parser("promote", help="make a staged version active")
    promote.add_argument("version_id", type=int)
    promote.add_argument("--reason", default="promoted by hand")
    promote.add_argument("--actor", default=os.environ.get("USER", "cli"))
    rollback = model_commands.add_parser(
        "rollback", help="roll back the active version: re-activate the previous (or a given) version"
    )
    rollback.add_argument(
        "version_id",
        type=int,
        help="the active version to roll back; refused (nothing changes) if another version is active by then",
    )
    rollback.add_argument(
        "--to", type=int, help="version id to re-activate (default: the previously active one)"
    )
    rollback.add_argument("--reason", required=True)
    rollback.add_argument("--actor", default=os.environ.get("USER", "cli"))
    export = model_commands.add_parser(
        "export-onnx",
        help="export a version's fine-tuned embedding / reranker to ONNX for inference (parity-checked)",
    )
    export.add_argument("version_id", type=int)
    export.add_argument(
        "--output", help="folder to create (default: FTA_HOME/artifacts/onnx/<task>/<version>)"
    )
    reap = model_commands.add_parser(
        "reap",
        help="settle what crashed runs left: mark versions stuck in training/evaluating and their dead "
        "in-process Dagster runs failed, remove stale staging folders",
    )
    reap.add_argument("--dry-run", action="store_true", help="say what would be done, change nothing")
    reap.add_argument("--actor", default=os.environ.get("USER", "cli"))
    models.set_defaults(handler=cmd_models)
    return model_commands
