"""Fine-tune a sentence-transformers cross-encoder on labelled pairs.

The cross-encoder starts from the base model's transformer weights with a fresh one-logit classification
head (``num_labels=1``) and is trained with binary cross-entropy by ``CrossEncoderTrainer``. The validation
split drives early stopping; the best weights (lowest validation loss), kept in memory rather than as
checkpoint files, are the ones saved, as safetensors.

Example (slow: it trains):
    >>> from fine_tuning_assets.pair_examples import PairExample
    >>> def pair(a, b, label):
    ...     return PairExample(a, b, a, b, label, "approved_selected", None, None, None)
    >>> rows = [pair("Coffee raises alertness.", "Caffeine makes you alert.", 1),
    ...         pair("Coffee raises alertness.", "Statins lower LDL.", 0)] * 8
    >>> import tempfile
    >>> result = train_cross_encoder(rows, rows[:4], base_model=None,  # doctest: +SKIP
    ...                              config=CrossEncoderTrainingConfig(epochs=1), output_dir=tempfile.mkdtemp())
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fine_tuning_assets.base_model import ModelLoadError, quiet_transformers, resolve_base_model
from fine_tuning_assets.pair_examples import PairExample

ProgressFn = Callable[[str], None]


@dataclass(frozen=True)
class CrossEncoderTrainingConfig:
    """Hyperparameters of the cross-encoder fine-tune (defaults in parentheses are the documented ones).

    Attributes:
        epochs: passes over the training pairs (3).
        batch_size: pairs per step (16).
        learning_rate: AdamW peak learning rate (5e-5), after a linear warmup.
        warmup_ratio: share of steps spent warming up (0.1).
        weight_decay: AdamW weight decay (0.01).
        max_seq_length: tokens per pair; longer pairs are truncated (128).
        early_stopping_patience: evaluations without a better validation loss before stopping (2).
        evaluations_per_epoch: validation passes per epoch (2).
        seed: makes training repeatable (42).
    """

    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_seq_length: int = 128
    early_stopping_patience: int = 2
    evaluations_per_epoch: int = 2
    seed: int = 42

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.max_seq_length < 8:
            raise ValueError("epochs and batch_size must be at least 1 and max_seq_length at least 8")
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"learning_rate {self.learning_rate} is not between 0 and 1")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio {self.warmup_ratio} is not in [0, 1)")


@dataclass(frozen=True)
class TrainingResult:
    train_pairs: int
    validation_pairs: int
    steps: int
    epochs_completed: float
    stopped_early: bool
    best_validation_loss: float | None
    best_step: int
    final_train_loss: float | None
    train_seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pairs_per_second(self) -> float:
        return self.train_pairs * self.epochs_completed / self.train_seconds if self.train_seconds else 0.0

    def metrics(self) -> dict[str, Any]:
        return {
            "train_pairs": self.train_pairs,
            "validation_pairs": self.validation_pairs,
            "steps": self.steps,
            "epochs_completed": round(self.epochs_completed, 3),
            "stopped_early": self.stopped_early,
            "best_validation_loss": self.best_validation_loss,
            "best_step": self.best_step,
            "final_train_loss": self.final_train_loss,
            "train_seconds": round(self.train_seconds, 2),
            "pairs_per_second": round(self.pairs_per_second, 1),
        }


def _dataset(examples: Sequence[PairExample]):
    from datasets import Dataset

    return Dataset.from_dict(
        {
            "sentence_a": [e.text_a for e in examples],
            "sentence_b": [e.text_b for e in examples],
            "label": [float(e.label) for e in examples],
        }
    )


def train_cross_encoder(
    train: Sequence[PairExample],
    validation: Sequence[PairExample],
    *,
    base_model: str | None,
    config: CrossEncoderTrainingConfig,
    output_dir: str | Path,
    progress: ProgressFn | None = None,
) -> TrainingResult:
    """Fine-tune a cross-encoder and save the best checkpoint (safetensors) into ``output_dir``."""
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from transformers import PrinterCallback, TrainerCallback

    if not train or not validation:
        raise ValueError(
            f"training needs pairs in both splits (train {len(train)}, validation {len(validation)})"
        )
    say = progress or (lambda _message: None)
    quiet_transformers()
    base_path = resolve_base_model(base_model)
    try:
        model = CrossEncoder(base_path, num_labels=1, max_length=config.max_seq_length, device="cpu")
    except Exception as error:
        raise ModelLoadError(f"cannot load base model {base_path!r} as a cross-encoder: {error}") from error

    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    eval_steps = max(1, steps_per_epoch // max(1, config.evaluations_per_epoch))
    history: list[dict[str, Any]] = []

    class ReportProgress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
            if not logs:
                return
            entry = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 3), **logs}
            history.append(entry)
            if "loss" in logs:
                say(
                    f"step {state.global_step}/{state.max_steps} (epoch {state.epoch:.2f}): "
                    f"training loss {float(logs['loss']):.4f}, learning rate {float(logs.get('learning_rate', 0)):.2e}"
                )

    class KeepBestAndStopEarly(TrainerCallback):
        """Keep the weights with the lowest validation loss in memory (no checkpoint files) and stop after
        ``patience`` evaluations without improvement."""

        def __init__(self, patience: int) -> None:
            self.patience = patience
            self.best_loss = math.inf
            self.best_step = 0
            self.best_state: dict[str, Any] | None = None
            self.bad_evaluations = 0

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):  # type: ignore[no-untyped-def]
            loss = float((metrics or {}).get("eval_loss", math.inf))
            improved = loss < self.best_loss
            if improved:
                self.best_loss, self.best_step, self.bad_evaluations = loss, state.global_step, 0
                self.best_state = {k: v.detach().clone() for k, v in model.model.state_dict().items()}
            else:
                self.bad_evaluations += 1
                if self.bad_evaluations >= self.patience:
                    control.should_training_stop = True
            say(
                f"step {state.global_step}/{state.max_steps} (epoch {state.epoch:.2f}): validation loss "
                f"{loss:.4f}{' (best so far)' if improved else f' (best {self.best_loss:.4f} at step {self.best_step})'}"
                + (
                    " — stopping early"
                    if control.should_training_stop and not improved and state.global_step < state.max_steps
                    else ""
                )
            )

    keep_best = KeepBestAndStopEarly(config.early_stopping_patience)
    scratch = Path(tempfile.mkdtemp(prefix="fta-cross-encoder-"))
    try:
        args = CrossEncoderTrainingArguments(
            output_dir=str(scratch),
            num_train_epochs=config.epochs,
            per_device_train_batch_size=config.batch_size,
            per_device_eval_batch_size=max(config.batch_size, 32),
            learning_rate=config.learning_rate,
            # Transformers 5 takes the warmup *ratio* as a float warmup_steps below 1.
            warmup_steps=config.warmup_ratio,
            weight_decay=config.weight_decay,
            eval_strategy="steps",
            eval_steps=eval_steps,
            save_strategy="no",
            logging_steps=max(1, eval_steps // 2),
            seed=config.seed,
            data_seed=config.seed,
            report_to="none",
            dataloader_pin_memory=False,
            disable_tqdm=True,
            use_cpu=True,
        )
        trainer = CrossEncoderTrainer(
            model=model,
            args=args,
            train_dataset=_dataset(train),
            eval_dataset=_dataset(validation),
            loss=BinaryCrossEntropyLoss(model),
            callbacks=[ReportProgress(), keep_best],
        )
        # Progress goes through `progress` (the Dagster log), not the trainer's own printing of log dicts.
        trainer.remove_callback(PrinterCallback)
        say(
            f"training a cross-encoder from {base_path} on {len(train)} pairs "
            f"({steps_per_epoch} steps/epoch × {config.epochs} epochs), validating every {eval_steps} steps "
            f"on {len(validation)} pairs"
        )
        started = time.perf_counter()
        output = trainer.train()
        seconds = time.perf_counter() - started
        state = trainer.state
        if keep_best.best_state is not None:
            model.model.load_state_dict(keep_best.best_state)
        model.save_pretrained(str(output_dir), safe_serialization=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    epochs_completed = float(state.epoch or 0.0)
    result = TrainingResult(
        best_step=keep_best.best_step,
        train_pairs=len(train),
        validation_pairs=len(validation),
        steps=state.global_step,
        epochs_completed=epochs_completed,
        stopped_early=state.global_step < state.max_steps,
        best_validation_loss=keep_best.best_loss if keep_best.best_state is not None else None,
        final_train_loss=float(output.training_loss) if output.training_loss is not None else None,
        train_seconds=seconds,
        history=history,
    )
    say(
        f"trained {result.steps} steps in {seconds:.1f}s ({result.pairs_per_second:.0f} pairs/s); "
        f"best validation loss {result.best_validation_loss}"
    )
    return result
