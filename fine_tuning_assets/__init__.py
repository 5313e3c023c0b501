"""fine_tuning_assets: turn human decisions into fine-tuned models with Dagster."""

from __future__ import annotations

__version__ = "0.1.0"
