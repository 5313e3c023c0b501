"""Demo data written by the project for the retrieval task: the help center of "Notely", a fictional
note-taking app, with the questions its users asked and the support team's ratings of the articles shown.

* **Documents**: every article of :mod:`~fine_tuning_assets.tasks.retrieval.demo_catalogue` (~190
  articles over ~20 product areas): one per feature, and one per platform for platform features ("Export a
  note as PDF on Android"), ids ``kb-0001``… in catalogue order.
* **Queries**: the catalogue's hand-written queries (~200), as users type them — symptoms and their own
  words, rarely the article's ("the screen is too bright at night on my pixel" for "Dark mode on
  Android"). A platform feature is asked about on up to four of its platforms, each time naming the device
  the way people do ("my samsung", "the browser"); a few questions name no platform.
* **Ratings** (~1,000) on a 0-2 scale: 2 = answers the question, 1 = relevant but not the whole answer, 0 =
  not relevant; relevant when ``>= 1`` (:data:`DEMO_RELEVANT_AT`). Each query is rated on its right
  article(s) and on realistic near-misses: the same feature on other platforms, other articles of the same
  area, and the article of another area that shares the most words with the query (what a lexical
  retriever ranks high). A platform-neutral question rates two or three platforms' articles 1.
* **Second opinions**: about a quarter of the queries are rated again by a second person; most agree, and
  :data:`CONFLICT_COUNT` of them call a near-miss relevant that the first rater called not relevant (the
  conflicts a training set must resolve).

Everything depends only on ``seed`` (``random.Random(seed)``) and takes well under a second.

Example:
    >>> batch = generate_demo_retrieval(seed=7)
    >>> len(batch.documents) >= 180, len({j.query for j in batch.judgements}) >= 190
    (True, True)
    >>> batch.documents[0].id, batch == generate_demo_retrieval(seed=7)
    ('kb-0001', True)
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fine_tuning_assets.tasks.retrieval.demo_catalogue import (
    DEVICE_WORDS,
    FEATURES,
    PLATFORM_FEATURES,
    PLATFORM_UI,
    PlatformFeature,
)
from fine_tuning_assets.tasks.retrieval.records import Document, Judgement, RetrievalBatch

__all__ = [
    "CONFLICT_COUNT",
    "DEMO_RATERS",
    "DEMO_RELEVANT_AT",
    "DEMO_SEED",
    "DemoRetrievalFiles",
    "generate_demo_retrieval",
    "write_demo_retrieval_files",
]

DEMO_SEED = 7
#: Ratings are 0 (not relevant), 1 (relevant, not the whole answer), 2 (answers the question).
DEMO_RELEVANT_AT = 1.0
ANSWERS, PARTLY, NOT_RELEVANT = 2.0, 1.0, 0.0
DEMO_RATERS: tuple[str, ...] = ("ana.support", "ben.support", "chen.docs", "dana.support", "eli.product")
_RATER_WEIGHTS = (0.3, 0.25, 0.2, 0.15, 0.1)
#: (query, document) pairs two raters disagree on.
CONFLICT_COUNT = 20
#: Queries a second rater rates again and agrees with the first.
AGREEING_SECOND_OPINIONS = 30
#: Platform features are asked about on at most this many of their platforms.
MAX_PLATFORM_QUERIES = 4
_PUBLISHED_FROM = datetime(2024, 1, 1, tzinfo=UTC)
_RATED_FROM = datetime(2026, 6, 1, tzinfo=UTC)
_RATED_DAYS = 150
_STOPWORDS = frozenset(
    "a an the on in of to for and or my i is it can how do does dont cant with from at by be what your "
    "me this that all not get make when why where which notely note notes".split()
)


@dataclass(frozen=True)
class _Article:
    document: Document
    area: str
    feature: str
    platform: str | None


@dataclass
class _Query:
    text: str
    area: str
    rated: dict[str, float]  # document id -> first rater's rating
    other_platform_ids: tuple[str, ...] = ()


def _words(text: str) -> set[str]:
    return {word for word in re.findall(r"[a-z0-9]+", text.lower()) if word not in _STOPWORDS}


def _fill(template: str, platform: str) -> str:
    ui = PLATFORM_UI[platform]
    return template.format(platform=platform, act_lower=ui["act"].lower(), **ui)


def _articles(rng: random.Random) -> list[_Article]:
    """Every article, grouped by area in catalogue order, ids in that order."""
    drafts: list[tuple[str, str, str | None, str, str]] = []
    for feature in FEATURES:
        drafts.append((feature.area, feature.key, None, feature.title, feature.text))
    for platform_feature in PLATFORM_FEATURES:
        for platform, tip in platform_feature.tips.items():
            text = f"{_fill(platform_feature.text, platform)} {tip}"
            drafts.append(
                (
                    platform_feature.area,
                    platform_feature.key,
                    platform,
                    _fill(platform_feature.title, platform),
                    text,
                )
            )
    area_order = {area: n for n, area in enumerate(dict.fromkeys(draft[0] for draft in drafts))}
    drafts.sort(key=lambda draft: area_order[draft[0]])  # stable: catalogue order within an area
    articles = []
    for number, (area, key, platform, title, text) in enumerate(drafts, start=1):
        published_at = _PUBLISHED_FROM + timedelta(days=rng.randrange(880), minutes=rng.randrange(24 * 60))
        slug = f"{key}-{platform.lower()}" if platform else key
        document = Document(
            id=f"kb-{number:04d}",
            title=title,
            text=text,
            source=f"https://help.notely.com/{area}/{slug}",
            published_at=published_at,
            metadata={"area": area, "feature": key, "platform": platform or "all"},
        )
        articles.append(_Article(document, area, key, platform))
    return articles


def _lexical_near_miss(query: str, candidates: Iterable[tuple[_Article, set[str]]]) -> _Article | None:
    """The article outside the query's area that shares the most words with it (None when none shares any)."""
    words = _words(query)
    overlap, _, best = max(
        ((len(words & article_words), article.document.id, article) for article, article_words in candidates),
        default=(0, "", None),
    )
    return best if overlap else None


def _queries(rng: random.Random, articles: list[_Article]) -> list[_Query]:
    by_feature: dict[tuple[str, str | None], _Article] = {(a.feature, a.platform): a for a in articles}
    by_area: dict[str, list[_Article]] = {}
    for article in articles:
        by_area.setdefault(article.area, []).append(article)
    article_words = [(a, _words(f"{a.document.title} {a.document.text}")) for a in articles]
    taken: set[str] = set()
    queries: list[_Query] = []

    def add(
        text: str, area: str, right: dict[str, float], others: list[_Article], other_platforms=()
    ) -> None:
        rated = dict(right)
        for article in others:
            rated.setdefault(article.document.id, NOT_RELEVANT)
        lexical = _lexical_near_miss(text, ((a, w) for a, w in article_words if a.area != area))
        if lexical is not None:
            rated.setdefault(lexical.document.id, NOT_RELEVANT)
        taken.add(text)
        queries.append(_Query(text, area, rated, tuple(a.document.id for a in other_platforms)))

    def same_area(area: str, exclude: Callable[[_Article], bool], count: int) -> list[_Article]:
        pool = [a for a in by_area[area] if not exclude(a)]
        return rng.sample(pool, min(count, len(pool)))

    for feature in FEATURES:
        article = by_feature[(feature.key, None)]
        for text in feature.queries:
            others = same_area(feature.area, lambda a, f=feature: a.feature == f.key, 3)
            add(text, feature.area, {article.document.id: ANSWERS}, others)
    for platform_feature in PLATFORM_FEATURES:
        platforms = sorted(platform_feature.tips)
        asked = rng.sample(platforms, min(MAX_PLATFORM_QUERIES, len(platforms)))
        for platform in asked:
            text = _platform_query(rng, platform_feature, platform, taken)
            article = by_feature[(platform_feature.key, platform)]
            other_platforms = [by_feature[(platform_feature.key, p)] for p in platforms if p != platform]
            other_platforms = rng.sample(other_platforms, min(2, len(other_platforms)))
            others = same_area(
                platform_feature.area,
                lambda a, f=platform_feature, p=platform: a.feature == f.key or a.platform not in (p, None),
                2,
            )
            add(
                text,
                platform_feature.area,
                {article.document.id: ANSWERS},
                other_platforms + others,
                other_platforms,
            )
        for text in platform_feature.neutral:
            variants = [by_feature[(platform_feature.key, p)] for p in platforms]
            right = rng.sample(variants, min(len(variants), rng.choice((2, 3))))
            others = same_area(platform_feature.area, lambda a, f=platform_feature: a.feature == f.key, 2)
            add(text, platform_feature.area, {a.document.id: PARTLY for a in right}, others)
    return queries


def _platform_query(rng: random.Random, feature: PlatformFeature, platform: str, taken: set[str]) -> str:
    """A query about ``feature`` naming ``platform``'s device, not already asked (tries every wording)."""
    options = [
        template.format(dev=device) for template in feature.queries for device in DEVICE_WORDS[platform]
    ]
    rng.shuffle(options)
    for text in options:
        if text not in taken:
            return text
    raise AssertionError(
        f"no unused query left for {feature.key} on {platform}"
    )  # the catalogue is too small


def generate_demo_retrieval(*, seed: int = DEMO_SEED) -> RetrievalBatch:
    """The Notely help center (documents) and its users' rated queries (judgements), from ``seed``.

    Judgements come query by query (one rater's session, a few seconds apart), then the second opinions.
    """
    rng = random.Random(seed)
    articles = _articles(rng)
    queries = _queries(rng, articles)
    judgements: list[Judgement] = []
    sessions: list[tuple[_Query, str, datetime]] = []
    for query in queries:
        rater = rng.choices(DEMO_RATERS, weights=_RATER_WEIGHTS)[0]
        started = _RATED_FROM + timedelta(days=rng.randrange(_RATED_DAYS), seconds=rng.randrange(9 * 3600))
        sessions.append((query, rater, started))
        for offset, (document_id, rating) in enumerate(sorted(query.rated.items())):
            judgements.append(_judgement(query.text, document_id, rating, rater, started, offset))

    # Second opinions, a few days later by someone else: agreement on the right article, or a conflict.
    with_platform_misses = [n for n, (query, _, _) in enumerate(sessions) if query.other_platform_ids]
    conflicts = set(rng.sample(with_platform_misses, CONFLICT_COUNT))
    rest = [n for n in range(len(sessions)) if n not in conflicts]
    agreeing = set(rng.sample(rest, AGREEING_SECOND_OPINIONS))
    for n in sorted(conflicts | agreeing):
        query, first_rater, started = sessions[n]
        rater = rng.choice([r for r in DEMO_RATERS if r != first_rater])
        later = started + timedelta(days=rng.randint(1, 20))
        if n in conflicts:
            # "The Android article works on my iPhone too": a near-miss one person calls relevant.
            document_id = rng.choice(query.other_platform_ids)
            judgements.append(_judgement(query.text, document_id, PARTLY, rater, later, 0))
        else:
            right = sorted(d for d, rating in query.rated.items() if rating >= DEMO_RELEVANT_AT)
            for offset, document_id in enumerate(right):
                judgements.append(
                    _judgement(query.text, document_id, query.rated[document_id], rater, later, offset)
                )
    return RetrievalBatch(documents=tuple(a.document for a in articles), judgements=tuple(judgements))


def _judgement(
    query: str, document_id: str, rating: float, user: str, start: datetime, offset: int
) -> Judgement:
    return Judgement(
        query=query,
        document_id=document_id,
        rating=rating,
        relevant=rating >= DEMO_RELEVANT_AT,
        user=user,
        rated_at=start + timedelta(seconds=7 * offset),
    )


@dataclass(frozen=True)
class DemoRetrievalFiles:
    """The demo as import files: ``documents`` (JSON Lines, for ``read_documents``) and ``feedback`` (CSV
    ``query,document_id,label,user,rated_at``, for ``read_retrieval_feedback`` with the defaults)."""

    documents: Path
    feedback: Path


def write_demo_retrieval_files(
    folder: str | os.PathLike[str], *, seed: int = DEMO_SEED
) -> DemoRetrievalFiles:
    """Write the demo to ``folder/notely_documents.jsonl`` and ``folder/notely_feedback.csv``; each file is
    written to a temporary name and moved into place, so a reader never sees half a file. Reading them back
    with the default options gives the batch :func:`generate_demo_retrieval` returns."""
    batch = generate_demo_retrieval(seed=seed)
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    documents_path, feedback_path = target / "notely_documents.jsonl", target / "notely_feedback.csv"

    def write_documents(handle) -> None:  # type: ignore[no-untyped-def]
        for document in batch.documents:
            row = {
                "id": document.id,
                "title": document.title,
                "text": document.text,
                "source": document.source,
                "published_at": document.published_at.isoformat() if document.published_at else None,
                "metadata": document.metadata,
            }
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    def write_feedback(handle) -> None:  # type: ignore[no-untyped-def]
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["query", "document_id", "label", "user", "rated_at"])
        for judgement in batch.judgements:
            rating = "" if judgement.rating is None else f"{judgement.rating:g}"
            rated_at = judgement.rated_at.isoformat() if judgement.rated_at else ""
            writer.writerow([judgement.query, judgement.document_id, rating, judgement.user or "", rated_at])

    _write_atomically(documents_path, write_documents)
    _write_atomically(feedback_path, write_feedback)
    return DemoRetrievalFiles(documents=documents_path, feedback=feedback_path)


def _write_atomically(path: Path, write: Callable) -> None:  # type: ignore[type-arg]
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline="", dir=path.parent, prefix=f".{path.name}.", delete=False
    )
    try:
        with handle:
            write(handle)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
