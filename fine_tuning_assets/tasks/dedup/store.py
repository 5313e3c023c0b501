"""The feedback store: insights, proposed merge clusters and the reviewers' decisions on them.

Every write is one transaction: a batch of decisions lands whole or not at all.

Example:
    >>> from fine_tuning_assets.core.database import open_database
    >>> from fine_tuning_assets.tasks.dedup.records import ClusterMember, DecisionBatch, Insight, MergeCluster
    >>> store = FeedbackStore(open_database("sqlite://"))
    >>> batch = DecisionBatch(
    ...     insights=(Insight("i1", "Coffee raises alertness."), Insight("i2", "Caffeine makes you alert.")),
    ...     clusters=(MergeCluster("c1", "pending", None, None,
    ...               (ClusterMember("i1", 0.9, False), ClusterMember("i2", 0.9, False))),),
    ... )
    >>> store.add_decisions(batch, kind="example", source="doctest").cluster_count
    1
    >>> store.record_decision("c1", status="approved", reviewer="ana", selected_insight_ids=["i1", "i2"]).status
    'approved'
    >>> store.counts()["clusters_approved"]
    1
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fine_tuning_assets.core.database import (
    as_utc,
    import_batches,
    insights,
    merge_cluster_members,
    merge_clusters,
    text_problems,
    utcnow,
)
from fine_tuning_assets.core.store_writes import in_chunks, serialize_feedback_writes
from fine_tuning_assets.serving.prediction_log import record_outcomes
from fine_tuning_assets.tasks.dedup.examples import pair_outcomes
from fine_tuning_assets.tasks.dedup.records import (
    CLUSTER_STATUSES,
    DECIDED_STATUSES,
    INSIGHT_METADATA_FIELDS,
    ClusterMember,
    DecisionBatch,
    Insight,
    MergeCluster,
    list_problems,
)


class FeedbackStoreError(ValueError):
    """A write the feedback store refuses; nothing was written."""


@dataclass(frozen=True)
class ImportSummary:
    """What :meth:`FeedbackStore.add_decisions` did with a batch.

    ``cluster_count`` / ``decided_cluster_count`` count the batch; ``new_cluster_count`` the clusters it
    stored; ``already_present`` names the batch's clusters the store already held (not written again);
    ``changed`` names the stored new clusters that decide a set of insights the same reviewer had decided
    otherwise before (a new decision; the training set resolves such conflicts by the latest).
    ``batch_id`` is None when the batch held nothing new and nothing was written.
    """

    batch_id: int | None
    insight_count: int
    new_insight_count: int
    cluster_count: int
    decided_cluster_count: int
    new_cluster_count: int = 0
    already_present: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedbackSnapshot:
    """The decided clusters recorded up to a watermark, with the insights they mention."""

    recorded_through: datetime | None
    decisions: DecisionBatch


def _insight_row(insight: Insight, *, batch_id: int | None, now: datetime) -> dict:
    known = {key: insight.metadata.get(key) for key in INSIGHT_METADATA_FIELDS}
    extra = {k: v for k, v in insight.metadata.items() if k not in INSIGHT_METADATA_FIELDS}
    return {
        "id": insight.id,
        "statement": insight.statement,
        **known,
        "extra_metadata": extra,
        "import_batch_id": batch_id,
        "created_at": now,
    }


def _insight_from_row(row: sa.Row) -> Insight:
    meta = {key: getattr(row, key) for key in INSIGHT_METADATA_FIELDS if getattr(row, key) is not None}
    meta.update(row.extra_metadata or {})
    return Insight(id=row.id, statement=row.statement, metadata=meta)


def _validate_cluster(cluster: MergeCluster) -> list[str]:
    problems = []
    if cluster.status not in CLUSTER_STATUSES:
        problems.append(f"cluster {cluster.id!r}: unknown status {cluster.status!r}")
    if len(cluster.members) < 2:
        problems.append(f"cluster {cluster.id!r}: needs at least 2 members, has {len(cluster.members)}")
    ids = [m.insight_id for m in cluster.members]
    if len(set(ids)) != len(ids):
        problems.append(f"cluster {cluster.id!r}: an insight appears twice")
    if cluster.is_decided and (cluster.decided_at is None or not cluster.reviewer):
        problems.append(f"cluster {cluster.id!r}: a decided cluster needs a reviewer and decided_at")
    if cluster.status == "pending" and cluster.decided_at is not None:
        problems.append(f"cluster {cluster.id!r}: a pending cluster cannot have decided_at")
    if cluster.status == "approved" and sum(m.selected for m in cluster.members) < 2:
        problems.append(f"cluster {cluster.id!r}: an approved cluster needs at least 2 selected members")
    if cluster.status != "approved" and any(m.selected for m in cluster.members):
        problems.append(f"cluster {cluster.id!r}: only an approved cluster can have selected members")
    return problems


def _text_problems(batch: DecisionBatch) -> list[str]:
    """Values neither database may store differently: NUL characters and strings longer than their column."""
    problems: list[str] = []
    for insight in batch.insights:
        known = {key: insight.metadata.get(key) for key in INSIGHT_METADATA_FIELDS}
        problems += text_problems(
            insights,
            {"id": insight.id, "statement": insight.statement, **known},
            what=f"insight {insight.id!r}",
        )
    for cluster in batch.clusters:
        problems += text_problems(
            merge_clusters, {"id": cluster.id, "reviewer": cluster.reviewer}, what=f"cluster {cluster.id!r}"
        )
    return problems


def _outcome(cluster: MergeCluster) -> tuple[str, frozenset[str]]:
    return cluster.status, frozenset(m.insight_id for m in cluster.members if m.selected)


def _differences(stored: MergeCluster, new: MergeCluster) -> list[str]:
    """How a cluster in a batch differs from the stored cluster with its id ([] when it is the same).

    A pending cluster in the batch matches a stored cluster with the same members that was decided since:
    the store knows more about it, it is the same cluster."""
    stored_members = {m.insight_id: (m.similarity, m.selected) for m in stored.members}
    new_members = {m.insight_id: (m.similarity, m.selected) for m in new.members}
    if new.status == "pending" and stored.is_decided:
        same = {i: s for i, (s, _) in stored_members.items()} == {i: s for i, (s, _) in new_members.items()}
        return [] if same else ["its members"]
    differences = [
        f"{name} {before!r} in the store, {after!r} here"
        for name, before, after in (
            ("status", stored.status, new.status),
            ("reviewer", stored.reviewer, new.reviewer),
            ("decided_at", as_utc(stored.decided_at), as_utc(new.decided_at)),
        )
        if before != after
    ]
    if stored_members != new_members:
        differences.append("its members, their similarity or their selection")
    return differences


class FeedbackStore:
    """Reads and writes human merge decisions through one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- writes -------------------------------------------------------------------------------------
    def add_decisions(self, batch: DecisionBatch, *, kind: str, source: str) -> ImportSummary:
        """Write the new insights and clusters of a batch in one transaction; returns what it did.

        Importing the same decisions again changes nothing: a cluster whose id is already stored is
        *already present* and skipped, when it is the same cluster (``batch.ids_from_content``: the id says
        so; otherwise its status, reviewer, decided_at, members and selection must all be the same). A new
        decided cluster whose members the same reviewer had decided otherwise is stored and reported as
        *changed*. When nothing is new, nothing is written (no import batch either).

        Raises :class:`FeedbackStoreError` listing the problems (an insight id that already exists with
        another statement, a stored cluster id with other content, a member naming an unknown insight, an
        invalid cluster, a NUL character or a value longer than its column); nothing is written then.
        """
        if not batch.clusters and not batch.insights:
            raise FeedbackStoreError(f"{source}: nothing to import (no insights and no clusters)")
        problems: list[str] = []
        batch_insights: dict[str, Insight] = {}
        for insight in batch.insights:
            if not insight.statement.strip():
                problems.append(f"insight {insight.id!r}: empty statement")
            previous = batch_insights.get(insight.id)
            if previous is not None and previous.statement != insight.statement:
                problems.append(f"insight {insight.id!r}: two different statements in one batch")
            batch_insights[insight.id] = insight
        cluster_ids = [c.id for c in batch.clusters]
        if len(set(cluster_ids)) != len(cluster_ids):
            problems.append("the batch names the same cluster id twice")
        for cluster in batch.clusters:
            problems.extend(_validate_cluster(cluster))
        problems.extend(_text_problems(batch))

        with self.engine.begin() as connection:
            now = serialize_feedback_writes(connection)
            existing = self._existing_insights(connection, batch_insights)
            for insight_id, statement in existing.items():
                if statement != batch_insights[insight_id].statement:
                    problems.append(
                        f"insight {insight_id!r} already exists in the store with another statement"
                    )
            stored = self._load_clusters(connection, cluster_ids)
            already_present: list[str] = []
            for cluster in batch.clusters:
                if cluster.id not in stored:
                    continue
                differences = [] if batch.ids_from_content else _differences(stored[cluster.id], cluster)
                if differences:
                    problems.append(
                        f"cluster {cluster.id!r} already exists in the store with other content "
                        f"({'; '.join(differences)})"
                    )
                else:
                    already_present.append(cluster.id)
            new_clusters = [c for c in batch.clusters if c.id not in stored]
            referenced = {m.insight_id for c in new_clusters for m in c.members}
            unknown = (
                referenced
                - set(batch_insights)
                - set(self._existing_insights(connection, referenced - set(batch_insights)))
            )
            problems.extend(f"a cluster member names unknown insight {i!r}" for i in sorted(unknown))
            if problems:
                raise FeedbackStoreError(
                    f"{source}: {len(problems)} problem(s), nothing was written:\n" + list_problems(problems)
                )
            new_insights = [i for i in batch_insights.values() if i.id not in existing]
            changed = self._redecided(connection, new_clusters)
            summary = ImportSummary(
                batch_id=None,
                insight_count=len(batch_insights),
                new_insight_count=len(new_insights),
                cluster_count=len(batch.clusters),
                decided_cluster_count=sum(c.is_decided for c in batch.clusters),
                new_cluster_count=len(new_clusters),
                already_present=tuple(already_present),
                changed=tuple(changed),
            )
            if not new_clusters and not new_insights:
                return summary
            batch_id = connection.execute(
                import_batches.insert().values(
                    kind=kind,
                    source=source,
                    insight_count=len(new_insights),
                    cluster_count=len(new_clusters),
                    imported_at=now,
                )
            ).inserted_primary_key[0]
            if new_insights:
                connection.execute(
                    insights.insert(), [_insight_row(i, batch_id=batch_id, now=now) for i in new_insights]
                )
            if new_clusters:
                connection.execute(
                    merge_clusters.insert(),
                    [
                        {
                            "id": c.id,
                            "status": c.status,
                            "reviewer": c.reviewer,
                            "decided_at": c.decided_at,
                            "priority": c.priority,
                            "import_batch_id": batch_id,
                            "created_at": now,
                            "recorded_at": now,
                        }
                        for c in new_clusters
                    ],
                )
                connection.execute(
                    merge_cluster_members.insert(),
                    [
                        {
                            "cluster_id": c.id,
                            "insight_id": m.insight_id,
                            "similarity": m.similarity,
                            "selected": m.selected,
                        }
                        for c in new_clusters
                        for m in c.members
                    ],
                )
            self._record_outcomes(
                connection,
                new_clusters,
                {**existing, **{i.id: i.statement for i in batch_insights.values()}},
                source=f"import:{kind}",
            )
        return replace(summary, batch_id=batch_id)

    def record_decision(
        self,
        cluster_id: str,
        *,
        status: str,
        reviewer: str,
        selected_insight_ids: Sequence[str] = (),
        decided_at: datetime | None = None,
    ) -> MergeCluster:
        """Record a reviewer's decision on a pending cluster.

        ``status`` is ``approved`` (with the member ids that really merge, at least two) or ``rejected``.
        """
        if status not in DECIDED_STATUSES:
            raise FeedbackStoreError(f"a decision is 'approved' or 'rejected', not {status!r}")
        if not reviewer.strip():
            raise FeedbackStoreError("a decision needs the reviewer's name")
        problems = text_problems(merge_clusters, {"reviewer": reviewer}, what=f"cluster {cluster_id!r}")
        if problems:
            raise FeedbackStoreError("; ".join(problems))
        decided_at = as_utc(decided_at) or utcnow()
        with self.engine.begin() as connection:
            now = serialize_feedback_writes(connection)
            cluster = self._load_clusters(connection, [cluster_id], for_update=True).get(cluster_id)
            if cluster is None:
                raise FeedbackStoreError(f"no cluster {cluster_id!r} in the feedback store")
            if cluster.status != "pending":
                raise FeedbackStoreError(
                    f"cluster {cluster_id!r} was already {cluster.status} by {cluster.reviewer} "
                    f"at {cluster.decided_at:%Y-%m-%d %H:%M}; record a new cluster to change a decision"
                )
            member_ids = {m.insight_id for m in cluster.members}
            selected = set(selected_insight_ids)
            if selected - member_ids:
                raise FeedbackStoreError(
                    f"cluster {cluster_id!r} has no member(s) {', '.join(sorted(selected - member_ids))}"
                )
            if status == "approved" and len(selected) < 2:
                raise FeedbackStoreError("an approval selects at least two members that merge")
            if status == "rejected" and selected:
                raise FeedbackStoreError("a rejection selects no members")
            connection.execute(
                merge_clusters.update()
                .where(merge_clusters.c.id == cluster_id)
                .values(status=status, reviewer=reviewer, decided_at=decided_at, recorded_at=now)
            )
            for member_id in member_ids:
                connection.execute(
                    merge_cluster_members.update()
                    .where(
                        merge_cluster_members.c.cluster_id == cluster_id,
                        merge_cluster_members.c.insight_id == member_id,
                    )
                    .values(selected=member_id in selected)
                )
            decided = self._load_clusters(connection, [cluster_id])[cluster_id]
            self._record_outcomes(connection, [decided], {}, source=f"decision:{reviewer}")
            return decided

    # -- reads --------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int | str | None]:
        """Counts of insights, clusters by status and members, and the latest recorded time."""
        with self.engine.connect() as connection:
            by_status = dict(
                connection.execute(
                    sa.select(merge_clusters.c.status, sa.func.count()).group_by(merge_clusters.c.status)
                ).all()
            )
            result: dict[str, int | str | None] = {
                "insights": connection.execute(sa.select(sa.func.count()).select_from(insights)).scalar_one(),
                "clusters": sum(by_status.values()),
                **{f"clusters_{status}": by_status.get(status, 0) for status in CLUSTER_STATUSES},
                "members": connection.execute(
                    sa.select(sa.func.count()).select_from(merge_cluster_members)
                ).scalar_one(),
            }
            latest = connection.execute(sa.select(sa.func.max(merge_clusters.c.recorded_at))).scalar()
            result["last_recorded_at"] = as_utc(latest).isoformat() if latest else None
        return result

    def latest_recorded_at(self) -> datetime | None:
        with self.engine.connect() as connection:
            return as_utc(
                connection.execute(
                    sa.select(sa.func.max(merge_clusters.c.recorded_at)).where(
                        merge_clusters.c.status.in_(DECIDED_STATUSES)
                    )
                ).scalar()
            )

    def count_decisions_recorded_after(self, watermark: datetime | None) -> int:
        """Decided clusters recorded after ``watermark`` (all of them when it is None)."""
        query = (
            sa.select(sa.func.count())
            .select_from(merge_clusters)
            .where(merge_clusters.c.status.in_(DECIDED_STATUSES))
        )
        if watermark is not None:
            query = query.where(merge_clusters.c.recorded_at > watermark)
        with self.engine.connect() as connection:
            return connection.execute(query).scalar_one()

    def snapshot(self, *, recorded_through: datetime | None) -> FeedbackSnapshot:
        """The decided clusters recorded at or before ``recorded_through`` and the insights they name.

        Passing the watermark a feedback asset recorded reproduces exactly the decisions it counted.
        """
        query = sa.select(merge_clusters.c.id).where(merge_clusters.c.status.in_(DECIDED_STATUSES))
        if recorded_through is not None:
            query = query.where(merge_clusters.c.recorded_at <= recorded_through)
        with self.engine.connect() as connection:
            ids = list(connection.execute(query.order_by(merge_clusters.c.id)).scalars())
            clusters = self._load_clusters(connection, ids)
            member_ids = {m.insight_id for c in clusters.values() for m in c.members}
            found = self._load_insights(connection, member_ids)
        return FeedbackSnapshot(
            recorded_through=recorded_through,
            decisions=DecisionBatch(
                insights=tuple(found[i] for i in sorted(found)),
                clusters=tuple(clusters[i] for i in ids),
            ),
        )

    def pending(self) -> DecisionBatch:
        """The clusters still waiting for a reviewer, and the insights they name."""
        query = sa.select(merge_clusters.c.id).where(merge_clusters.c.status == "pending")
        with self.engine.connect() as connection:
            ids = list(connection.execute(query.order_by(merge_clusters.c.id)).scalars())
            clusters = self._load_clusters(connection, ids)
            found = self._load_insights(
                connection, {m.insight_id for c in clusters.values() for m in c.members}
            )
        return DecisionBatch(
            insights=tuple(found[i] for i in sorted(found)), clusters=tuple(clusters[i] for i in ids)
        )

    def insights_created_since(self, created_at: datetime | None) -> list[tuple[Insight, datetime]]:
        """Insights stored after ``created_at`` (every insight when None), oldest first, each with the time
        it was stored: what an index of the insights syncs from. Writes record their time in commit order
        (:func:`~fine_tuning_assets.core.store_writes.serialize_feedback_writes`), so nothing is stored
        later with a time at or before one already read."""
        query = sa.select(insights).order_by(insights.c.created_at, insights.c.id)
        if created_at is not None:
            query = query.where(insights.c.created_at > created_at)
        with self.engine.connect() as connection:
            return [(_insight_from_row(row), as_utc(row.created_at)) for row in connection.execute(query)]

    def insight_ids(self) -> tuple[list[str], datetime | None]:
        """Every stored insight's id, and the latest time one was stored (read first: an insight stored
        while the ids are read is after it)."""
        with self.engine.connect() as connection:
            latest = connection.execute(sa.select(sa.func.max(insights.c.created_at))).scalar()
            ids = list(connection.execute(sa.select(insights.c.id)).scalars())
        return ids, as_utc(latest)

    def get_cluster(self, cluster_id: str) -> MergeCluster | None:
        with self.engine.connect() as connection:
            return self._load_clusters(connection, [cluster_id]).get(cluster_id)

    def insights(self, ids: Iterable[str]) -> dict[str, Insight]:
        with self.engine.connect() as connection:
            return self._load_insights(connection, set(ids))

    # -- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _record_outcomes(
        connection: Connection, clusters: Sequence[MergeCluster], statements: dict[str, str], *, source: str
    ) -> None:
        """The prediction log learns what reviewers decided about the pairs it served, in this transaction."""
        decided = [c for c in clusters if c.is_decided]
        if decided:
            members = {m.insight_id for c in decided for m in c.members}
            statements = {
                **FeedbackStore._existing_insights(connection, members - set(statements)),
                **statements,
            }
            record_outcomes(
                connection, task="dedup", outcomes=pair_outcomes(decided, statements), source=source
            )

    @staticmethod
    def _existing_insights(connection: Connection, ids: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in in_chunks(ids):
            rows = connection.execute(
                sa.select(insights.c.id, insights.c.statement).where(insights.c.id.in_(chunk))
            )
            found.update({row.id: row.statement for row in rows})
        return found

    def _redecided(self, connection: Connection, clusters: Sequence[MergeCluster]) -> list[str]:
        """The ids of the decided ``clusters`` whose exact set of members the same reviewer last decided
        otherwise (another status or another selection) in a cluster already stored."""
        decided = [c for c in clusters if c.is_decided]
        member_ids = sorted({m.insight_id for c in decided for m in c.members})
        candidates: set[str] = set()
        for chunk in in_chunks(member_ids):
            candidates.update(
                connection.execute(
                    sa.select(merge_cluster_members.c.cluster_id).where(
                        merge_cluster_members.c.insight_id.in_(chunk)
                    )
                ).scalars()
            )
        latest: dict[tuple[frozenset[str], str | None], MergeCluster] = {}
        for stored in self._load_clusters(connection, sorted(candidates)).values():
            if not stored.is_decided:
                continue
            key = (frozenset(m.insight_id for m in stored.members), stored.reviewer)
            if key not in latest or (stored.decided_at, stored.id) > (latest[key].decided_at, latest[key].id):
                latest[key] = stored
        changed = []
        for cluster in decided:
            previous = latest.get((frozenset(m.insight_id for m in cluster.members), cluster.reviewer))
            if previous is not None and _outcome(previous) != _outcome(cluster):
                changed.append(cluster.id)
        return changed

    @staticmethod
    def _load_insights(connection: Connection, ids: set[str]) -> dict[str, Insight]:
        found: dict[str, Insight] = {}
        for chunk in in_chunks(sorted(ids)):
            rows = connection.execute(sa.select(insights).where(insights.c.id.in_(chunk)))
            found.update({row.id: _insight_from_row(row) for row in rows})
        return found

    @staticmethod
    def _load_clusters(
        connection: Connection, ids: Sequence[str], *, for_update: bool = False
    ) -> dict[str, MergeCluster]:
        clusters: dict[str, MergeCluster] = {}
        for chunk in in_chunks(ids):
            query = sa.select(merge_clusters).where(merge_clusters.c.id.in_(chunk))
            if for_update:
                query = query.with_for_update()
            rows = connection.execute(query).all()
            members: dict[str, list[ClusterMember]] = {}
            for member in connection.execute(
                sa.select(merge_cluster_members)
                .where(merge_cluster_members.c.cluster_id.in_(chunk))
                .order_by(merge_cluster_members.c.cluster_id, merge_cluster_members.c.insight_id)
            ):
                members.setdefault(member.cluster_id, []).append(
                    ClusterMember(member.insight_id, member.similarity, bool(member.selected))
                )
            for row in rows:
                clusters[row.id] = MergeCluster(
                    id=row.id,
                    status=row.status,
                    reviewer=row.reviewer,
                    decided_at=as_utc(row.decided_at),
                    members=tuple(members.get(row.id, ())),
                    priority=row.priority,
                )
        return clusters
