from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from fine_tuning_assets.database import model_versions, open_database
from fine_tuning_assets.registry import ModelRegistry, PromotionConflictError, RegistryError


def staged(registry: ModelRegistry, *, task: str = "dedup") -> int:
    version = registry.register(
        task=task,
        model_kind="cross-encoder",
        base_model="base",
        dataset_version="ds-1",
        config={},
        actor="test",
    )
    registry.transition(
        version.id, "evaluating", actor="test", reason="trained", artifact_path=f"/models/{version.id}"
    )
    return registry.transition(version.id, "staged", actor="test", reason="gate passed").id


def test_lifecycle_and_audit_trail(registry):
    first = staged(registry)
    registry.promote(first, expected_active_id=None, actor="alice", reason="first")
    second = staged(registry)
    registry.promote(second, expected_active_id=first, actor="bob", reason="better")
    assert registry.get(first).state == "deprecated"
    assert registry.active("dedup").id == second
    events = [(e.model_version_id, e.from_state, e.to_state) for e in registry.events(task="dedup")]
    assert events[-2:] == [(first, "active", "deprecated"), (second, "staged", "active")]
    assert all(e.actor and e.reason and e.created_at for e in registry.events(task="dedup"))
    assert [v.version for v in registry.versions("dedup")] == [1, 2]


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        (["evaluating", "staged"], "active"),  # only promote() activates
        ([], "staged"),  # training → staged skips evaluation
        (["failed"], "evaluating"),  # failed is final
    ],
)
def test_transitions_outside_the_lifecycle_are_refused(registry, path, refused):
    version = registry.register(
        task="dedup", model_kind="ce", base_model="b", dataset_version="d", config={}, actor="t"
    )
    for state in path:
        registry.transition(version.id, state, actor="t", reason="r")
    before = len(registry.events())
    with pytest.raises(RegistryError, match="cannot become"):
        registry.transition(version.id, refused, actor="t", reason="r")
    assert len(registry.events()) == before


def test_only_staged_versions_are_promoted(registry):
    version = registry.register(
        task="dedup", model_kind="ce", base_model="b", dataset_version="d", config={}, actor="t"
    )
    with pytest.raises(RegistryError, match="only a staged version"):
        registry.promote(version.id, expected_active_id=None, actor="t", reason="r")


def test_a_stale_expectation_of_the_active_version_is_a_conflict(registry):
    first, second = staged(registry), staged(registry)
    registry.promote(first, expected_active_id=None, actor="t", reason="r")
    with pytest.raises(PromotionConflictError, match="another promotion or rollback happened first"):
        registry.promote(second, expected_active_id=None, actor="t", reason="r")
    assert registry.active("dedup").id == first and registry.get(second).state == "staged"


def test_the_database_itself_refuses_a_second_active_version(registry):
    first, second = staged(registry), staged(registry)
    registry.promote(first, expected_active_id=None, actor="t", reason="r")
    with pytest.raises(IntegrityError), registry.engine.begin() as connection:
        connection.execute(
            model_versions.update().where(model_versions.c.id == second).values(state="active")
        )


def test_rollback_reactivates_the_previous_version_and_fails_the_bad_one(registry):
    first, second = staged(registry), staged(registry)
    registry.promote(first, expected_active_id=None, actor="t", reason="r")
    registry.promote(second, expected_active_id=first, actor="t", reason="r")
    active = registry.rollback("dedup", actor="oncall", reason="override rate spiked")
    assert active.id == first and registry.get(second).state == "failed"
    last = registry.events(task="dedup")[-2:]
    assert [(e.event, e.to_state, e.actor) for e in last] == [
        ("rollback", "failed", "oncall"),
        ("rollback", "active", "oncall"),
    ]
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        registry.rollback("dedup", actor="t", reason="again")


def test_rollback_without_an_active_version_is_refused(registry):
    with pytest.raises(RegistryError, match="no active version"):
        registry.rollback("dedup", actor="t", reason="r")


def _race(registry: ModelRegistry, candidates: list[int], expected: int | None) -> tuple[list, list]:
    barrier = threading.Barrier(len(candidates))
    won, lost = [], []

    def promote(version_id: int) -> None:
        barrier.wait()
        try:
            won.append(
                registry.promote(version_id, expected_active_id=expected, actor="race", reason="race").id
            )
        except PromotionConflictError as error:
            lost.append(error)

    threads = [threading.Thread(target=promote, args=(v,)) for v in candidates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won, lost


@pytest.mark.parametrize("with_previous_active", [False, True])
def test_two_promotions_racing_for_the_active_slot_sqlite(registry, with_previous_active):
    expected = None
    if with_previous_active:
        expected = staged(registry)
        registry.promote(expected, expected_active_id=None, actor="t", reason="r")
    candidates = [staged(registry), staged(registry)]
    won, lost = _race(registry, candidates, expected)
    assert len(won) == 1 and len(lost) == 1
    assert registry.active("dedup").id == won[0]
    with registry.engine.connect() as connection:
        assert (
            connection.execute(sa.text("SELECT count(*) FROM model_versions WHERE state='active'")).scalar()
            == 1
        )


@pytest.mark.parametrize("with_previous_active", [False, True])
def test_two_promotions_racing_for_the_active_slot_postgres(postgres_url, with_previous_active):
    registry = ModelRegistry(open_database(postgres_url))
    expected = None
    if with_previous_active:
        expected = staged(registry)
        registry.promote(expected, expected_active_id=None, actor="t", reason="r")
    for _round in range(3):
        candidates = [staged(registry), staged(registry)]
        current = registry.active("dedup")
        won, lost = _race(registry, candidates, current.id if current else None)
        assert len(won) == 1 and len(lost) == 1, (won, lost)
        assert registry.active("dedup").id == won[0]
    with registry.engine.connect() as connection:
        assert (
            connection.execute(sa.text("SELECT count(*) FROM model_versions WHERE state='active'")).scalar()
            == 1
        )


def test_rollback_only_returns_to_a_version_that_was_active(registry):
    first = staged(registry)
    registry.promote(first, expected_active_id=None, actor="t", reason="r")
    never_active = staged(registry)
    with pytest.raises(RegistryError, match="only a deprecated version can be made active by rollback"):
        registry.rollback("dedup", to_version_id=never_active, actor="t", reason="r")
    assert registry.active("dedup").id == first and registry.get(never_active).state == "staged"
