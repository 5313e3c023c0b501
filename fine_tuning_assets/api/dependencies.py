"""What the API's handlers share: the services of the running app, and the admin token check.

Reading and predicting are open. Everything that writes feedback, exports data, starts runs or changes which
model is active needs ``Authorization: Bearer <FTA_API_TOKEN>``; when the server has no token configured those
endpoints are refused (403), never open.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine

from fine_tuning_assets.core.config import Settings
from fine_tuning_assets.core.registry import ModelRegistry
from fine_tuning_assets.serving.model_cache import ModelCache


@dataclass
class Services:
    """Everything the handlers use, made once when the app starts."""

    settings: Settings
    engine: Engine
    registry: ModelRegistry
    models: ModelCache
    tasks: dict[str, Any]
    api_token: str | None
    run_logs: Path
    insight_index: Any = None  # the dedup InsightIndex, opened when the app starts or on first use
    insight_index_state: str = "not opened"
    dagster_instance: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]

_bearer = HTTPBearer(auto_error=False, description="FTA_API_TOKEN, for the admin endpoints")


def require_admin(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The admin token check (see module doc); returns the actor name the audit trail records."""
    if not services.api_token:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "admin endpoints are disabled: the server has no FTA_API_TOKEN; set it and restart `fta serve`",
        )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "this endpoint needs the admin token: Authorization: Bearer <FTA_API_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not secrets.compare_digest(credentials.credentials.encode(), services.api_token.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the admin token is not valid",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return "api"


AdminDep = Annotated[str, Depends(require_admin)]


def known_task(services: Services, task: str) -> Any:
    if task not in services.tasks:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no task {task!r}; the tasks are {', '.join(services.tasks)}"
        )
    return services.tasks[task]
