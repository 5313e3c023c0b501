from __future__ import annotations

import shutil
import threading
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from fine_tuning_assets.core.artifacts import ArtifactStore
from fine_tuning_assets.core.database import model_versions, open_database
from fine_tuning_assets.core.registry import ModelRegistry, PromotionConflictError, RegistryError

_ARTIFACTS: list[ArtifactStore] = []


@pytest.fixture(autouse=True)
def artifact_store(tmp_path) -> ArtifactStore:
    """Where :func:`staged` writes each version's (tiny, real) artifact with its manifest."""
    _ARTIFACTS[:] = [ArtifactStore(tmp_path / "artifacts")]
    return _ARTIFACTS[0]


def staged(registry: ModelRegistry, *, task: str = "dedup") -> int:
    version = registry.register(
        task=task,
        model_kind="cross-encoder",
        base_model="base",
        dataset_version="ds-1",
        config={},
        actor="test",
    )
    path = _ARTIFACTS[0].write_directory(
        f"models/{task}/id{version.id}", lambda d: (d / "weights.bin").write_bytes(b"w"), manifest={}
    )
    registry.transition(version.id, "evaluating", actor="test", reason="trained", artifact_path=str(path))
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
    active = registry.rollback(
        "dedup", expected_active_id=second, actor="oncall", reason="override rate spiked"
    )
    assert active.id == first and registry.get(second).state == "failed"
    last = registry.events(task="dedup")[-2:]
    assert [(e.event, e.to_state, e.actor) for e in last] == [
        ("rollback", "failed", "oncall"),
        ("rollback", "active", "oncall"),
    ]
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        registry.rollback("dedup", expected_active_id=first, actor="t", reason="again")


def test_rollback_without_an_active_version_is_refused(registry):
    first = staged(registry)
    with pytest.raises(PromotionConflictError, match="the active one is none"):
        registry.rollback("dedup", expected_active_id=first, actor="t", reason="r")


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
        registry.rollback(
            "dedup", expected_active_id=first, to_version_id=never_active, actor="t", reason="r"
        )
    assert registry.active("dedup").id == first and registry.get(never_active).state == "staged"


# -- promotion and rollback check the artifact first -------------------------------------------------------
def _break(registry: ModelRegistry, version_id: int, how: str) -> None:
    path = registry.get(version_id).artifact_path
    if how == "folder gone":
        shutil.rmtree(path)
    else:
        (Path(path) / "weights.bin").write_bytes(b"tampered")


@pytest.mark.parametrize("how", ["folder gone", "file changed"])
def test_promotion_refuses_a_version_whose_artifact_is_broken(registry, how):
    first, second = staged(registry), staged(registry)
    registry.promote(first, expected_active_id=None, actor="t", reason="r")
    _break(registry, second, how)
    events = len(registry.events())
    with pytest.raises(
        RegistryError, match=r"dedup v2 \(id 2\) cannot be made active: its artifact is broken"
    ):
        registry.promote(second, expected_active_id=first, actor="t", reason="r")
    assert registry.active("dedup").id == first and registry.get(second).state == "staged"
    assert len(registry.events()) == events


def test_rollback_refuses_a_target_whose_artifact_is_broken(registry):
    first, second = staged(registry), staged(registry)
    registry.promote(first, expected_active_id=None, actor="t", reason="r")
    registry.promote(second, expected_active_id=first, actor="t", reason="r")
    _break(registry, first, "folder gone")
    with pytest.raises(RegistryError, match="its artifact is broken.*rollback refused, nothing changed"):
        registry.rollback("dedup", expected_active_id=second, actor="t", reason="r")
    assert registry.active("dedup").id == second and registry.get(first).state == "deprecated"


# -- concurrent rollbacks roll back once ---------------------------------------------------------------------
def _rollback_race_rounds(registry: ModelRegistry, rounds: int) -> None:
    active = registry.active("dedup")
    for _ in range(rounds):
        previous = staged(registry)
        registry.promote(previous, expected_active_id=active.id if active else None, actor="t", reason="r")
        bad = staged(registry)
        registry.promote(bad, expected_active_id=previous, actor="t", reason="r")
        barrier = threading.Barrier(2)
        won, lost = [], []

        def roll_back(bad: int = bad, barrier: threading.Barrier = barrier, won=won, lost=lost) -> None:
            barrier.wait()
            try:
                won.append(
                    registry.rollback("dedup", expected_active_id=bad, actor="race", reason="spike").id
                )
            except PromotionConflictError as error:
                lost.append(str(error))

        threads = [threading.Thread(target=roll_back) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert won == [previous] and len(lost) == 1, (won, lost)
        # The loser names the version that is really active, and the healthy version stays active.
        assert registry.get(previous).label in lost[0] and "nothing changed" in lost[0]
        active = registry.active("dedup")
        assert active.id == previous and registry.get(bad).state == "failed"
    with registry.engine.connect() as connection:
        assert connection.execute(
            sa.text("SELECT count(*) FROM model_versions WHERE state='failed'")
        ).scalar() == (rounds)


def test_two_rollbacks_racing_roll_back_once_sqlite(registry):
    _rollback_race_rounds(registry, rounds=15)


def test_two_rollbacks_racing_roll_back_once_postgres(postgres_url):
    _rollback_race_rounds(ModelRegistry(open_database(postgres_url)), rounds=15)


def test_a_rollback_with_a_stale_expectation_names_the_active_version(registry):
    first, second = staged(registry), staged(registry)
    registry.promote(first, expected_active_id=None, actor="t", reason="r")
    registry.promote(second, expected_active_id=first, actor="t", reason="r")
    registry.rollback("dedup", expected_active_id=second, actor="t", reason="r")
    with pytest.raises(
        PromotionConflictError,
        match=r"dedup v2 \(id 2\) is not the active dedup version; the active one is dedup v1 \(id 1\)",
    ):
        registry.rollback("dedup", expected_active_id=second, actor="t", reason="again")
    assert registry.active("dedup").id == first and registry.get(first).state == "active"


def test_a_promotion_and_a_rollback_racing_on_postgres_one_wins_and_the_loser_names_the_active_one(
    postgres_url,
):
    """PostgreSQL re-checks a row locked FOR UPDATE against the query's condition once the other transaction
    commits, and drops it when it no longer matches: reading "the active version" that way returned no row
    ("the active version is now None") when a concurrent change had just replaced it."""
    registry = ModelRegistry(open_database(postgres_url))
    active = None
    for _ in range(15):
        for _ in range(2):
            version = staged(registry)
            registry.promote(version, expected_active_id=active, actor="t", reason="r")
            active = version
        newcomer = staged(registry)
        barrier = threading.Barrier(2)
        won, lost = [], []

        def act(change, barrier=barrier, won=won, lost=lost) -> None:
            barrier.wait()
            try:
                won.append(change().id)
            except PromotionConflictError as error:
                lost.append(str(error))

        changes = [
            partial(registry.promote, newcomer, expected_active_id=active, actor="t", reason="r"),
            partial(registry.rollback, "dedup", expected_active_id=active, actor="t", reason="r"),
        ]
        threads = [threading.Thread(target=act, args=(change,)) for change in changes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1 and len(lost) == 1, (won, lost)
        assert "None" not in lost[0] and registry.get(won[0]).label in lost[0]
        active = registry.active("dedup").id
        assert active == won[0]
