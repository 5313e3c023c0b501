"""Demo data written by the project for the signals task: transcript chunks of six fictional podcasts and
what a dozen listeners did with them when a surfacing system showed them.

* **Chunks** (``n_chunks``, default 500): passages of episodes of six shows (software engineering,
  productivity, personal finance, running, cooking science, startups), each episode an intro, body
  passages, a sponsor read and an outro, with a host and a guest speaking. A body passage is one of:
  a *concrete insight* (a named technique, an instruction, numbers), a *story* with a measured result, a
  *vague opinion*, or *banter*. Sponsor reads repeat across episodes (the same ad under several chunk ids,
  as real transcripts have them).
* **Worth**: every chunk has a hidden worth drawn from its kind (:data:`KIND_WORTH`): concrete insights are
  worth saving ~90% of the time, stories ~75%, vague opinions ~15%, banter, intros, outros and ads almost
  never. About 40% of the chunks end up labelled worth surfacing by their readers' majority.
* **Actions**: each chunk is shown to 1-5 of ``n_users`` listeners (``listener-01``…). A listener saves
  (or, ~30% of their positives, snips) a chunk that is worth it and skips one that is not, but each
  listener goes against the chunk's worth 7-23% of the time (~15% on average): listeners disagree. About 4%
  of the listener-chunk pairs also have an earlier, opposite action (the listener changed their mind; the
  latest action counts).
* **Scores**: ``relevance_score`` is the surfacing system's score in [0, 1]: it likes long passages
  and ones that name the show's topic words, and knows a little about worth (weakly informative: the
  reference a trained model must beat). ``quality_score`` is the transcript's speech-recognition confidence
  (uninformative).

Everything depends only on the arguments (``random.Random(seed)``) and takes well under a second.

Example:
    >>> batch = generate_demo_signals(n_chunks=60, n_users=6, seed=3)
    >>> len(batch.chunk_ids()), batch == generate_demo_signals(n_chunks=60, n_users=6, seed=3)
    (60, True)
    >>> sorted({action.user_id for action in batch.actions}) <= [f"listener-{i:02d}" for i in range(1, 7)]
    True
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fine_tuning_assets.tasks.signals.records import ChunkAction, ChunkBatch

__all__ = [
    "DEMO_PODCASTS",
    "DEMO_SEED",
    "KIND_WORTH",
    "demo_users",
    "generate_demo_signals",
    "write_demo_file",
]

DEMO_SEED = 11
#: How likely a chunk of each kind is worth saving.
KIND_WORTH: dict[str, float] = {
    "insight": 0.9,
    "story": 0.75,
    "opinion": 0.15,
    "banter": 0.04,
    "intro": 0.02,
    "outro": 0.02,
    "ad": 0.02,
}
_BODY_KINDS = ("insight", "story", "opinion", "banter")
_BODY_WEIGHTS = (0.42, 0.16, 0.24, 0.18)
_VIEWERS = (1, 2, 3, 4, 5)
_VIEWER_WEIGHTS = (0.15, 0.15, 0.3, 0.2, 0.2)
_CHANGED_MIND = 0.04
_RELEASED_FROM = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


@dataclass(frozen=True)
class _Show:
    name: str
    host: str
    guests: tuple[str, ...]
    topics: tuple[str, ...]  # episode topics, also the words the surfacing system looks for
    techniques: tuple[tuple[str, str], ...]  # (named technique, the instruction)
    metrics: tuple[tuple[str, str], ...]  # (what is measured, its unit)
    vague: tuple[str, ...]


DEMO_PODCASTS: tuple[_Show, ...] = (
    _Show(
        name="The Build Log",
        host="Maya Chen",
        guests=("Ravi Patel", "Jo Lindqvist", "Sam Okafor", "Lena Park"),
        topics=("deploys", "code review", "on-call", "testing", "technical debt"),
        techniques=(
            ("feature flags", "ship the code dark and turn it on for one percent of users first"),
            (
                "trunk-based development",
                "merge to main at least once a day and keep branches under a day old",
            ),
            ("blameless postmortems", "write down the timeline before anyone discusses causes"),
            (
                "the two-reviewer rule",
                "cap pull requests at four hundred lines so a review takes one sitting",
            ),
            ("contract tests", "pin every service's API in a test the consumer owns"),
            ("error budgets", "freeze features for a sprint whenever the budget is spent"),
            (
                "canary releases",
                "route five percent of traffic to the new build for an hour and watch errors",
            ),
        ),
        metrics=(
            ("lead time", "hours"),
            ("failed deploys", "a month"),
            ("pages", "a week"),
            ("build time", "minutes"),
        ),
        vague=("good engineering culture", "caring about quality", "the right mindset", "ownership"),
    ),
    _Show(
        name="Deep Work Radio",
        host="Tom Alvarez",
        guests=("Priya Raman", "Greg Holt", "Amara Nwosu", "Kenji Sato"),
        topics=("focus", "email", "meetings", "habits", "planning"),
        techniques=(
            ("time blocking", "put every task on the calendar the night before, in ninety-minute blocks"),
            ("email batching", "check email at eleven and at four and close the tab in between"),
            ("the two-minute rule", "do anything that takes under two minutes immediately"),
            ("a shutdown ritual", "write tomorrow's first task on a sticky note before you stop"),
            ("the weekly review", "spend thirty minutes every Friday emptying every inbox and list"),
            ("meeting-free mornings", "block the mornings for the whole team and move stand-ups to noon"),
            (
                "the Pomodoro technique",
                "work twenty-five minutes, break five, and take a long break after four",
            ),
        ),
        metrics=(("deep work", "hours a week"), ("meetings", "hours a week"), ("unread emails", "a day")),
        vague=("balance", "being intentional", "showing up every day", "finding your flow"),
    ),
    _Show(
        name="Money Matters Weekly",
        host="Dana Brooks",
        guests=("Luis Ortega", "Hannah Weiss", "Kwame Mensah", "Sofia Rossi"),
        topics=("budgeting", "index funds", "debt", "retirement", "taxes"),
        techniques=(
            (
                "the fifty-thirty-twenty budget",
                "split take-home pay into needs, wants and savings at fifty, thirty, twenty",
            ),
            (
                "the debt avalanche",
                "pay minimums everywhere and throw every extra dollar at the highest rate first",
            ),
            ("automatic transfers", "move savings on payday before the money reaches your checking account"),
            ("a sinking fund", "divide every yearly bill by twelve and set that aside each month"),
            (
                "low-cost index funds",
                "keep fund fees under a tenth of a percent and never pick single stocks",
            ),
            ("the employer match", "contribute at least enough to get the full match before anything else"),
            ("a three-month emergency fund", "park three months of expenses in a high-yield savings account"),
        ),
        metrics=(
            ("savings rate", "percent"),
            ("credit card debt", "thousand dollars"),
            ("fees", "dollars a year"),
        ),
        vague=("your relationship with money", "financial peace", "living within your means", "abundance"),
    ),
    _Show(
        name="Stride",
        host="Chris Nolan",
        guests=("Aisha Bello", "Mark Jensen", "Yuki Tanaka", "Elena Petrova"),
        topics=("marathon training", "injuries", "pacing", "recovery", "nutrition"),
        techniques=(
            (
                "the eighty-twenty rule",
                "run eighty percent of your weekly miles at an easy conversational pace",
            ),
            ("the ten percent rule", "never raise weekly mileage by more than ten percent"),
            (
                "negative splits",
                "run the second half of the race thirty seconds per mile faster than the first",
            ),
            ("strides", "add six twenty-second accelerations after two easy runs a week"),
            ("carb loading", "eat eight grams of carbohydrate per kilo of body weight for two days before"),
            ("a cadence drill", "aim for about one hundred seventy steps a minute with a metronome"),
            ("the long run", "build one run a week to thirty percent of your weekly mileage"),
        ),
        metrics=(("marathon time", "minutes"), ("weekly mileage", "miles"), ("injuries", "a season")),
        vague=("loving the process", "listening to your body", "the running community", "mental toughness"),
    ),
    _Show(
        name="Kitchen Lab",
        host="Nadia Haddad",
        guests=("Pierre Laurent", "Mei Wong", "Jamal Carter", "Ingrid Berg"),
        topics=("bread", "searing", "knife skills", "fermentation", "meal prep"),
        techniques=(
            ("dry brining", "salt the steak a day ahead and leave it uncovered in the fridge"),
            ("the reverse sear", "cook the roast at two hundred fifty degrees, then sear it at the end"),
            ("autolyse", "mix flour and water and rest it thirty minutes before adding salt and yeast"),
            (
                "baker's percentages",
                "weigh everything and write water as a percent of flour, seventy for a start",
            ),
            ("a two-percent brine", "dissolve twenty grams of salt per litre of water for vegetables"),
            ("mise en place", "measure and chop everything before the pan goes on the heat"),
            ("blanching", "boil greens for ninety seconds, then plunge them into ice water"),
        ),
        metrics=(("prep time", "minutes"), ("food waste", "percent"), ("crust thickness", "millimetres")),
        vague=("cooking with love", "trusting your instincts", "the joy of food", "good ingredients"),
    ),
    _Show(
        name="Founder Notes",
        host="Ben Adler",
        guests=("Zara Khan", "Olu Adeyemi", "Clara Moreau", "Nate Silver"),
        topics=("fundraising", "hiring", "pricing", "churn", "sales"),
        techniques=(
            ("value-based pricing", "price at a tenth of the money your product saves the customer"),
            ("the Mom Test", "ask about the last time they had the problem, never whether they would buy"),
            ("a work-sample interview", "pay candidates for a four-hour real task instead of puzzles"),
            ("cohort analysis", "track churn by signup month, not as one blended number"),
            ("founder-led sales", "have a founder run the first fifty sales calls personally"),
            ("annual prepay discounts", "offer two months free for paying the year upfront"),
            ("a churn interview", "call every cancelled customer within forty-eight hours"),
        ),
        metrics=(("monthly churn", "percent"), ("sales cycle", "days"), ("burn", "thousand dollars a month")),
        vague=("the hustle", "believing in the vision", "team chemistry", "being customer obsessed"),
    ),
)

_SPONSORS = (
    ("Brightmug", "the coffee subscription that roasts to order", "brightmug.example", "month"),
    ("Quillnote", "the note-taking app that syncs everywhere", "quillnote.example", "year"),
    ("Hearthbox", "meal kits with recipes that take twenty minutes", "hearthbox.example", "box"),
    ("Loomly Mattress", "the mattress with a hundred-night trial", "loomly.example", "order"),
    ("Vaultwise", "the VPN that keeps your browsing private", "vaultwise.example", "year"),
)
_OPENERS = ("", "", "So ", "Yeah, and ", "Right, ", "I mean, ", "Okay, ", "Look, ")
_HOBBIES = ("sourdough starter", "half-built bookshelf", "guitar lessons", "garden", "puzzle", "chess streak")
_WEEKENDS = ("camping", "to a wedding", "to the beach", "to my in-laws", "to a concert", "hiking")
_TOPIC_WORDS = {
    show.name: tuple(word for topic in show.topics for word in topic.split()) for show in DEMO_PODCASTS
}


def demo_users(n_users: int) -> list[str]:
    """The demo's listener ids: ``listener-01``, ``listener-02``, …"""
    return [f"listener-{index:02d}" for index in range(1, n_users + 1)]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _insight(rng: random.Random, show: _Show, guest: str) -> str:
    technique, advice = rng.choice(show.techniques)
    metric, unit = rng.choice(show.metrics)
    a = rng.randint(12, 90)
    b = max(1, round(a * rng.uniform(0.25, 0.7)))
    pct, weeks = rng.randint(15, 60), rng.randint(2, 12)
    templates = (
        f"the thing that actually moved the needle was {technique}. {_cap(advice)}. We went from {a} to {b} "
        f"{metric} ({unit}) in about {weeks} weeks.",
        f"my one concrete tip: {advice}. That's {technique}, and it cut our {metric} by {pct} percent.",
        f"here's the rule we use: {advice}. If you only do one thing, do that; it took {metric} from {a} "
        f"down to {b} {unit}.",
        f"people underestimate {technique}. Step one, {advice}. Step two, measure your {metric} every week. "
        f"For us that was a {pct} percent improvement.",
        f"the research on {technique} is pretty clear: when people {advice}, {metric} improves by around "
        f"{pct} percent within {weeks} weeks.",
        f"write this down: {advice}. It sounds small, but {technique} is the single biggest lever on "
        f"{metric} I know, easily {pct} percent.",
    )
    return rng.choice(templates)


def _story(rng: random.Random, show: _Show, guest: str) -> str:
    technique, advice = rng.choice(show.techniques)
    metric, unit = rng.choice(show.metrics)
    months, people, pct = rng.randint(2, 9), rng.randint(3, 40), rng.randint(20, 70)
    templates = (
        f"I remember when {guest.split()[0]} tried {technique} at their old company. Within {months} months "
        f"their {metric} had dropped by half, and nobody wanted to go back.",
        f"we tested it with one group first, {people} people, and after {months} months {metric} was {pct} "
        f"percent better than the group that didn't {advice.split(',')[0]}.",
        f"a listener wrote in last year; she started {technique} in {_cap(rng.choice(show.topics))} season "
        f"and her {metric} went from bad to {pct} percent better in {months} months.",
    )
    return rng.choice(templates)


def _opinion(rng: random.Random, show: _Show, guest: str) -> str:
    vague, other = rng.sample(show.vague, 2)
    topic = rng.choice(show.topics)
    templates = (
        f"I think at the end of the day {topic} is all about {vague}. You know, just {other}, really.",
        f"honestly there's no magic bullet with {topic}. Everyone's different, and {vague} is what matters.",
        f"it's a journey, right? {_cap(vague)} and {other}, and you figure {topic} out as you go.",
        f"I always say {topic} is ninety percent {vague}. The rest kind of takes care of itself.",
        f"people overthink {topic}. It comes down to {vague}, and maybe {other}. That's it.",
    )
    return rng.choice(templates)


def _banter(rng: random.Random, show: _Show, guest: str) -> str:
    first = guest.split()[0]
    templates = (
        f"ha, no, that's a great story. Did you ever finish that {rng.choice(_HOBBIES)}? Anyway, where were we?",
        f"okay, I have to tell you, we went {rng.choice(_WEEKENDS)} this weekend and it rained the whole time. "
        f"The whole time, {first}.",
        f"wait, is that a cat on your desk? Sorry, everyone, we got distracted. {first} has a cat.",
        f"I'm laughing because {show.host.split()[0]} said the exact same thing off mic. We should've recorded that.",
        "sorry, my coffee's gone cold, give me a second. Okay. Okay, I'm back, what was the question?",
    )
    return rng.choice(templates)


def _intro(rng: random.Random, show: _Show, guest: str, number: int, topic: str) -> str:
    templates = (
        f"welcome back to {show.name}, I'm {show.host}, and today I'm joined by {guest} to talk about "
        f"{topic}. {guest.split()[0]}, how are you doing?",
        f"hey everyone, welcome to episode {number} of {show.name}. Before we start, please rate and review "
        f"the show, it really helps. Today: {topic}, with {guest}.",
    )
    return rng.choice(templates)


def _outro(rng: random.Random, show: _Show, guest: str) -> str:
    templates = (
        f"that's all we have time for today. Thanks so much, {guest.split()[0]}, where can people find you? "
        "Great. Subscribe, tell a friend, and see you next week.",
        f"and that's a wrap on this episode of {show.name}. If you liked it, share it with one person. "
        f"Thanks to {guest} for coming on.",
    )
    return rng.choice(templates)


def _ad(rng: random.Random) -> str:
    sponsor, pitch, url, period = rng.choice(_SPONSORS)
    # Ad reads repeat word for word: the code and discount belong to the sponsor, not to the episode.
    code = sponsor.split()[0].upper()[:6] + "20"
    return rng.choice(
        (
            f"this episode is brought to you by {sponsor}, {pitch}. Go to {url} and use code {code} for "
            f"twenty percent off your first {period}.",
            f"quick break to thank our sponsor {sponsor}. {_cap(pitch)}. Listeners get three months free at "
            f"{url} with code {code}.",
        )
    )


def _relevance(rng: random.Random, show: _Show, text: str, worth: bool) -> float:
    """The surfacing system's score: long passages naming the show's topic words, a little worth, noise."""
    words = text.lower().replace(".", " ").replace(",", " ").split()
    topical = sum(1 for word in words if word in _TOPIC_WORDS[show.name])
    logit = 0.02 * (len(words) - 30) + 0.4 * min(topical, 2) + (0.35 if worth else -0.35) + rng.gauss(0, 1.3)
    return round(1 / (1 + math.exp(-logit)), 4)


def generate_demo_signals(*, n_chunks: int = 500, n_users: int = 12, seed: int = DEMO_SEED) -> ChunkBatch:
    """The demo's actions (see the module's docstring): ``n_chunks`` chunks, each with the actions of 1-5 of
    ``n_users`` listeners (at most ``n_users``), oldest first per chunk. Deterministic for the arguments."""
    if n_chunks < 1 or n_users < 1:
        raise ValueError(f"n_chunks and n_users must be at least 1, got {n_chunks} and {n_users}")
    rng = random.Random(seed)
    users = demo_users(n_users)
    flip_rate = {user: rng.uniform(0.07, 0.23) for user in users}
    snip_share = {user: rng.uniform(0.15, 0.45) for user in users}
    actions: list[ChunkAction] = []
    chunk_count = 0
    episode_numbers = dict.fromkeys((show.name for show in DEMO_PODCASTS), 0)
    week = 0
    while chunk_count < n_chunks:
        show = DEMO_PODCASTS[week % len(DEMO_PODCASTS)]
        episode_numbers[show.name] += 1
        number = episode_numbers[show.name]
        guest = rng.choice(show.guests)
        topic = rng.choice(show.topics)
        episode = f"{show.name} #{number}: {_cap(topic)} with {guest}"
        released = _RELEASED_FROM + timedelta(days=week * 2 + rng.randint(0, 1), hours=rng.randint(0, 10))
        week += 1
        body = [rng.choices(_BODY_KINDS, _BODY_WEIGHTS)[0] for _ in range(rng.randint(7, 11))]
        body.insert(rng.randint(2, 4), "ad")
        kinds = ["intro", *body, "outro"]
        start = 0
        slug = "".join(word[0] for word in show.name.lower().split())
        for position, kind in enumerate(kinds):
            if chunk_count >= n_chunks:
                break
            if kind == "intro":
                text, speaker = _intro(rng, show, guest, number, topic), show.host
            elif kind == "outro":
                text, speaker = _outro(rng, show, guest), show.host
            elif kind == "ad":
                text, speaker = _ad(rng), show.host
            else:
                make = {"insight": _insight, "story": _story, "opinion": _opinion, "banter": _banter}[kind]
                text, speaker = make(rng, show, guest), rng.choice((show.host, guest, guest))
                text = rng.choice(_OPENERS) + text
            text = _cap(text)
            chunk_id = f"{slug}-e{number:02d}-c{position:02d}"
            worth = rng.random() < KIND_WORTH[kind]
            relevance = _relevance(rng, show, text, worth)
            context = {"podcast": show.name, "episode": episode, "speaker": speaker, "start_seconds": start}
            start += rng.randint(40, 120)
            viewers = rng.sample(users, min(len(users), rng.choices(_VIEWERS, _VIEWER_WEIGHTS)[0]))
            for user in sorted(viewers):
                positive = worth != (rng.random() < flip_rate[user])
                acted_at = released + timedelta(minutes=rng.randint(60, 60 * 24 * 10))
                if rng.random() < _CHANGED_MIND:  # an earlier, opposite action: the latest one counts
                    earlier = acted_at - timedelta(minutes=rng.randint(30, 60 * 24 * 2))
                    actions.append(
                        _make(
                            chunk_id,
                            text,
                            user,
                            not positive,
                            snip_share[user],
                            rng,
                            context,
                            relevance,
                            earlier,
                        )
                    )
                actions.append(
                    _make(chunk_id, text, user, positive, snip_share[user], rng, context, relevance, acted_at)
                )
            chunk_count += 1
    return ChunkBatch(actions=tuple(actions))


def _make(
    chunk_id: str,
    text: str,
    user: str,
    positive: bool,
    snip_share: float,
    rng: random.Random,
    context: dict[str, Any],
    relevance: float,
    acted_at: datetime,
) -> ChunkAction:
    action = ("snipped" if rng.random() < snip_share else "saved") if positive else "skipped"
    return ChunkAction(
        chunk_id=chunk_id,
        content=text,
        action=action,
        user_id=user,
        context=dict(context),
        relevance_score=relevance,
        quality_score=round(rng.uniform(0.62, 0.99), 3),
        acted_at=acted_at,
    )


#: The columns :func:`write_demo_file` writes (the defaults of
#: :func:`~fine_tuning_assets.tasks.signals.imports.read_chunk_actions`).
DEMO_COLUMNS: tuple[str, ...] = (
    "chunk_id",
    "content",
    "user_id",
    "action",
    "podcast",
    "episode",
    "speaker",
    "context",
    "relevance_score",
    "quality_score",
    "acted_at",
)
_NAMED_CONTEXT = ("podcast", "episode", "speaker")


def write_demo_file(
    path: str | os.PathLike[str],
    *,
    n_chunks: int = 500,
    n_users: int = 12,
    seed: int = DEMO_SEED,
    file_format: str = "csv",
) -> Path:
    """Write the demo's actions as an import file with the default column names (``csv`` or ``jsonl``):
    ``podcast``, ``episode`` and ``speaker`` columns, any other context in a JSON ``context`` column.
    Reading it back with :func:`~fine_tuning_assets.tasks.signals.imports.read_chunk_actions` gives the
    same actions. Returns the path."""
    if file_format not in ("csv", "jsonl"):
        raise ValueError(f"file_format must be csv or jsonl, got {file_format!r}")
    batch = generate_demo_signals(n_chunks=n_chunks, n_users=n_users, seed=seed)
    rows = []
    for action in batch.actions:
        extra = {key: value for key, value in action.context.items() if key not in _NAMED_CONTEXT}
        rows.append(
            {
                "chunk_id": action.chunk_id,
                "content": action.content,
                "user_id": action.user_id,
                "action": action.action,
                **{key: action.context.get(key) for key in _NAMED_CONTEXT},
                "context": extra,
                "relevance_score": action.relevance_score,
                "quality_score": action.quality_score,
                "acted_at": action.acted_at.isoformat() if action.acted_at else None,
            }
        )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as handle:
        if file_format == "jsonl":
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(handle, fieldnames=DEMO_COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "context": json.dumps(row["context"], ensure_ascii=False)})
    return target
