"""The FastAPI application: :func:`create_app` wires the routers to one set of services.

Errors are JSON ``{"detail": ...}`` with the status that says what went wrong: 400 a request the data cannot
accept (nothing changed), 401/403 the admin token, 404 an unknown id, 409 a conflict with the current state
(a promotion raced, a cluster already decided, a broken version), 422 a body that does not match the
contract, 503 a database or model that cannot be reached.

Example:
    >>> from fastapi.testclient import TestClient
    >>> from fine_tuning_assets.core.config import Settings
    >>> app = create_app(Settings.from_env({"FTA_HOME": "fta-api-doctest"}), api_token=None)
    >>> with TestClient(app) as client:
    ...     client.get("/api/health").json()["tasks"], client.post("/api/runs", json={"task": "dedup"}).status_code
    (['dedup', 'retrieval', 'triage', 'signals'], 403)
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from fine_tuning_assets.api.dependencies import Services
from fine_tuning_assets.api.routers import classification, dedup, models, retrieval, training
from fine_tuning_assets.core.artifacts import ArtifactError
from fine_tuning_assets.core.base_model import ModelLoadError
from fine_tuning_assets.core.config import Settings
from fine_tuning_assets.core.database import DatabaseUnavailableError, open_database, redact_url
from fine_tuning_assets.core.registry import (
    ModelRegistry,
    ModelVersionNotFoundError,
    PromotionConflictError,
    RegistryError,
)
from fine_tuning_assets.serving.model_cache import ModelCache

log = logging.getLogger(__name__)


def _open_index_quietly(services: Services) -> None:
    services.insight_index_state = "building"
    try:
        dedup.insight_index(services)
    except Exception as error:  # the first check will raise it again, to its caller
        services.insight_index_state = f"failed: {error}"
        log.exception("could not open the insight index")
    else:
        services.insight_index_state = "ready"


def create_app(
    settings: Settings | None = None,
    *,
    api_token: str | None = "env",
    refresh_seconds: float = 1.0,
    open_insight_index: bool = True,
) -> FastAPI:
    """The API over ``settings`` (default: the environment). ``api_token``: the admin token (default
    ``FTA_API_TOKEN``; None or empty: admin endpoints refused). The registry is checked for a new active
    version at most every ``refresh_seconds``. ``open_insight_index``: build or sync the ingestion check's
    index when the app starts (in the background)."""
    settings = settings or Settings.from_env()
    token = os.environ.get("FTA_API_TOKEN") if api_token == "env" else api_token

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from fine_tuning_assets.tasks import TASKS

        engine = open_database(settings.database_url)
        registry = ModelRegistry(engine)
        tasks = {task.name: task for task in TASKS}
        cache = ModelCache(
            active_version=lambda task: active.id if (active := registry.active(task)) else None,
            loaders={
                name: partial(task.load_predictor, registry, engine, base_model=settings.base_model)
                for name, task in tasks.items()
            },
            refresh_seconds=refresh_seconds,
        )
        app.state.services = Services(
            settings=settings,
            engine=engine,
            registry=registry,
            models=cache,
            tasks=tasks,
            api_token=token or None,
            run_logs=settings.home / "runs",
        )
        log.info("serving %s from %s", ", ".join(tasks), redact_url(settings.database_url))
        if "dedup" in tasks and open_insight_index:
            # The first ingestion check should not wait for the index to be built or synced: open it now
            # (a check arriving before it is ready waits for it).
            threading.Thread(
                target=_open_index_quietly, args=(app.state.services,), name="insight-index", daemon=True
            ).start()
        yield
        cache.wait_for_reloads(timeout=30)
        if app.state.services.insight_index is not None:
            app.state.services.insight_index.save_if_due(force=True)
        engine.dispose()

    app = FastAPI(
        title="fine_tuning_assets",
        summary="Predictions from the models your people's decisions trained, and the decisions back.",
        version="0.1.0",
        lifespan=lifespan,
    )

    @app.get("/api/health", tags=["health"])
    def health(request: Request) -> dict:
        """Liveness, the tasks this server answers for, and whether the ingestion check's index is ready."""
        services = request.app.state.services
        return {"status": "ok", "tasks": list(services.tasks), "insight_index": services.insight_index_state}

    for router in (models.router, dedup.router, retrieval.router, classification.router, training.router):
        app.include_router(router)
    _add_error_handlers(app)
    return app


def _error(status_code: int):  # noqa: ANN202
    async def handler(_request: Request, error: Exception) -> JSONResponse:
        return JSONResponse(status_code=status_code, content={"detail": str(error)})

    return handler


def _add_error_handlers(app: FastAPI) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from fine_tuning_assets.defs.launch import InstanceUnavailableError, LaunchError
    from fine_tuning_assets.tasks.dedup.store import FeedbackStoreError
    from fine_tuning_assets.tasks.retrieval.serving import NoDocumentsError
    from fine_tuning_assets.tasks.retrieval.store import RetrievalStoreError

    # Most specific first: Starlette picks the handler of the nearest class in the exception's MRO.
    app.add_exception_handler(ModelVersionNotFoundError, _error(status.HTTP_404_NOT_FOUND))
    app.add_exception_handler(PromotionConflictError, _error(status.HTTP_409_CONFLICT))
    app.add_exception_handler(RegistryError, _error(status.HTTP_409_CONFLICT))
    app.add_exception_handler(ArtifactError, _error(status.HTTP_409_CONFLICT))
    app.add_exception_handler(NoDocumentsError, _error(status.HTTP_409_CONFLICT))
    app.add_exception_handler(FeedbackStoreError, _error(status.HTTP_400_BAD_REQUEST))
    app.add_exception_handler(RetrievalStoreError, _error(status.HTTP_400_BAD_REQUEST))
    app.add_exception_handler(LaunchError, _error(status.HTTP_400_BAD_REQUEST))
    app.add_exception_handler(ValueError, _error(status.HTTP_400_BAD_REQUEST))
    app.add_exception_handler(ModelLoadError, _error(status.HTTP_503_SERVICE_UNAVAILABLE))
    app.add_exception_handler(DatabaseUnavailableError, _error(status.HTTP_503_SERVICE_UNAVAILABLE))
    app.add_exception_handler(InstanceUnavailableError, _error(status.HTTP_503_SERVICE_UNAVAILABLE))

    async def database_refused(_request: Request, error: Exception) -> JSONResponse:
        detail = getattr(error, "orig", None) or error
        return JSONResponse(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            content={"detail": f"the database refused the operation: {detail}"},
        )

    app.add_exception_handler(SQLAlchemyError, database_refused)
