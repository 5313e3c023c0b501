"""Settings read from environment variables, in one place.

Example:
    >>> settings = Settings.from_env({"FTA_HOME": "/tmp/fta", "FINETUNE_MIN_EXAMPLES": "20"})
    >>> settings.min_examples_per_class
    20
    >>> settings.database_url
    'sqlite:////tmp/fta/fta.sqlite'
    >>> "pw" in repr(Settings.from_env({"FTA_DATABASE_URL": "postgresql://u:pw@db/fta"}))
    False
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SCHEDULE_MODES = ("weekly", "monthly", "manual")
#: The environment variable holding the feedback store's and registry's database URL (it may hold a password).
DATABASE_URL_VARIABLE = "FTA_DATABASE_URL"
PROVIDERS = ("local",)


class ConfigurationError(ValueError):
    """An environment variable has a value the project cannot use."""


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name}={raw!r} is not a boolean; use true or false")


def _parse_int(name: str, raw: str, *, minimum: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigurationError(f"{name}={value} must be at least {minimum}")
    return value


def home_from_env(env: Mapping[str, str]) -> Path:
    """``FTA_HOME`` as an absolute path (default ``./.fta``); a path that exists must be a folder."""
    raw = env.get("FTA_HOME", ".fta")
    home = Path(raw).expanduser().resolve()
    if home.exists() and not home.is_dir():
        raise ConfigurationError(
            f"FTA_HOME={raw!r} is a file, not a folder; FTA_HOME is the folder that holds the embedded "
            "database (fta.sqlite) and the artifacts (artifacts/): point it at a folder"
        )
    return home


def database_url_from_env(
    home: str | Path, environ: Mapping[str, str] | None = None, *, variable: str = DATABASE_URL_VARIABLE
) -> str:
    """The database URL in ``variable`` (default ``FTA_DATABASE_URL``), else the SQLite file under ``home``.

    The URL may hold a password: it is read from the environment where it is used and never written into
    configuration, logs or run metadata (print it with :func:`fine_tuning_assets.core.database.redact_url`).

    Example:
        >>> database_url_from_env("/srv/fta", {})
        'sqlite:////srv/fta/fta.sqlite'
    """
    env = os.environ if environ is None else environ
    return env.get(variable) or f"sqlite:///{Path(home) / 'fta.sqlite'}"


@dataclass(frozen=True)
class Settings:
    """The project's environment configuration (see README, "Configuration")."""

    home: Path
    database_url: str
    finetune_enabled: bool
    schedule: str
    provider: str
    min_examples_per_class: int
    auto_promote: bool
    retrain_min_new_decisions: int
    base_model: str | None
    openai_api_key: str | None
    openai_base_url: str | None
    openai_finetune_model: str | None

    def __repr__(self) -> str:
        # The database URL may hold a password and the OpenAI key is a secret: neither is ever printed.
        from fine_tuning_assets.core.database import redact_url

        shown = {
            name: redact_url(value)
            if name == "database_url"
            else ("***" if name == "openai_api_key" and value else value)
            for name, value in self.__dict__.items()
        }
        return f"Settings({', '.join(f'{name}={value!r}' for name, value in shown.items())})"

    @property
    def artifact_root(self) -> Path:
        return self.home / "artifacts"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = home_from_env(env)
        database_url = database_url_from_env(home, env)
        schedule = env.get("FINETUNE_SCHEDULE", "weekly").strip().lower()
        if schedule not in SCHEDULE_MODES:
            raise ConfigurationError(
                f"FINETUNE_SCHEDULE={schedule!r} is not one of {', '.join(SCHEDULE_MODES)}"
            )
        provider = env.get("FINETUNE_PROVIDER", "local").strip().lower()
        if provider not in PROVIDERS:
            raise ConfigurationError(
                f"FINETUNE_PROVIDER={provider!r} is not supported; this release trains "
                f"locally only (supported: {', '.join(PROVIDERS)})"
            )
        return cls(
            home=home,
            database_url=database_url,
            finetune_enabled=_parse_bool("FINETUNE_ENABLED", env.get("FINETUNE_ENABLED", "true")),
            schedule=schedule,
            provider=provider,
            min_examples_per_class=_parse_int(
                "FINETUNE_MIN_EXAMPLES", env.get("FINETUNE_MIN_EXAMPLES", "10"), minimum=1
            ),
            auto_promote=_parse_bool("FINETUNE_AUTO_PROMOTE", env.get("FINETUNE_AUTO_PROMOTE", "true")),
            retrain_min_new_decisions=_parse_int(
                "FINETUNE_RETRAIN_MIN_NEW_DECISIONS",
                env.get("FINETUNE_RETRAIN_MIN_NEW_DECISIONS", "50"),
                minimum=1,
            ),
            base_model=env.get("FTA_BASE_MODEL") or None,
            openai_api_key=env.get("OPENAI_API_KEY") or None,
            openai_base_url=env.get("OPENAI_BASE_URL") or None,
            openai_finetune_model=env.get("OPENAI_FINETUNE_MODEL") or None,
        )
