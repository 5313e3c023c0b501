"""The HTTP API (``fta serve``): FastAPI over the same layers the CLI and Dagster use — the handlers validate,
call a task's serving code or the registry, and answer; no logic of their own.

``app.py`` builds the application (:func:`~fine_tuning_assets.api.app.create_app`), ``dependencies.py`` holds
what handlers share (the services, the admin token check), ``schemas.py`` the request and response models (the
contract the OpenAPI spec at ``/openapi.json`` and ``/docs`` shows), ``routers/`` one module per resource.
"""
