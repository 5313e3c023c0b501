"""Demo data written by the project for the triage task: app-store reviews of six fictional apps, an AI's
triage of each, and the support team's corrections of it.

* **Reviews** (``n_reviews``, default 900): written from templates and word lists of this module, in the
  words users write, for the apps of :data:`DEMO_APPS` (notes, payments, fitness, chat, rides, photos; each
  has its own nouns, "my notebooks", "my transfers"...). A review has one main complaint: a
  :data:`CATEGORIES` label (imbalanced as real reviews are: BUG ~30%, FEATURE ~19%, PERFORMANCE ~14%,
  USABILITY ~13%, OTHER ~12%, ENERGY ~7%, SECURITY ~5%) and a :data:`TOPICS` label, an :data:`URGENCIES`
  label mostly said in words ("I was charged twice", "not a big deal"), and a star rating that goes with the
  category (bugs and security scares get 1-2 stars, feature requests and praise 3-5). About a fifth are
  short ("Keeps crashing.", "Drains battery."); about one in seven is *mixed*: a second, shorter complaint
  of another category ("Also please add a dark mode."). About one in eight is a near-duplicate of an earlier
  review of the same app (the same person, or the same problem, reworded slightly): a split that does not
  group by app leaks them.
* **The original AI** triaged every review. It is right about the category ~75% of the time, and wrong in
  systematic ways: PERFORMANCE and BUG, USABILITY and FEATURE, ENERGY and PERFORMANCE, SECURITY and BUG are
  confused; short reviews are more often wrong, and a mixed review is often filed under its second
  complaint. Urgency (~70%) is off by one level when wrong; topic (~70%) is confused with a neighbour
  (crash and ui, sync and notifications, login and payments).
* **The team's corrections**: every review's category, urgency and topic as the team settled them, and the
  summary, rewritten when the AI got the category or topic wrong and sometimes otherwise; who corrected
  (:data:`DEMO_TEAM`) and when (an increasing time from :data:`CORRECTED_FROM`).

The words of a review say its category, though not always as the team decided it (a mixed review filed under
its aside, a borderline one under the neighbouring category: no classifier gets every review right). With
the default seed, a TF-IDF + logistic regression trained on 70% of the team's category labels gets 0.90 of
the other 30% right where the AI got 0.76; trained on five apps and tested on the sixth, 0.84 against 0.74.
Everything depends only on ``seed`` (``random.Random(seed)``) and takes well under a second; the first
``n`` reviews of a longer demo are the demo of ``n`` reviews.

Example:
    >>> batch = generate_demo_triage(n_reviews=200, seed=7)
    >>> len(batch.corrections), batch == generate_demo_triage(n_reviews=200, seed=7)
    (200, True)
    >>> sorted(batch.label_sets["urgency"])
    ['critical', 'high', 'low', 'medium']
    >>> 0.6 < original_accuracy(batch.corrections, "category") < 0.9
    True
"""

from __future__ import annotations

import csv
import json
import os
import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fine_tuning_assets.tasks.triage.records import ALL_FIELDS, TriageBatch, TriageCorrection

__all__ = [
    "CATEGORIES",
    "CORRECTED_FROM",
    "DEMO_APPS",
    "DEMO_COLUMNS",
    "DEMO_SEED",
    "DEMO_TEAM",
    "TOPICS",
    "URGENCIES",
    "generate_demo_triage",
    "original_accuracy",
    "write_demo_file",
]

DEMO_SEED = 7
CATEGORIES: tuple[str, ...] = ("BUG", "FEATURE", "PERFORMANCE", "USABILITY", "OTHER", "ENERGY", "SECURITY")
_CATEGORY_WEIGHTS = (0.30, 0.19, 0.14, 0.13, 0.12, 0.07, 0.05)
URGENCIES: tuple[str, ...] = ("low", "medium", "high", "critical")
TOPICS: tuple[str, ...] = ("login", "sync", "payments", "notifications", "ui", "battery", "crash")
DEMO_TEAM: tuple[str, ...] = ("maya.support", "tom.support", "ines.qa", "raj.product")
_TEAM_WEIGHTS = (0.35, 0.3, 0.2, 0.15)
CORRECTED_FROM = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
#: The columns of :func:`write_demo_file`: the defaults of ``read_triage_corrections``.
DEMO_COLUMNS: tuple[str, ...] = (
    "review_id",
    "text",
    "app",
    "rating",
    *(column for name in ALL_FIELDS for column in (f"original_{name}", name)),
    "corrected_by",
    "corrected_at",
)


@dataclass(frozen=True)
class _App:
    name: str
    things: tuple[str, ...]  # what the user keeps in the app, plural
    actions: tuple[str, ...]  # what the user does in it
    formats: tuple[str, ...]  # what they would export to


DEMO_APPS: tuple[_App, ...] = (
    _App(
        "Notely",
        ("notes", "notebooks", "checklists", "my notes"),
        ("save a note", "open a notebook", "share a checklist", "attach a picture to a note"),
        ("PDF", "Markdown"),
    ),
    _App(
        "PayFlow",
        ("transfers", "payment history", "saved cards", "my transactions"),
        ("send money", "split a bill", "top up my wallet", "request a payment"),
        ("CSV", "a bank statement"),
    ),
    _App(
        "FitTrack",
        ("workouts", "step counts", "training plans", "my runs"),
        ("start a workout", "log a run", "pair my watch", "check my weekly stats"),
        ("GPX", "Strava"),
    ),
    _App(
        "ChatNest",
        ("messages", "group chats", "voice notes", "my chats"),
        ("send a voice note", "open a group chat", "share a photo", "start a video call"),
        ("a text file", "Google Drive"),
    ),
    _App(
        "RideNow",
        ("trips", "ride receipts", "saved places", "my bookings"),
        ("book a ride", "add a stop", "rate my driver", "schedule a pickup"),
        ("PDF receipts", "my expense tool"),
    ),
    _App(
        "PhotoVault",
        ("photos", "albums", "shared albums", "my pictures"),
        ("upload an album", "edit a photo", "share an album", "back up my camera roll"),
        ("a zip file", "Google Photos"),
    ),
)
_APP_WEIGHTS = (0.22, 0.18, 0.18, 0.16, 0.14, 0.12)

_DEVICES = ("my Pixel 7", "an iPhone 13", "my Galaxy S22", "my iPad", "a OnePlus 11", "an iPhone 15")
_SINCE = ("since the last update", "for a week now", "since yesterday", "after updating to 5.2", "lately")

# Per category: topic weights. Topics a category never takes are absent.
_TOPIC_WEIGHTS: dict[str, dict[str, float]] = {
    "BUG": {"crash": 0.32, "login": 0.2, "sync": 0.2, "payments": 0.14, "notifications": 0.14},
    "FEATURE": {"ui": 0.35, "sync": 0.2, "notifications": 0.17, "payments": 0.14, "login": 0.14},
    "PERFORMANCE": {"ui": 0.5, "sync": 0.35, "login": 0.15},
    "USABILITY": {"ui": 0.6, "payments": 0.15, "notifications": 0.15, "login": 0.1},
    "OTHER": {"ui": 0.65, "payments": 0.35},
    "ENERGY": {"battery": 0.9, "notifications": 0.1},
    "SECURITY": {"login": 0.6, "payments": 0.3, "sync": 0.1},
}

# The main complaint, per (category, topic). Slots: {app} {thing} {things} {action} {device} {since} {fmt}.
_CORE: dict[tuple[str, str], tuple[str, ...]] = {
    ("BUG", "crash"): (
        "The app crashes every time I open {things}.",
        "It keeps crashing when I try to {action}.",
        "Crashes right after the splash screen {since}.",
        "The app closes itself as soon as I tap on {things}.",
        "Force closes whenever I {action}, every single time.",
        "It crashes on {device} when I {action}.",
    ),
    ("BUG", "login"): (
        "I can't log in, it says wrong password even though it's correct.",
        "Login fails with an error {since}.",
        "The sign in button does nothing when I tap it.",
        "It keeps logging me out and then won't let me back in.",
        "The verification code never arrives so I can't sign in.",
    ),
    ("BUG", "sync"): (
        "My {things} don't sync between my phone and my tablet.",
        "Sync fails with an error and some {things} are missing.",
        "Changes I make on {device} never show up on the web version.",
        "Half of my {things} disappeared after a sync.",
        "Sync is broken {since}, it shows an error and stops.",
    ),
    ("BUG", "payments"): (
        "The payment fails with an error at checkout.",
        "I was charged but my subscription is still not active.",
        "The pay button gives an error every time I {action}.",
        "My card gets declined in the app but works everywhere else.",
    ),
    ("BUG", "notifications"): (
        "Notifications stopped working {since}.",
        "I get no alerts at all even though notifications are turned on.",
        "Notifications arrive twice or hours late.",
        "Reminders for my {things} don't fire anymore.",
    ),
    ("PERFORMANCE", "ui"): (
        "The app is so slow, every screen takes seconds to load.",
        "Scrolling through my {things} is laggy and stutters.",
        "It got super sluggish {since}, the menus lag behind my taps.",
        "A loading spinner forever before anything shows up.",
        "It freezes for a few seconds whenever I open {things}.",
        "Everything is slow on {device}, it takes ages to {action}.",
    ),
    ("PERFORMANCE", "sync"): (
        "Syncing takes forever.",
        "Sync is painfully slow, minutes for a handful of {things}.",
        "It takes ages to load my {things} after a sync.",
        "Uploading is really slow, it takes forever to {action}.",
    ),
    ("PERFORMANCE", "login"): (
        "Logging in takes over a minute.",
        "Startup is very slow, the login screen hangs for ages.",
        "Signing in is slow and the app takes forever to open.",
    ),
    ("ENERGY", "battery"): (
        "This app drains my battery like crazy.",
        "Battery usage is through the roof, it keeps running in the background.",
        "My phone gets hot and the battery drops 20% in an hour with {app} open.",
        "Since the update it eats my battery even when I'm not using it.",
        "It uses more battery than all my games together on {device}.",
        "Battery drain is terrible {since}, I have to charge twice a day.",
    ),
    ("ENERGY", "notifications"): (
        "The constant background refresh for notifications kills my battery.",
        "Push notifications keep the phone awake and drain the battery overnight.",
    ),
    ("USABILITY", "ui"): (
        "The new layout is confusing, I can't find my {things} anymore.",
        "Too many menus, it's hard to figure out how to {action}.",
        "The buttons are tiny and hard to tap.",
        "The text is too small and there is no way to make it bigger.",
        "The redesign hides everything behind menus, so confusing.",
        "It's not intuitive at all, it took me ages to learn how to {action}.",
    ),
    ("USABILITY", "payments"): (
        "It's really hard to find where to update my card.",
        "Checkout has too many steps and is confusing.",
    ),
    ("USABILITY", "notifications"): (
        "I can't figure out how to turn off notifications for {things}.",
        "The notification settings are buried and confusing.",
    ),
    ("USABILITY", "login"): (
        "The sign in flow is confusing, way too many screens.",
        "It's hard to figure out how to switch accounts.",
    ),
    ("FEATURE", "ui"): (
        "Please add a dark mode.",
        "Would love a home screen widget for my {things}.",
        "I wish I could change the font size.",
        "Please add landscape mode on tablets.",
        "It would be great to sort {things} by date.",
        "Could you add a way to pin my favourite {things}?",
    ),
    ("FEATURE", "sync"): (
        "Please add an offline mode so I can use it without internet.",
        "Would love to export my {things} to {fmt}.",
        "Please add a way to back up {things} to {fmt}.",
        "I wish it could sync with my laptop too.",
    ),
    ("FEATURE", "notifications"): (
        "Please let me schedule reminders.",
        "I wish I could choose which notifications I get.",
        "Would be great to get a weekly summary notification.",
    ),
    ("FEATURE", "payments"): (
        "Please add Apple Pay.",
        "Would be nice to pay with PayPal.",
        "Please add a family plan.",
    ),
    ("FEATURE", "login"): (
        "Please add Face ID login.",
        "Would love sign in with Google.",
        "Please add a way to stay signed in on {device}.",
    ),
    ("SECURITY", "login"): (
        "Someone logged into my account from another country.",
        "I got a password reset email I never asked for, is my account hacked?",
        "There is no two-factor authentication, that is not safe.",
        "The app shows my password in plain text on the login screen.",
    ),
    ("SECURITY", "payments"): (
        "I see charges I didn't make after adding my card.",
        "My card details were visible to another user.",
        "Suspicious transactions appeared in my account.",
    ),
    ("SECURITY", "sync"): (
        "My private {things} showed up on someone else's device.",
        "I worry my data is not encrypted when it syncs.",
    ),
    ("OTHER", "ui"): (
        "Love this app, I use it every day.",
        "Great app, thanks to the whole team!",
        "Way too many ads everywhere.",
        "It's an ok app, nothing special.",
        "Customer support never answered my email.",
        "Best app for {things} I have tried.",
    ),
    ("OTHER", "payments"): (
        "Too expensive for what it does.",
        "The subscription price went up again.",
        "Why do I need to pay for basic features now?",
        "Not worth the monthly price.",
    ),
}

# Short reviews: the complaint in a few words.
_SHORT: dict[tuple[str, str], tuple[str, ...]] = {
    ("BUG", "crash"): ("Keeps crashing.", "Crashes on startup!", "Crash crash crash."),
    ("BUG", "login"): ("Can't log in.", "Login broken."),
    ("BUG", "sync"): ("Sync broken.", "Lost my {things}."),
    ("BUG", "payments"): ("Payment error.", "Can't pay."),
    ("BUG", "notifications"): ("No notifications.", "Alerts broken."),
    ("PERFORMANCE", "ui"): ("So slow.", "Laggy.", "Slow and laggy."),
    ("PERFORMANCE", "sync"): ("Takes forever to sync.", "Slow sync."),
    ("PERFORMANCE", "login"): ("Slow to open.",),
    ("ENERGY", "battery"): ("Battery killer.", "Drains battery.", "Eats my battery."),
    ("ENERGY", "notifications"): ("Background drain.",),
    ("USABILITY", "ui"): ("Confusing.", "Hard to use.", "Confusing menus."),
    ("USABILITY", "payments"): ("Confusing checkout.",),
    ("USABILITY", "notifications"): ("Can't find settings.",),
    ("USABILITY", "login"): ("Confusing sign in.",),
    ("FEATURE", "ui"): ("Need dark mode.", "Add widgets pls.", "Dark mode please."),
    ("FEATURE", "sync"): ("Add offline mode.", "Need export."),
    ("FEATURE", "notifications"): ("Add reminders.",),
    ("FEATURE", "payments"): ("Add Apple Pay.",),
    ("FEATURE", "login"): ("Add Face ID.",),
    ("SECURITY", "login"): ("Account hacked!", "Not secure."),
    ("SECURITY", "payments"): ("Unknown charges!",),
    ("SECURITY", "sync"): ("Privacy issue.",),
    ("OTHER", "ui"): ("Love it!", "Too many ads.", "Meh.", "Great app."),
    ("OTHER", "payments"): ("Too expensive.", "Overpriced."),
}

# The second, shorter complaint of a mixed review, per category.
_ASIDE: dict[str, tuple[str, ...]] = {
    "BUG": ("Also it crashed twice today.", "Also the login failed once.", "Plus sync failed yesterday."),
    "FEATURE": ("Also please add a dark mode.", "Would love a widget too.", "And please add an export."),
    "PERFORMANCE": ("It's also quite slow.", "Also a bit laggy.", "Also loading takes a while."),
    "USABILITY": ("The menus are a bit confusing too.", "Also the buttons are small."),
    "OTHER": ("Otherwise I love it.", "Also too many ads.", "And it's pricey."),
    "ENERGY": ("It also drains my battery.", "Battery use is high too."),
    "SECURITY": ("Also, is my data even encrypted?", "And there is no two-factor login."),
}
# Which category a mixed review's aside tends to come from (the AI's confusions).
_PARTNER: dict[str, tuple[tuple[str, float], ...]] = {
    "BUG": (("PERFORMANCE", 0.5), ("FEATURE", 0.25), ("USABILITY", 0.25)),
    "FEATURE": (("USABILITY", 0.55), ("OTHER", 0.25), ("BUG", 0.2)),
    "PERFORMANCE": (("BUG", 0.55), ("ENERGY", 0.3), ("USABILITY", 0.15)),
    "USABILITY": (("FEATURE", 0.6), ("PERFORMANCE", 0.2), ("OTHER", 0.2)),
    "OTHER": (("FEATURE", 0.5), ("USABILITY", 0.3), ("BUG", 0.2)),
    "ENERGY": (("PERFORMANCE", 0.7), ("BUG", 0.3)),
    "SECURITY": (("BUG", 0.6), ("FEATURE", 0.4)),
}
# The AI's category confusions: the wrong label it gives, by the right one.
_CONFUSION: dict[str, tuple[tuple[str, float], ...]] = {
    "BUG": (("PERFORMANCE", 0.6), ("USABILITY", 0.25), ("SECURITY", 0.15)),
    "FEATURE": (("USABILITY", 0.7), ("OTHER", 0.3)),
    "PERFORMANCE": (("BUG", 0.7), ("ENERGY", 0.3)),
    "USABILITY": (("FEATURE", 0.6), ("BUG", 0.4)),
    "OTHER": (("FEATURE", 0.5), ("USABILITY", 0.5)),
    "ENERGY": (("PERFORMANCE", 0.8), ("BUG", 0.2)),
    "SECURITY": (("BUG", 0.7), ("OTHER", 0.3)),
}
_TOPIC_CONFUSION: dict[str, tuple[str, ...]] = {
    "crash": ("ui", "ui", "sync"),
    "ui": ("crash", "notifications", "login"),
    "sync": ("notifications", "notifications", "ui"),
    "notifications": ("sync", "ui", "battery"),
    "login": ("payments", "payments", "ui"),
    "payments": ("login", "login", "sync"),
    "battery": ("ui", "notifications", "crash"),
}

_URGENCY_WEIGHTS: dict[str, tuple[float, float, float, float]] = {
    "BUG": (0.05, 0.35, 0.45, 0.15),
    "FEATURE": (0.65, 0.35, 0.0, 0.0),
    "PERFORMANCE": (0.1, 0.55, 0.35, 0.0),
    "USABILITY": (0.4, 0.5, 0.1, 0.0),
    "OTHER": (0.85, 0.15, 0.0, 0.0),
    "ENERGY": (0.1, 0.5, 0.4, 0.0),
    "SECURITY": (0.0, 0.1, 0.4, 0.5),
}
_URGENCY_CUES: dict[str, tuple[str, ...]] = {
    "low": ("Not a big deal.", "No rush.", "Minor thing."),
    "medium": ("It happens now and then.", "Annoying but I can live with it.", "Happens a few times a week."),
    "high": (
        "Please fix asap.",
        "It happens every single time.",
        "I rely on this every day, really frustrating.",
        "This blocks me daily.",
    ),
    "critical": (
        "This is urgent, I lost all my data!",
        "URGENT: I can't use the app at all.",
        "Completely unusable, I need this fixed right now.",
        "This is serious, my money is at risk!",
    ),
}
_RATINGS: dict[str, tuple[float, float, float, float, float]] = {
    "BUG": (0.55, 0.3, 0.1, 0.05, 0.0),
    "FEATURE": (0.0, 0.05, 0.3, 0.4, 0.25),
    "PERFORMANCE": (0.2, 0.45, 0.3, 0.05, 0.0),
    "USABILITY": (0.05, 0.35, 0.4, 0.2, 0.0),
    "OTHER": (0.15, 0.05, 0.1, 0.25, 0.45),
    "ENERGY": (0.25, 0.5, 0.25, 0.0, 0.0),
    "SECURITY": (0.8, 0.2, 0.0, 0.0, 0.0),
}
_OPENERS = (
    "",
    "",
    "",
    "",
    "Hi,",
    "Hello team,",
    "Honestly,",
    "Ugh.",
    "I've used {app} for years.",
    "Used to like {app} but",
    "Review from {device}:",
)
_DETAILS = (
    "",
    "",
    "",
    "I'm on {device}.",
    "Using {device}.",
    "Been like this {since}.",
    "Version 5.2.1 here.",
)
_CLOSERS = ("", "", "", "Thanks.", "Thanks for reading.")
_COMPLAINT_CLOSERS = ("Please fix.", "Otherwise a great app.", "Please fix it.")
#: Low urgency said of a request, and of anything else.
_LOW_REQUEST_CUES = ("Just a small suggestion.", "Would be nice someday.", "No rush.")

_CATEGORY_SUMMARY = {
    "BUG": "Bug report",
    "FEATURE": "Feature request",
    "PERFORMANCE": "Slowness",
    "USABILITY": "Hard to use",
    "OTHER": "General feedback",
    "ENERGY": "Battery drain",
    "SECURITY": "Security concern",
}
_TOPIC_SUMMARY = {
    "login": "signing in",
    "sync": "syncing",
    "payments": "payments",
    "notifications": "notifications",
    "ui": "the app's screens",
    "battery": "battery use",
    "crash": "crashes",
}

# How often the AI is wrong about the category: a base rate, more on short reviews; a mixed review is
# filed under its aside this often.
_AI_CATEGORY_ERROR = 0.13
_AI_SHORT_EXTRA = 0.15
_AI_MIXED_TO_ASIDE = 0.55
_AI_URGENCY_ERROR = 0.3
_AI_TOPIC_ERROR = 0.3
_SHORT_SHARE = 0.2
_MIXED_SHARE = 0.14
_NEAR_DUPLICATE_SHARE = 0.12
_SUMMARY_EDIT_SHARE = 0.15
# How often the team's label is not what the words were written for: a mixed review filed under its aside,
# a borderline review under the neighbouring category (more often a short one), a topic under a neighbour.
_TEAM_TAKES_ASIDE = 0.3
_TEAM_DEVIATION = 0.05
_TEAM_SHORT_DEVIATION = 0.08
_TEAM_TOPIC_DEVIATION = 0.05


@dataclass
class _Review:
    app: _App
    text: str
    category: str
    urgency: str
    topic: str
    rating: float
    short: bool
    aside: str | None  # the category of a mixed review's second complaint
    device: str | None
    written_as: tuple[str, str]  # the (category, topic) the words were written for: what the AI reads
    source: int | None = None  # the index of the review a near-duplicate rewords


def _pick(rng: random.Random, weighted: dict[str, float] | Sequence[tuple[str, float]]) -> str:
    pairs = list(weighted.items()) if isinstance(weighted, dict) else list(weighted)
    return rng.choices([name for name, _ in pairs], weights=[weight for _, weight in pairs])[0]


def _fill(rng: random.Random, template: str, app: _App, device: str) -> str:
    thing = rng.choice(app.things)
    return template.format(
        app=app.name,
        things=thing,
        action=rng.choice(app.actions),
        device=device,
        since=rng.choice(_SINCE),
        fmt=rng.choice(app.formats),
    )


def _join(parts: Sequence[str]) -> str:
    """The parts as one text: a sentence starts upper case, a part continuing a sentence ("... but")
    lower case."""
    text = ""
    for part in parts:
        if not part:
            continue
        if not text or text[-1] in ".!?:":
            text = f"{text} {part[0].upper()}{part[1:]}".lstrip()
        else:
            text = f"{text} {part[0].lower()}{part[1:]}"
    return text


def _new_review(rng: random.Random) -> _Review:
    app = DEMO_APPS[rng.choices(range(len(DEMO_APPS)), weights=_APP_WEIGHTS)[0]]
    category = rng.choices(CATEGORIES, weights=_CATEGORY_WEIGHTS)[0]
    topic = _pick(rng, _TOPIC_WEIGHTS[category])
    urgency = rng.choices(URGENCIES, weights=_URGENCY_WEIGHTS[category])[0]
    device = rng.choice(_DEVICES)
    stars = rng.choices(range(1, 6), weights=_RATINGS[category])[0]
    if urgency == "critical":
        stars = 1
    short = rng.random() < _SHORT_SHARE
    aside = None
    if short:
        text = _fill(rng, rng.choice(_SHORT[(category, topic)]), app, device)
        if urgency in ("high", "critical") and rng.random() < 0.5:
            text += " " + rng.choice(("Fix it!", "Urgent!!", "Useless until fixed."))
        mentioned = None
    else:
        core = _fill(rng, rng.choice(_CORE[(category, topic)]), app, device)
        second = _fill(rng, rng.choice(_CORE[(category, topic)]), app, device) if rng.random() < 0.35 else ""
        if second == core:
            second = ""
        if rng.random() < _MIXED_SHARE:
            aside = _pick(rng, _PARTNER[category])
        cues = _LOW_REQUEST_CUES if urgency == "low" and category == "FEATURE" else _URGENCY_CUES[urgency]
        cue = rng.choice(cues) if rng.random() < 0.85 else ""
        closers = _CLOSERS if category in ("FEATURE", "OTHER") else _CLOSERS + _COMPLAINT_CLOSERS
        parts = [
            _fill(rng, rng.choice(_OPENERS), app, device),
            core,
            second,
            rng.choice(_ASIDE[aside]) if aside else "",
            cue,
            _fill(rng, rng.choice(_DETAILS), app, device),
            rng.choice(closers),
        ]
        text = _join(parts)
        mentioned = device if device in text else None
    # The team's label: what the words say, but not always on a borderline review.
    label, label_topic = category, topic
    if aside is not None and rng.random() < _TEAM_TAKES_ASIDE:
        label = aside
    elif rng.random() < _TEAM_DEVIATION + (_TEAM_SHORT_DEVIATION if short else 0.0):
        label = _pick(rng, _CONFUSION[category])
    if rng.random() < _TEAM_TOPIC_DEVIATION:
        label_topic = rng.choice(_TOPIC_CONFUSION[topic])
    return _Review(
        app, text, label, urgency, label_topic, float(stars), short, aside, mentioned, (category, topic)
    )


def _near_duplicate(rng: random.Random, review: _Review, index: int) -> _Review:
    """The same complaint about the same app, reworded slightly (never the identical text)."""
    text = review.text
    for _ in range(5):
        how = rng.randrange(5)
        if how == 0:
            changed = text.lower()
        elif how == 1:
            changed = text.rstrip(".!") + "!!"
        elif how == 2:
            changed = "Update: still happening. " + text
        elif how == 3:
            changed = text + " " + rng.choice(("Same here.", "Any news?", "Still broken.", "+1"))
        else:
            changed = text.replace(".", "").replace(",", "")
        if changed != text:
            break
    else:  # pragma: no cover - one of the rewordings always changes a non-empty text
        changed = text + " +1"
    return replace(review, text=changed, source=index)


def _summary(category: str, topic: str, app: _App, device: str | None = None) -> str:
    text = f"{_CATEGORY_SUMMARY[category]} about {_TOPIC_SUMMARY[topic]} in {app.name}"
    return f"{text} on {device.split(' ', 1)[1]}" if device else text


def _ai_triage(rng: random.Random, review: _Review) -> tuple[str, str, str]:
    category, topic = review.written_as
    if review.aside is not None and rng.random() < _AI_MIXED_TO_ASIDE:
        category = review.aside
    elif rng.random() < _AI_CATEGORY_ERROR + (_AI_SHORT_EXTRA if review.short else 0.0):
        category = _pick(rng, _CONFUSION[review.written_as[0]])
    urgency = review.urgency
    if rng.random() < _AI_URGENCY_ERROR:
        index = URGENCIES.index(review.urgency)
        steps = [step for step in (-1, 1) if 0 <= index + step < len(URGENCIES)]
        urgency = URGENCIES[index + rng.choice(steps)]
    if rng.random() < _AI_TOPIC_ERROR:
        topic = rng.choice(_TOPIC_CONFUSION[topic])
    return category, urgency, topic


def generate_demo_triage(*, n_reviews: int = 900, seed: int = DEMO_SEED) -> TriageBatch:
    """``n_reviews`` reviews of the demo apps, the AI's triage and the team's corrections, from ``seed``.

    Review ids are ``rv-00001``... in the order the team corrected them (``corrected_at`` increases, a few
    minutes apart in working hours).
    """
    if n_reviews < 1:
        raise ValueError(f"n_reviews must be at least 1, got {n_reviews}")
    rng = random.Random(seed)
    reviews: list[_Review] = []
    texts: set[str] = set()
    triaged: list[tuple[str, str, str]] = []
    corrections: list[TriageCorrection] = []
    moment = CORRECTED_FROM
    # One review at a time, each drawn whole before the next: the first n of a longer demo are the demo of n.
    while len(reviews) < n_reviews:
        originals = [n for n in range(max(0, len(reviews) - 200), len(reviews)) if not reviews[n].short]
        if originals and rng.random() < _NEAR_DUPLICATE_SHARE:
            index = rng.choice(originals)
            source = reviews[index].source
            review = _near_duplicate(rng, reviews[index], index if source is None else source)
        else:
            review = _new_review(rng)
        if review.text in texts and not review.short:
            continue  # a long text is written once; short ones ("So slow.") repeat, as they do
        texts.add(review.text)
        reviews.append(review)

        ai = _ai_triage(rng, review)
        if review.source is not None and rng.random() < 0.8:
            ai = triaged[review.source]  # the AI triages a near-identical text the same way
        triaged.append(ai)
        ai_category, ai_urgency, ai_topic = ai
        ai_summary = _summary(ai_category, ai_topic, review.app)
        human_summary = ai_summary
        if ai_category != review.category or ai_topic != review.topic or rng.random() < _SUMMARY_EDIT_SHARE:
            human_summary = _summary(review.category, review.topic, review.app, review.device)
            if human_summary == ai_summary:
                human_summary += f" ({review.urgency} urgency)"
        moment += timedelta(minutes=rng.randint(2, 25))
        if moment.hour >= 18:
            moment = (moment + timedelta(days=1)).replace(hour=8, minute=rng.randrange(30))
        corrections.append(
            TriageCorrection(
                review_id=f"rv-{len(reviews):05d}",
                text=review.text,
                app=review.app.name,
                rating=review.rating,
                original={
                    "category": ai_category,
                    "urgency": ai_urgency,
                    "topic": ai_topic,
                    "summary": ai_summary,
                },
                corrected={
                    "category": review.category,
                    "urgency": review.urgency,
                    "topic": review.topic,
                    "summary": human_summary,
                },
                corrected_by=rng.choices(DEMO_TEAM, weights=_TEAM_WEIGHTS)[0],
                corrected_at=moment,
            )
        )
    return TriageBatch.of(corrections)


def original_accuracy(corrections: Sequence[TriageCorrection], field: str) -> float:
    """The share of corrections with both values whose ``field`` the person left as the AI had it (the
    original AI's accuracy against the team's labels); 0.0 when none has both."""
    judged = [c.confirmed(field) for c in corrections if c.confirmed(field) is not None]
    return sum(judged) / len(judged) if judged else 0.0


def write_demo_file(
    path: str | os.PathLike[str],
    *,
    n_reviews: int = 900,
    seed: int = DEMO_SEED,
    format: str = "csv",  # noqa: A002 - the CLI's word for it
) -> Path:
    """Write the demo's corrections to ``path`` as CSV or JSON Lines (``format``) with the columns
    :data:`DEMO_COLUMNS`, atomically (a temporary name moved into place). Reading it back with
    ``read_triage_corrections(path)`` gives the corrections :func:`generate_demo_triage` returns."""
    if format not in ("csv", "jsonl"):
        raise ValueError(f"format must be 'csv' or 'jsonl', got {format!r}")
    batch = generate_demo_triage(n_reviews=n_reviews, seed=seed)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for c in batch.corrections:
        row: dict[str, object] = {
            "review_id": c.review_id,
            "text": c.text,
            "app": c.app,
            "rating": c.rating,
        }
        for name in ALL_FIELDS:
            row[f"original_{name}"], row[name] = c.original[name], c.corrected[name]
        row["corrected_by"] = c.corrected_by
        row["corrected_at"] = c.corrected_at.isoformat() if c.corrected_at else None
        rows.append(row)
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline="", dir=target.parent, prefix=f".{target.name}.", delete=False
    )
    try:
        with handle:
            if format == "csv":
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(DEMO_COLUMNS)
                for row in rows:
                    writer.writerow(["" if row[k] is None else _cell(row[k]) for k in DEMO_COLUMNS])
            else:
                for row in rows:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return target


def _cell(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
