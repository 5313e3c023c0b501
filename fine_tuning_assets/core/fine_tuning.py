"""What every local fine-tune shares: hyperparameters, training arguments, progress, early stopping and the
time budget.

The cross-encoder (:mod:`fine_tuning_assets.core.cross_encoder_training`) and the bi-encoder
(:mod:`fine_tuning_assets.core.bi_encoder_training`) both run a sentence-transformers trainer through
:func:`fine_tune` (and so :func:`train_with_early_stopping`): the validation split drives early stopping, the best weights (lowest
validation loss) are kept in memory rather than as checkpoint files, and training stops at a wall-clock
deadline when one is given, keeping the best weights seen so far.

Example:
    >>> config = FineTuningConfig(epochs=1, learning_rate=1e-4)
    >>> config.batch_size, config.seed
    (16, 42)
    >>> FineTuningConfig(epochs=0)
    Traceback (most recent call last):
    ...
    ValueError: epochs and batch_size must be at least 1 and max_seq_length at least 8
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ProgressFn = Callable[[str], None]


@dataclass(frozen=True)
class FineTuningConfig:
    """Hyperparameters of one fine-tune (the dataclass defaults in parentheses; each recipe starts from its own
    defaults, :data:`~fine_tuning_assets.tasks.dedup.recipes.DEFAULT_BI_ENCODER` and ``DEFAULT_CROSS_ENCODER``).

    Attributes:
        epochs: passes over the training pairs (3).
        batch_size: pairs per step (16).
        learning_rate: AdamW peak learning rate (5e-5), after a linear warmup.
        warmup_ratio: share of steps spent warming up (0.1).
        weight_decay: AdamW weight decay (0.01).
        max_seq_length: tokens per pair (cross-encoder) or per text (bi-encoder); longer inputs are
            truncated (128).
        early_stopping_patience: evaluations without a better validation loss before stopping (2).
        evaluations_per_epoch: validation passes per epoch (2).
        seed: makes the data order and the fresh head's initialisation repeatable (42).
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
        if self.early_stopping_patience < 1 or self.evaluations_per_epoch < 1:
            raise ValueError("early_stopping_patience and evaluations_per_epoch must be at least 1")


@dataclass(frozen=True)
class TrainingResult:
    train_examples: int
    validation_examples: int
    steps: int
    epochs_completed: float
    stopped_early: bool
    stopped_by_time_budget: bool
    best_validation_loss: float | None
    best_step: int
    final_train_loss: float | None
    train_seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def examples_per_second(self) -> float:
        return self.train_examples * self.epochs_completed / self.train_seconds if self.train_seconds else 0.0

    def metrics(self) -> dict[str, Any]:
        return {
            "train_examples": self.train_examples,
            "validation_examples": self.validation_examples,
            "steps": self.steps,
            "epochs_completed": round(self.epochs_completed, 3),
            "stopped_early": self.stopped_early,
            "stopped_by_time_budget": self.stopped_by_time_budget,
            "best_validation_loss": self.best_validation_loss,
            "best_step": self.best_step,
            "final_train_loss": self.final_train_loss,
            "train_seconds": round(self.train_seconds, 2),
            "examples_per_second": round(self.examples_per_second, 1),
        }


def evaluation_steps(train_examples: int, config: FineTuningConfig) -> int:
    steps_per_epoch = math.ceil(train_examples / config.batch_size)
    return max(1, steps_per_epoch // config.evaluations_per_epoch)


def training_arguments(
    arguments_class: type,
    config: FineTuningConfig,
    *,
    output_dir: str,
    eval_steps: int,
    evaluate: bool = True,
):
    """The trainer arguments both fine-tunes use (CPU, no checkpoints, no external reporting)."""
    return arguments_class(
        output_dir=output_dir,
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=max(config.batch_size, 32),
        learning_rate=config.learning_rate,
        # Transformers 5 takes the warmup *ratio* as a float warmup_steps below 1.
        warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=eval_steps if evaluate else None,
        save_strategy="no",
        logging_steps=max(1, eval_steps // 2),
        seed=config.seed,
        data_seed=config.seed,
        report_to="none",
        dataloader_pin_memory=False,
        disable_tqdm=True,
        use_cpu=True,
    )


def train_with_early_stopping(
    make_trainer: Callable[[str, list[Any]], Any],
    *,
    module: Any,
    train_examples: int,
    validation_examples: int,
    config: FineTuningConfig,
    deadline: float | None = None,
    progress: ProgressFn | None = None,
) -> TrainingResult:
    """Run a trainer built by ``make_trainer(scratch_dir, callbacks)``; leave ``module`` (the torch module
    the trainer optimises) holding the weights with the lowest validation loss.

    ``deadline`` is a :func:`time.monotonic` time: training stops at the first step after it.
    """
    from transformers import PrinterCallback, TrainerCallback

    say = progress or (lambda _message: None)
    history: list[dict[str, Any]] = []

    class ReportProgress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
            if not logs:
                return
            history.append({"step": state.global_step, "epoch": round(state.epoch or 0.0, 3), **logs})
            if "loss" in logs:
                say(
                    f"step {state.global_step}/{state.max_steps} (epoch {state.epoch:.2f}): "
                    f"training loss {float(logs['loss']):.4f}, "
                    f"learning rate {float(logs.get('learning_rate', 0)):.2e}"
                )

    class KeepBestAndStopEarly(TrainerCallback):
        """Keep the weights with the lowest validation loss in memory and stop after ``patience``
        evaluations without improvement."""

        def __init__(self) -> None:
            self.best_loss = math.inf
            self.best_step = 0
            self.best_state: dict[str, Any] | None = None
            self.bad_evaluations = 0

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):  # type: ignore[no-untyped-def]
            loss = float((metrics or {}).get("eval_loss", math.inf))
            # A tie keeps the later, more trained weights (a contrastive loss can sit at exactly 0, and the
            # first evaluation may come before warmup has moved the weights at all).
            improved = loss <= self.best_loss
            if improved:
                self.best_loss, self.best_step, self.bad_evaluations = loss, state.global_step, 0
                self.best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            else:
                self.bad_evaluations += 1
                if self.bad_evaluations >= config.early_stopping_patience:
                    control.should_training_stop = True
            say(
                f"step {state.global_step}/{state.max_steps} (epoch {state.epoch:.2f}): validation loss "
                f"{loss:.4f}"
                + (" (best so far)" if improved else f" (best {self.best_loss:.4f} at step {self.best_step})")
                + (
                    f" — stopping early: {self.bad_evaluations} evaluations without improvement"
                    if self.bad_evaluations >= config.early_stopping_patience
                    and state.global_step < state.max_steps
                    else ""
                )
            )

    class StopAtDeadline(TrainerCallback):
        def __init__(self) -> None:
            self.stopped = False

        def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
            if deadline is not None and time.monotonic() >= deadline and state.global_step < state.max_steps:
                self.stopped = True
                # Evaluate once more so the weights trained up to here can still become the best ones (without
                # a validation split there is nothing to evaluate: the final weights are kept).
                control.should_evaluate = validation_examples > 0
                control.should_training_stop = True
                say(f"step {state.global_step}/{state.max_steps}: time budget used up — stopping")

    keep_best, stop_at_deadline = KeepBestAndStopEarly(), StopAtDeadline()
    scratch = Path(tempfile.mkdtemp(prefix="fta-fine-tune-"))
    try:
        trainer = make_trainer(str(scratch), [ReportProgress(), keep_best, stop_at_deadline])
        # Progress goes through `progress` (the Dagster log), not the trainer's own printing of log dicts.
        trainer.remove_callback(PrinterCallback)
        started = time.perf_counter()
        output = trainer.train()
        seconds = time.perf_counter() - started
        state = trainer.state
        if keep_best.best_state is not None:
            module.load_state_dict(keep_best.best_state)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result = TrainingResult(
        train_examples=train_examples,
        validation_examples=validation_examples,
        steps=state.global_step,
        epochs_completed=float(state.epoch or 0.0),
        stopped_early=state.global_step < state.max_steps,
        stopped_by_time_budget=stop_at_deadline.stopped,
        best_validation_loss=keep_best.best_loss if keep_best.best_state is not None else None,
        best_step=keep_best.best_step,
        final_train_loss=float(output.training_loss) if output.training_loss is not None else None,
        train_seconds=seconds,
        history=history,
    )
    say(
        f"trained {result.steps} steps in {seconds:.1f}s ({result.examples_per_second:.0f} examples/s); "
        f"best validation loss {result.best_validation_loss}"
    )
    return result


def fine_tune(
    model: Any,
    *,
    module: Any,
    description: str,
    trainer_class: type,
    arguments_class: type,
    loss: Any,
    train_dataset: Any,
    eval_dataset: Any | None,
    config: FineTuningConfig,
    output_dir: str | Path,
    deadline: float | None = None,
    progress: ProgressFn | None = None,
    arguments: dict[str, Any] | None = None,
) -> TrainingResult:
    """Train ``model`` with a sentence-transformers trainer (``trainer_class``, ``arguments_class``) on a
    task's examples (a ``datasets.Dataset`` whose columns the ``loss`` takes: pairs with a label, (anchor,
    positive, negative) tuples, texts with a class), keep the best weights (:func:`train_with_early_stopping`)
    and save them as safetensors into ``output_dir``. ``module`` is the torch module whose weights are kept;
    ``description`` names the model in the progress log; ``arguments`` adds trainer arguments (e.g. a batch
    sampler). ``eval_dataset=None`` trains for ``config.epochs`` without validating (SetFit-style) and keeps
    the final weights."""
    if not len(train_dataset) or (eval_dataset is not None and not len(eval_dataset)):
        raise ValueError(
            f"training needs examples in both splits (train {len(train_dataset)}, "
            f"validation {len(eval_dataset) if eval_dataset is not None else 0})"
        )
    eval_steps = evaluation_steps(len(train_dataset), config)
    (progress or (lambda _message: None))(
        f"training {description} on {len(train_dataset)} examples ({config.epochs} epochs, batch "
        f"{config.batch_size}, learning rate {config.learning_rate:g}), "
        + (
            f"validating every {eval_steps} steps on {len(eval_dataset)} examples"
            if eval_dataset is not None
            else "without validation (final weights)"
        )
    )

    def make_trainer(scratch: str, callbacks: list) -> Any:
        args = training_arguments(
            arguments_class,
            config,
            output_dir=scratch,
            eval_steps=eval_steps,
            evaluate=eval_dataset is not None,
        )
        for name, value in (arguments or {}).items():
            setattr(args, name, value)
        return trainer_class(
            model=model,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            loss=loss,
            callbacks=callbacks,
        )

    result = train_with_early_stopping(
        make_trainer,
        module=module,
        train_examples=len(train_dataset),
        validation_examples=len(eval_dataset) if eval_dataset is not None else 0,
        config=config,
        deadline=deadline,
        progress=progress,
    )
    model.save_pretrained(str(output_dir), safe_serialization=True)
    return result
