"""Speed benchmark: what the product costs over the bare sentence-transformers library, and where the README's
main job spends its time.

In one run:

(a) training: the candidate-model step's recipe search (bi-encoder + cross-encoder fine-tunes, then scoring
    and cross-fitting on validation) vs the bare ``SentenceTransformerTrainer`` / ``CrossEncoderTrainer``
    on the same 2,000 STS-B pairs, validation pairs and hyperparameters (same evaluation schedule);
    ratio = bare seconds / product seconds (1.0 = no overhead), per fine-tune and for the whole step;
(b) prediction: scoring the 1,500 STS-B dev pairs through the product's saved model (cross-encoder and
    bi-encoder recipes) vs bare ``CrossEncoder.predict`` / ``SentenceTransformer.encode`` + cosine;
    ratio = bare seconds / product seconds;
(c) the README's main job (``fta demo``) in a fresh FTA_HOME: seconds per stage.

Usage (from the project root; run it alone on the machine):
    .venv/bin/python bench/speed.py

Writes bench/results/speed.json and bench/results/speed.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
DATA = PROJECT.parent / "shared" / "datasets" / "stsb"
RESULTS = PROJECT / "bench" / "results"
FTA = str(Path(sys.executable).with_name("fta"))


def read_stsb(name: str) -> list[tuple[str, str, int]]:
    with (DATA / f"stsb-en-{name}.csv").open(encoding="utf-8", newline="") as stream:
        return [(a, b, int(float(score) >= 4.0)) for a, b, score in csv.reader(stream)]


def examples(rows):
    from fine_tuning_assets.tasks.dedup.examples import PairExample

    return [
        PairExample(a, b, a, b, label, "approved_selected" if label else "rejected", None, None, None)
        for a, b, label in rows
    ]


# -- (a) training ---------------------------------------------------------------------------------------
def bare_training_seconds(train, validation, *, kind: str, config) -> float:
    """The bare library trainer with the same arguments the product uses, no product callbacks."""
    import torch
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from sentence_transformers.sentence_transformer import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import OnlineContrastiveLoss, SiameseDistanceMetric

    from fine_tuning_assets.core.base_model import resolve_base_model
    from fine_tuning_assets.core.fine_tuning import evaluation_steps, training_arguments
    from fine_tuning_assets.tasks.dedup.fine_tunes import CONTRASTIVE_MARGIN, pair_dataset

    torch.manual_seed(config.seed)
    path = resolve_base_model(None)
    scratch = tempfile.mkdtemp(prefix="fta-bench-bare-")
    eval_steps = evaluation_steps(len(train), config)
    if kind == "cross-encoder":
        model = CrossEncoder(path, num_labels=1, max_length=config.max_seq_length, device="cpu")
        trainer = CrossEncoderTrainer(
            model=model,
            args=training_arguments(
                CrossEncoderTrainingArguments, config, output_dir=scratch, eval_steps=eval_steps
            ),
            train_dataset=pair_dataset(train),
            eval_dataset=pair_dataset(validation),
            loss=BinaryCrossEntropyLoss(model),
        )
    else:
        model = SentenceTransformer(path, device="cpu")
        model.max_seq_length = config.max_seq_length
        trainer = SentenceTransformerTrainer(
            model=model,
            args=training_arguments(
                SentenceTransformerTrainingArguments, config, output_dir=scratch, eval_steps=eval_steps
            ),
            train_dataset=pair_dataset(train, label_type=int),
            eval_dataset=pair_dataset(validation, label_type=int),
            loss=OnlineContrastiveLoss(
                model, distance_metric=SiameseDistanceMetric.COSINE_DISTANCE, margin=CONTRASTIVE_MARGIN
            ),
        )
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    shutil.rmtree(scratch, ignore_errors=True)
    return seconds


def training_benchmark(train, validation, *, epochs: int) -> tuple[dict[str, Any], Path]:
    from fine_tuning_assets.core.artifacts import ArtifactStore
    from fine_tuning_assets.core.fine_tuning import FineTuningConfig
    from fine_tuning_assets.tasks.dedup.recipes import (
        DEFAULT_BI_ENCODER,
        DEFAULT_CROSS_ENCODER,
        RecipeSearchConfig,
        search_recipes,
    )

    configs = {
        "bi-encoder": FineTuningConfig(**{**DEFAULT_BI_ENCODER.__dict__, "epochs": epochs}),
        "cross-encoder": FineTuningConfig(**{**DEFAULT_CROSS_ENCODER.__dict__, "epochs": epochs}),
    }
    bare = {
        kind: bare_training_seconds(train, validation, kind=kind, config=c) for kind, c in configs.items()
    }
    store = ArtifactStore(Path(tempfile.mkdtemp(prefix="fta-bench-model-")))
    holder: dict[str, Any] = {}

    def write(directory: Path) -> None:
        holder["result"] = search_recipes(
            train,
            validation,
            base_model=None,
            config=RecipeSearchConfig(
                bi_encoder=configs["bi-encoder"],
                cross_encoder=configs["cross-encoder"],
                max_train_minutes=120,
            ),
            output_dir=directory,
        )

    # The product's step: recipe search written through the artifact store (temp folder, manifest, rename).
    started = time.perf_counter()
    output = store.write_directory("model", write, manifest={"kind": "pair-model"})
    result = holder["result"]
    step_seconds = time.perf_counter() - started
    rows = {}
    for kind in configs:
        product = result.training[kind].train_seconds
        # Both run the same number of steps unless early stopping cut the product's run short; compare rates.
        product_rate = result.training[kind].examples_per_second
        bare_rate = len(train) * epochs / bare[kind]
        rows[kind] = {
            "bare_seconds": round(bare[kind], 1),
            "product_seconds": round(product, 1),
            "bare_pairs_per_second": round(bare_rate, 1),
            "product_pairs_per_second": round(product_rate, 1),
            "ratio": round(product_rate / bare_rate, 3),
            "product_stopped_early": result.training[kind].stopped_early,
        }
    bare_total = sum(bare.values())
    # The whole step also scores validation with every component and cross-fits the heads.
    rows["candidate-model step"] = {
        "bare_seconds": round(bare_total, 1),
        "product_seconds": round(step_seconds, 1),
        "ratio": round(bare_total / step_seconds, 3),
        "selected_recipe": result.selected_recipe,
    }
    return rows, output


def _timing_row(bare: float, ours: float, *, pairs: int) -> dict[str, Any]:
    return {
        "bare_seconds": round(bare, 2),
        "product_seconds": round(ours, 2),
        "pairs_per_second_bare": round(pairs / bare, 1),
        "pairs_per_second_product": round(pairs / ours, 1),
        "ratio": round(bare / ours, 3),
    }


# -- (b) prediction -------------------------------------------------------------------------------------
def prediction_benchmark(model_dir: Path, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    import torch

    from fine_tuning_assets.core.base_model import load_sentence_transformer
    from fine_tuning_assets.tasks.dedup.model import (
        BI_ENCODER_DIR,
        CROSS_ENCODER_DIR,
        PairModel,
        load_cross_encoder,
    )

    def timed(fn) -> float:
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started

    rows: dict[str, Any] = {}
    # Cross-encoder: bare predict vs the product's recipe (logits + calibration).
    bare_ce = load_cross_encoder(model_dir / CROSS_ENCODER_DIR)
    product = PairModel.load(model_dir, recipes=["cross-encoder"])
    bare_ce.predict([list(p) for p in pairs[:32]], batch_size=64, show_progress_bar=False)  # warm up
    product.predict_proba(pairs[:32], recipe="cross-encoder")
    bare = timed(
        lambda: bare_ce.predict(
            [list(p) for p in pairs],
            batch_size=64,
            show_progress_bar=False,
            activation_fn=torch.nn.Identity(),
        )
    )
    ours = timed(lambda: product.predict_proba(pairs, recipe="cross-encoder"))
    rows["cross-encoder"] = _timing_row(bare, ours, pairs=len(pairs))
    # Bi-encoder: bare encode of both sides + cosine vs the product's recipe.
    bare_bi = load_sentence_transformer(str(model_dir / BI_ENCODER_DIR))

    def bare_bi_scores() -> np.ndarray:
        a = bare_bi.encode(
            [p[0] for p in pairs], batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        b = bare_bi.encode(
            [p[1] for p in pairs], batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        return np.sum(a * b, axis=1)

    bare_bi_scores()  # warm up
    bare = timed(bare_bi_scores)
    fresh = PairModel.load(model_dir, recipes=["bi-encoder"])  # a fresh model: no embeddings cached yet
    fresh.predict_proba(pairs[:1], recipe="bi-encoder")
    fresh.features._bi_encoder_embeddings.clear()
    ours = timed(lambda: fresh.predict_proba(pairs, recipe="bi-encoder"))
    rows["bi-encoder"] = _timing_row(bare, ours, pairs=len(pairs))
    return rows


# -- (c) the README's main job --------------------------------------------------------------------------
def demo_stage_seconds() -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="fta-bench-demo-"))
    shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTA_", "FINETUNE_", "DAGSTER_"))}
    env["FTA_HOME"] = str(home / ".fta")
    started = time.perf_counter()
    done = subprocess.run([FTA, "demo"], cwd=home, env=env, capture_output=True, text=True)
    total = time.perf_counter() - started
    stages = {
        m.group(1): float(m.group(2)) for m in re.finditer(r"^  (dedup_\w+)\s+([\d.]+)s$", done.stdout, re.M)
    }
    recipe = re.search(r"candidate: .*· (\S+) \(chosen\)", done.stdout)
    shutil.rmtree(home, ignore_errors=True)
    return {
        "exit_code": done.returncode,
        "total_seconds": round(total, 1),
        "stages": stages,
        "selected_recipe": recipe.group(1) if recipe else None,
        "evaluation": done.stdout[done.stdout.find("Evaluation of") :].split("\nOpen it in")[0],
    }


def markdown(results: dict[str, Any]) -> str:
    lines = ["| measurement | bare library | product | ratio |", "|---|---|---|---|"]
    for kind, row in results["training"].items():
        lines.append(
            f"| training: {kind} | {row['bare_seconds']} s | {row['product_seconds']} s | {row['ratio']} |"
        )
    for kind, row in results["prediction"].items():
        lines.append(
            f"| prediction: {kind}, {results['prediction_pairs']} pairs | {row['bare_seconds']} s | {row['product_seconds']} s | {row['ratio']} |"
        )
    demo = results["demo"]
    lines += [
        "",
        f"`fta demo` (fresh FTA_HOME, exit {demo['exit_code']}): {demo['total_seconds']} s in total",
        "",
        "| stage | seconds |",
        "|---|---|",
    ]
    lines += [f"| {stage} | {seconds} |" for stage, seconds in demo["stages"].items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train-pairs", type=int, default=2000)
    parser.add_argument("--validation-pairs", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--output", default=str(RESULTS / "speed.json"))
    args = parser.parse_args()

    train_rows, dev_rows = read_stsb("train"), read_stsb("dev")
    train = examples(train_rows[: args.train_pairs])
    validation = examples(train_rows[args.train_pairs : args.train_pairs + args.validation_pairs])
    results: dict[str, Any] = {
        "command": "python bench/speed.py " + " ".join(sys.argv[1:]),
        "train_pairs": len(train),
        "validation_pairs": len(validation),
        "epochs": args.epochs,
    }
    results["training"], model_dir = training_benchmark(train, validation, epochs=args.epochs)
    print(json.dumps(results["training"], indent=1), flush=True)
    pairs = [(a, b) for a, b, _ in dev_rows]
    results["prediction_pairs"] = len(pairs)
    results["prediction"] = prediction_benchmark(model_dir, pairs)
    shutil.rmtree(model_dir, ignore_errors=True)
    results["demo"] = (
        {"exit_code": None, "total_seconds": None, "stages": {}} if args.skip_demo else demo_stage_seconds()
    )
    results["table"] = markdown(results)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    output.with_suffix(".md").write_text(results["table"], encoding="utf-8")
    print(results["table"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
