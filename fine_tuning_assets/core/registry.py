"""The model registry: versions of each task's model, their lifecycle, and an append-only audit trail.

States: ``training → evaluating → staged → active``, or ``failed`` from any of them; a replaced active
version becomes ``deprecated``. The database allows exactly one ``active`` version per task (a partial
unique index). Every state change writes a :class:`ModelEvent` (what, who, when, from, to, why) in the same
transaction. Promotion and rollback take explicit version ids and the version the caller believes is active,
so two racing promotions cannot both win.

Example:
    >>> from fine_tuning_assets.core.database import open_database
    >>> registry = ModelRegistry(open_database("sqlite://"))
    >>> v = registry.register(task="dedup", model_kind="cross-encoder", base_model="all-MiniLM-L6-v2",
    ...                       dataset_version="ds-1", config={}, actor="doctest")
    >>> v = registry.transition(v.id, "evaluating", actor="doctest", reason="trained")
    >>> v = registry.transition(v.id, "staged", actor="doctest", reason="gate passed")
    >>> registry.promote(v.id, expected_active_id=None, actor="doctest", reason="first model").state
    'active'
    >>> [e.to_state for e in registry.events(task="dedup")]
    ['training', 'evaluating', 'staged', 'active']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from fine_tuning_assets.core.artifacts import ArtifactError, verify
from fine_tuning_assets.core.database import as_utc, model_events, model_versions, text_problems, utcnow
from fine_tuning_assets.core.processes import RunOwner

STATES: tuple[str, ...] = ("training", "evaluating", "staged", "active", "deprecated", "failed")
#: States in which a run is working on a version: it has an owner that must be alive.
IN_FLIGHT_STATES: tuple[str, ...] = ("training", "evaluating")

#: Transitions :meth:`ModelRegistry.transition` may make. Becoming ``active`` (and leaving it) happens only
#: through :meth:`ModelRegistry.promote` and :meth:`ModelRegistry.rollback`, which keep one active version.
ALLOWED_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "training": ("evaluating", "failed"),
    "evaluating": ("staged", "failed"),
    "staged": ("failed",),
    "active": (),
    "deprecated": ("failed",),
    "failed": (),
}


class RegistryError(ValueError):
    """A registry operation that is not allowed; nothing changed."""


class ModelVersionNotFoundError(RegistryError):
    """No model version has that id."""


class PromotionConflictError(RegistryError):
    """Another promotion or rollback changed the active version first; nothing changed."""


@dataclass(frozen=True)
class ModelVersion:
    id: int
    task: str
    version: int
    state: str
    model_kind: str
    base_model: str
    dataset_version: str
    artifact_path: str | None
    config: dict[str, Any]
    training_metrics: dict[str, Any]
    evaluation: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    #: Who registered it (Dagster run, host, process); None for versions registered before owners were kept.
    owner: RunOwner | None = None

    @property
    def label(self) -> str:
        return f"{self.task} v{self.version} (id {self.id})"


@dataclass(frozen=True)
class ModelEvent:
    id: int
    task: str
    model_version_id: int
    event: str
    from_state: str | None
    to_state: str
    actor: str
    reason: str
    created_at: datetime


def _lock_task(connection: Connection, task: str) -> None:
    """Serialize the transactions that change ``task``'s active version. SQLite's ``BEGIN IMMEDIATE``
    already does; PostgreSQL takes an advisory transaction lock on the task."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(724107, hashtext(:task))"), {"task": task})


def _version_from_row(row: sa.Row) -> ModelVersion:
    return ModelVersion(
        id=row.id,
        task=row.task,
        version=row.version,
        state=row.state,
        model_kind=row.model_kind,
        base_model=row.base_model,
        dataset_version=row.dataset_version,
        artifact_path=row.artifact_path,
        config=dict(row.config or {}),
        training_metrics=dict(row.training_metrics or {}),
        evaluation=dict(row.evaluation or {}),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        owner=RunOwner(row.owner_run_id, row.owner_host, row.owner_pid)
        if row.owner_host is not None and row.owner_pid is not None
        else None,
    )


class ModelRegistry:
    """Model versions and their audit trail, in the project's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- writes -------------------------------------------------------------------------------------
    def register(
        self,
        *,
        task: str,
        model_kind: str,
        base_model: str,
        dataset_version: str,
        config: dict[str, Any],
        actor: str,
        reason: str = "training started",
        owner: RunOwner | None = None,
    ) -> ModelVersion:
        """A new version in state ``training`` with the next version number for ``task``.

        ``owner`` is the run and process that will train it; :meth:`in_flight` versions whose owner died are
        found and failed by the reaper (``fta models reap``, and the start of every training run)."""
        now = utcnow()
        for _attempt in range(3):
            try:
                with self.engine.begin() as connection:
                    number = (
                        connection.execute(
                            sa.select(sa.func.max(model_versions.c.version)).where(
                                model_versions.c.task == task
                            )
                        ).scalar()
                        or 0
                    ) + 1
                    version_id = connection.execute(
                        model_versions.insert().values(
                            task=task,
                            version=number,
                            state="training",
                            model_kind=model_kind,
                            base_model=base_model,
                            dataset_version=dataset_version,
                            config=config,
                            training_metrics={},
                            evaluation={},
                            created_at=now,
                            updated_at=now,
                            owner_run_id=owner.run_id if owner else None,
                            owner_host=owner.host if owner else None,
                            owner_pid=owner.pid if owner else None,
                        )
                    ).inserted_primary_key[0]
                    self._audit(connection, task, version_id, "register", None, "training", actor, reason)
                return self.get(version_id)
            except IntegrityError:  # another process took the same version number; take the next one
                continue
        raise RegistryError(f"could not allocate a version number for task {task!r}")

    def transition(
        self,
        version_id: int,
        to_state: str,
        *,
        actor: str,
        reason: str,
        artifact_path: str | None = None,
        training_metrics: dict[str, Any] | None = None,
        evaluation: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Move a version along its lifecycle (not into or out of ``active``), recording why."""
        if to_state not in STATES:
            raise RegistryError(f"unknown state {to_state!r}; states are {', '.join(STATES)}")
        with self.engine.begin() as connection:
            current = self._get(connection, version_id, for_update=True)
            if to_state not in ALLOWED_TRANSITIONS[current.state]:
                raise RegistryError(
                    f"{current.label} is {current.state}; it cannot become {to_state} "
                    f"(allowed from {current.state}: {', '.join(ALLOWED_TRANSITIONS[current.state]) or 'none'})"
                )
            values: dict[str, Any] = {"state": to_state, "updated_at": utcnow()}
            if artifact_path is not None:
                values["artifact_path"] = artifact_path
            if training_metrics is not None:
                values["training_metrics"] = training_metrics
            if evaluation is not None:
                values["evaluation"] = evaluation
            connection.execute(
                model_versions.update().where(model_versions.c.id == version_id).values(**values)
            )
            self._audit(
                connection, current.task, version_id, "transition", current.state, to_state, actor, reason
            )
        return self.get(version_id)

    def fail_abandoned(self, version_id: int, *, expected_state: str, actor: str, reason: str) -> bool:
        """Mark an in-flight version whose owner died ``failed``, if it is still in ``expected_state``
        (it may have moved on since it was found); returns whether it was marked."""
        with self.engine.begin() as connection:
            current = self._get(connection, version_id, for_update=True)
            if current.state != expected_state or "failed" not in ALLOWED_TRANSITIONS[current.state]:
                return False
            connection.execute(
                model_versions.update()
                .where(model_versions.c.id == version_id)
                .values(state="failed", updated_at=utcnow())
            )
            self._audit(connection, current.task, version_id, "reap", current.state, "failed", actor, reason)
        return True

    def promote(
        self, version_id: int, *, expected_active_id: int | None, actor: str, reason: str
    ) -> ModelVersion:
        """Make a ``staged`` version the task's active one; the active version it replaces is deprecated.

        ``expected_active_id`` is the version the caller saw as active (None: none was). If another
        promotion or rollback got there first, :class:`PromotionConflictError` is raised and nothing changes.
        """
        return self._activate(
            version_id,
            expected_active_id=expected_active_id,
            allowed_from=("staged",),
            replaced_state="deprecated",
            event="promote",
            actor=actor,
            reason=reason,
        )

    def rollback(
        self,
        task: str,
        *,
        expected_active_id: int,
        to_version_id: int | None = None,
        actor: str,
        reason: str,
    ) -> ModelVersion:
        """Roll back ``expected_active_id``, ``task``'s active version: re-activate an earlier version and
        mark the rolled-back one failed.

        ``expected_active_id`` is the version the caller saw active and wants gone; it is checked in the
        same transaction that re-activates the target, so when another promotion or rollback got there
        first, :class:`PromotionConflictError` names the version that is active now and nothing changes
        (two people rolling back the same bad version roll back once). Without ``to_version_id``, the target
        is the version that was active before it. The target's artifact is verified first.
        """
        self._check_still_active(task, expected_active_id)
        try:
            target_id = (
                to_version_id
                if to_version_id is not None
                else self._previous_active_id(task, expected_active_id)
            )
            if target_id is None:
                raise RegistryError(
                    f"{self._label_of(expected_active_id)} is the first version ever active; there is "
                    "nothing to roll back to"
                )
            target = self.get(target_id)
            if target.task != task:
                raise RegistryError(f"{target.label} belongs to task {target.task!r}, not {task!r}")
            return self._activate(
                target_id,
                expected_active_id=expected_active_id,
                allowed_from=("deprecated",),
                replaced_state="failed",
                event="rollback",
                actor=actor,
                reason=reason,
            )
        except PromotionConflictError:
            raise
        except RegistryError:
            # A concurrent rollback can make the target look wrong (already active, nothing before it):
            # when the expected version is no longer active, that is the real reason.
            self._check_still_active(task, expected_active_id)
            raise

    def _check_still_active(self, task: str, expected_active_id: int) -> None:
        active = self.active(task)
        if active is None or active.id != expected_active_id:
            raise PromotionConflictError(
                f"{self._label_of(expected_active_id)} is not the active {task} version; the active one is "
                f"{active.label if active else 'none'}: another promotion or rollback happened first; "
                "nothing changed"
            )

    # -- reads --------------------------------------------------------------------------------------
    def get(self, version_id: int) -> ModelVersion:
        with self.engine.connect() as connection:
            return self._get(connection, version_id)

    def active(self, task: str) -> ModelVersion | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(model_versions).where(
                    model_versions.c.task == task, model_versions.c.state == "active"
                )
            ).first()
        return _version_from_row(row) if row else None

    def in_flight(self) -> list[ModelVersion]:
        """Versions being trained or evaluated (``training``, ``evaluating``), oldest first."""
        query = (
            sa.select(model_versions)
            .where(model_versions.c.state.in_(IN_FLIGHT_STATES))
            .order_by(model_versions.c.id)
        )
        with self.engine.connect() as connection:
            return [_version_from_row(row) for row in connection.execute(query)]

    def versions(self, task: str | None = None) -> list[ModelVersion]:
        query = sa.select(model_versions).order_by(model_versions.c.task, model_versions.c.version)
        if task is not None:
            query = query.where(model_versions.c.task == task)
        with self.engine.connect() as connection:
            return [_version_from_row(row) for row in connection.execute(query)]

    def events(self, *, task: str | None = None, version_id: int | None = None) -> list[ModelEvent]:
        query = sa.select(model_events).order_by(model_events.c.id)
        if task is not None:
            query = query.where(model_events.c.task == task)
        if version_id is not None:
            query = query.where(model_events.c.model_version_id == version_id)
        with self.engine.connect() as connection:
            return [
                ModelEvent(
                    id=row.id,
                    task=row.task,
                    model_version_id=row.model_version_id,
                    event=row.event,
                    from_state=row.from_state,
                    to_state=row.to_state,
                    actor=row.actor,
                    reason=row.reason,
                    created_at=as_utc(row.created_at),
                )
                for row in connection.execute(query)
            ]

    # -- helpers ------------------------------------------------------------------------------------
    def _activate(
        self,
        version_id: int,
        *,
        expected_active_id: int | None,
        allowed_from: tuple[str, ...],
        replaced_state: str,
        event: str,
        actor: str,
        reason: str,
    ) -> ModelVersion:
        def check_state(candidate: ModelVersion) -> None:
            if candidate.state not in allowed_from:
                raise RegistryError(
                    f"{candidate.label} is {candidate.state}; only a "
                    f"{' or '.join(allowed_from)} version can be made active by {event}"
                )

        # The files are checked before anything changes (and outside the transaction: hashing takes a while).
        version = self.get(version_id)
        check_state(version)
        self._verify_artifact(version, event=event)
        try:
            with self.engine.begin() as connection:
                _lock_task(connection, version.task)
                # Read only now, holding the task's lock: every promotion or rollback that got there first
                # has committed, so "current" is the active version, never a row that just stopped being it.
                current = connection.execute(
                    sa.select(model_versions.c.id)
                    .where(model_versions.c.task == version.task, model_versions.c.state == "active")
                    .with_for_update()
                ).scalar()
                if current != expected_active_id:
                    raise PromotionConflictError(
                        f"the active {version.task} version is now {self._label_of(current, connection)}, "
                        f"not {self._label_of(expected_active_id, connection)} as expected: another promotion "
                        "or rollback happened first; nothing changed"
                    )
                candidate = self._get(connection, version_id, for_update=True)
                check_state(candidate)
                now = utcnow()
                if current is not None:
                    replaced = connection.execute(
                        model_versions.update()
                        .where(model_versions.c.id == current, model_versions.c.state == "active")
                        .values(state=replaced_state, updated_at=now)
                    )
                    if replaced.rowcount != 1:
                        raise PromotionConflictError(
                            f"version {current} stopped being active during the {event}; nothing changed"
                        )
                    self._audit(
                        connection,
                        candidate.task,
                        current,
                        event,
                        "active",
                        replaced_state,
                        actor,
                        f"replaced by version id {version_id}: {reason}",
                    )
                connection.execute(
                    model_versions.update()
                    .where(model_versions.c.id == version_id)
                    .values(state="active", updated_at=now)
                )
                self._audit(
                    connection, candidate.task, version_id, event, candidate.state, "active", actor, reason
                )
        except IntegrityError as error:
            raise PromotionConflictError(
                f"another version became active for this task at the same time; nothing changed ({error.orig})"
            ) from error
        return self.get(version_id)

    def _label_of(self, version_id: int | None, connection: Connection | None = None) -> str:
        """The label of a version id (e.g. "dedup v2 (id 2)"); "none" for None."""
        if version_id is None:
            return "none"
        try:
            if connection is not None:
                return self._get(connection, version_id).label
            return self.get(version_id).label
        except RegistryError:
            return f"version id {version_id}"

    @staticmethod
    def _verify_artifact(version: ModelVersion, *, event: str) -> None:
        """Refuse to activate a version whose files are missing or do not match their manifest."""
        if version.artifact_path is None:
            raise RegistryError(
                f"{version.label} has no artifacts to serve; {event} refused, nothing changed"
            )
        try:
            verify(version.artifact_path)
        except ArtifactError as error:
            raise RegistryError(
                f"{version.label} cannot be made active: its artifact is broken ({error}); "
                f"{event} refused, nothing changed"
            ) from error

    def _previous_active_id(self, task: str, current_id: int) -> int | None:
        """The most recent version, other than the current one, that was active and is now deprecated."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(model_events.c.model_version_id)
                .where(model_events.c.task == task, model_events.c.to_state == "active")
                .order_by(model_events.c.id.desc())
            ).scalars()
            for candidate_id in rows:
                if candidate_id == current_id:
                    continue
                if self._get(connection, candidate_id).state == "deprecated":
                    return candidate_id
        return None

    @staticmethod
    def _get(connection: Connection, version_id: int, *, for_update: bool = False) -> ModelVersion:
        query = sa.select(model_versions).where(model_versions.c.id == version_id)
        if for_update:
            query = query.with_for_update()
        row = connection.execute(query).first()
        if row is None:
            raise ModelVersionNotFoundError(f"no model version with id {version_id}")
        return _version_from_row(row)

    @staticmethod
    def _audit(
        connection: Connection,
        task: str,
        version_id: int,
        event: str,
        from_state: str | None,
        to_state: str,
        actor: str,
        reason: str,
    ) -> None:
        # Every write records an event: refuse values neither database stores alike (the transaction rolls back).
        problems = text_problems(model_events, {"task": task, "actor": actor, "reason": reason}, what=event)
        if problems:
            raise RegistryError("; ".join(problems) + "; nothing changed")
        connection.execute(
            model_events.insert().values(
                task=task,
                model_version_id=version_id,
                event=event,
                from_state=from_state,
                to_state=to_state,
                actor=actor,
                reason=reason,
                created_at=utcnow(),
            )
        )
