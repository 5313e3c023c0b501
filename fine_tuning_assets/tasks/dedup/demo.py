"""Realistic demo data: reviewer decisions on proposed merges of near-duplicate medical insights.

The insights are short health claims ("Vitamin D supplementation at 2,000 IU daily reduces fracture risk in
adults over 65.") composed from a hand-written catalogue of claim families (:data:`CLAIM_FAMILIES`). A
family has several sentence templates and, per slot, the values a claim can take (dose, population,
outcome, direction of effect, duration, ...) and several wordings of each value ("T2D" / "type 2
diabetes", "reduces" / "lowers" / "cuts", "adults over 65" / "older adults (65+)").

* A *paraphrase* keeps every slot value and changes the template and the wordings, so word overlap
  between paraphrases is often modest.
* A *near-miss* changes the value of exactly one slot ("2,000 IU" vs "400 IU", "in children" vs "in
  adults over 65", "reduces" vs "does not reduce"). About half are minimal edits of an existing
  statement, which fool an embedding proposer most.

The decided clusters come in four kinds (see :data:`DEMO_CLUSTER_KINDS`):

1. ``paraphrase_approved``: true paraphrases, approved, every member selected;
2. ``approved_with_deselected``: approved paraphrases plus one near-miss the reviewer deselected;
3. ``near_miss_rejected``: 2-3 statements on one topic differing in a critical detail, rejected;
4. ``unrelated_rejected``: statements of different families that merely share a keyword ("sleep",
   "blood pressure", ...), proposed by a crude similarity system and rejected.

Like a real feedback store, each round holds a few deliberate *conflicting decisions*
(kind ``conflicting_decision``): two insights that were approved together (both selected) are later put
in a rejected cluster by another reviewer, or two that were rejected together are later approved with
both selected. The later decision always has the later ``decided_at``. About ten ``pending`` clusters
(no reviewer, no ``decided_at``, nothing selected) and a few insights that are in no cluster complete
the round.

**Rounds.** A batch is the union of ``rounds`` independent *review rounds* (default
:data:`DEFAULT_ROUNDS` = 4). A round is what the single-round demo always was: every claim family's
clusters, the unrelated proposals, the conflicts, the pending clusters and the unclustered insights,
drawn from its own seed (:func:`round_seed`: ``seed`` for the first round, ``seed * 1000 + round``
after it) and decided in its own equal share of the six-month window (one round covers the whole
window; as the shorter window changes which decisions are old enough to be contradicted, the first
of several rounds shares most, not all, of its statements with the one-round batch). Topics recur across rounds as they do in a real team's review queue over months: the same
families, claims and near-misses come back in new wordings, which gives a pair model ~4x the
decisions on the same topics (~2,000 insights, ~780 decided and 40 pending clusters by default; a
cross-encoder learns little from one round's ~330 training pairs). ``rounds=1`` gives exactly the
single-round batch of a seed (same ids, texts, dates).

Statements are unique across the whole batch after normalisation (lower case, whitespace collapsed):
a round never re-draws a statement an earlier round used, it tries another template or wording (the
generator already does this within a round), so no text sits under two insight ids (which a
group-aware split could put on both sides: leakage). Rounds share no insights, so clusters of
different rounds are never linked.

Clusters stay small and separate: an insight is in at most three clusters and every connected component
(insights linked when they share a cluster) has at most twelve insights, so a group-aware
train/validation/test split can put whole components in one split. Output depends only on ``seed`` and
``rounds``. Ids are numbered over the whole batch, insights round by round and clusters with the decided
ones in ``decided_at`` order, then the pending ones: ``ins-00001``/``clu-00001`` (four digits,
``ins-0001``, for a single round).

Example:
    >>> batch = generate_demo_decisions(seed=7)
    >>> len(batch.insights) >= 1600, sum(cluster.is_decided for cluster in batch.clusters) >= 600
    (True, True)
    >>> batch.insights[0].id, batch.clusters[0].id
    ('ins-00001', 'clu-00001')
    >>> sorted(batch.insights[0].metadata)
    ['confidence', 'evidence_type', 'source']
    >>> batch == generate_demo_decisions(seed=7)
    True
    >>> single = generate_demo_decisions(seed=7, rounds=1)
    >>> len(single.insights) >= 400, single.insights[0].id
    (True, 'ins-0001')
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fine_tuning_assets.tasks.dedup.records import ClusterMember, DecisionBatch, Insight, MergeCluster

DemoClusterKind = Literal[
    "paraphrase_approved",
    "approved_with_deselected",
    "near_miss_rejected",
    "unrelated_rejected",
    "conflicting_decision",
    "pending",
]
DEMO_CLUSTER_KINDS: tuple[str, ...] = (
    "paraphrase_approved",
    "approved_with_deselected",
    "near_miss_rejected",
    "unrelated_rejected",
    "conflicting_decision",
    "pending",
)

EVIDENCE_TYPES: tuple[str, ...] = (
    "rct",
    "meta_analysis",
    "cohort",
    "case_control",
    "expert_opinion",
    "guideline",
)
REVIEWERS: tuple[str, ...] = ("ana", "bruno", "chioma", "dmitri", "eun-ji")
#: Decisions fall in [DECISION_WINDOW_START, DECISION_WINDOW_END): the six months before 2026-11-01.
DECISION_WINDOW_START = datetime(2026, 5, 1, tzinfo=UTC)
DECISION_WINDOW_END = datetime(2026, 11, 1, tzinfo=UTC)

MAX_CLUSTERS_PER_INSIGHT = 3
MAX_COMPONENT_SIZE = 12
#: Pending clusters per round.
PENDING_CLUSTER_COUNT = 10
#: Review rounds in the default demo: enough recurring decisions for a cross-encoder to learn from.
DEFAULT_ROUNDS = 4

_REVIEWER_WEIGHTS = (0.32, 0.25, 0.2, 0.14, 0.09)
_EVIDENCE_TYPE_WEIGHTS = (0.26, 0.2, 0.24, 0.08, 0.07, 0.15)
_SIMILARITY_MIN, _SIMILARITY_MAX = 0.55, 0.99
#: Words a crude lexical proposer latches on to when it proposes unrelated statements together.
_SHARED_KEYWORDS: tuple[str, ...] = (
    "sleep",
    "blood pressure",
    "children",
    "depression",
    "cancer",
    "older adults",
    "diabetes",
    "vaccine",
    "weight",
    "pregnan",
    "mortality",
    "heart",
    "infants",
    "exercise",
    "vitamin",
    "adults over 65",
    "colorectal",
    "risk of falls",
    "hospitali",
    "dementia",
    "daily",
    "a week",
)


@dataclass(frozen=True)
class ClaimFamily:
    """One topic's claims: sentence templates plus the values and wordings of each slot.

    ``slots`` maps a template placeholder to the slot's values; each value lists its wordings separated
    by ``|``. Placeholders ``dir``, ``dir_p`` and ``dir_pl`` are forms of one slot (``dir``): they share
    the chosen value, so an active and a passive template express the same claim. Value 0 of every slot
    is the family's canonical claim. Slots with more than one value appear in every template, so every
    statement states the full claim.
    """

    name: str
    topic: str
    templates: tuple[str, ...]
    slots: Mapping[str, tuple[str, ...]]
    slot_sizes: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.templates) < 4:
            raise ValueError(f"{self.name}: a family needs at least 4 templates for paraphrase groups")
        sizes: dict[str, int] = {}
        for placeholder, values in self.slots.items():
            if not isinstance(values, tuple) or not values or not all(isinstance(v, str) for v in values):
                raise ValueError(f"{self.name}.{placeholder}: values must be a non-empty tuple of str")
            slot = _slot_of(placeholder)
            if sizes.setdefault(slot, len(values)) != len(values):
                raise ValueError(f"{self.name}: forms of slot {slot!r} have different numbers of values")
        object.__setattr__(self, "slot_sizes", sizes)
        for template in self.templates:
            used = _placeholders(template)
            unknown = used - set(self.slots)
            if unknown:
                raise ValueError(f"{self.name}: template {template!r} uses unknown slots {sorted(unknown)}")
            missing = {s for s, n in sizes.items() if n > 1} - {_slot_of(p) for p in used}
            if missing:
                raise ValueError(f"{self.name}: template {template!r} does not state slots {sorted(missing)}")

    @property
    def varying_slots(self) -> tuple[str, ...]:
        """Slots a near-miss can change (those with more than one value)."""
        return tuple(sorted(s for s, n in self.slot_sizes.items() if n > 1))

    def canonical_meaning(self) -> Meaning:
        return tuple((slot, 0) for slot in sorted(self.slot_sizes))

    def vocabulary(self) -> str:
        """All template text and wordings, lower-cased (to pre-filter keyword searches)."""
        wordings = [wording for values in self.slots.values() for wording in values]
        return " ".join([*self.templates, *wordings]).lower()


#: A claim: the chosen value index of every slot, as sorted (slot, index) pairs.
Meaning = tuple[tuple[str, int], ...]


def _slot_of(placeholder: str) -> str:
    return placeholder.split("_", 1)[0]


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _family(name: str, topic: str, templates: Sequence[str], **slots: tuple[str, ...]) -> ClaimFamily:
    return ClaimFamily(name=name, topic=topic, templates=tuple(templates), slots=slots)


_REDUCES = "reduces|lowers|cuts"
_REDUCE = "reduce|lower|cut"
_IS_REDUCED = "is reduced|is lowered"

#: The hand-written catalogue. Value 0 of each slot gives the canonical claim of the family.
CLAIM_FAMILIES: tuple[ClaimFamily, ...] = (
    _family(
        "vitamin_d_fractures",
        "supplements",
        (
            "Vitamin D supplementation at {dose} daily {dir} {outcome} in {pop}.",
            "In {pop}, taking {dose} of vitamin D each day {dir} {outcome}.",
            "{outcome} {dir_p} in {pop} given {dose} of vitamin D per day.",
            "Daily vitamin D ({dose}) {dir} {outcome} among {pop}.",
            "Supplementing {pop} with {dose} of vitamin D per day {dir} {outcome}.",
        ),
        dose=("2,000 IU|2000 IU", "400 IU", "800 IU"),
        dir=(_REDUCES, "does not reduce|has no effect on"),
        dir_p=("is reduced|is lower", "is not reduced|is not lowered"),
        outcome=(
            "fracture risk|the risk of fractures|the risk of bone fractures",
            "the risk of falls|fall risk",
        ),
        pop=(
            "adults over 65|older adults (65+)|people aged 65 and older",
            "postmenopausal women",
            "children",
        ),
    ),
    _family(
        "statins_cardiovascular",
        "drugs",
        (
            "{drug} {dir} {outcome} in {pop}.",
            "In {pop}, {drug} {dir} {outcome}.",
            "Statins {dir_pl} {outcome} for {pop}.",
            "Among {pop}, {outcome} {dir_p} by statin treatment.",
            "For {pop}, taking a statin {dir} {outcome}.",
        ),
        drug=("statin therapy|treatment with a statin|daily statin use",),
        dir=(_REDUCES, "does not reduce|has no effect on"),
        dir_pl=(_REDUCE, "do not reduce|have no effect on"),
        dir_p=(_IS_REDUCED, "is not reduced|is unchanged"),
        outcome=(
            "the risk of heart attack|the risk of MI|myocardial infarction risk",
            "the risk of stroke|stroke risk",
            "all-cause mortality",
        ),
        pop=(
            "adults with established cardiovascular disease|people with known CVD"
            "|patients with prior cardiovascular events",
            "adults over 75 without heart disease|people older than 75 with no history of CVD",
        ),
    ),
    _family(
        "metformin_prediabetes",
        "drugs",
        (
            "Metformin at {dose} {dir} progression to {cond} in {pop}.",
            "In {pop}, taking metformin {dose} {dir} the onset of {cond}.",
            "The onset of {cond} {dir_p} by metformin {dose} among {pop}.",
            "Giving {pop} metformin {dose} {dir_r} their risk of developing {cond}.",
            "For {pop}, metformin ({dose}) {dir} the development of {cond}.",
        ),
        dose=("850 mg twice daily|850 mg twice a day|1,700 mg/day", "500 mg once daily|500 mg a day"),
        dir=("delays|slows|postpones", "does not delay|has no effect on"),
        dir_p=("is delayed|is postponed", "is not delayed"),
        dir_r=("lowers|reduces|cuts", "does not lower|does not change"),
        cond=("type 2 diabetes|T2D|type 2 diabetes mellitus",),
        pop=(
            "adults with prediabetes|people with impaired glucose tolerance|overweight adults with prediabetes",
            "women with a history of gestational diabetes",
        ),
    ),
    _family(
        "aerobic_exercise_blood_pressure",
        "exercise",
        (
            "{amount} of aerobic exercise {dir} {bp} by about {mag} in {pop}.",
            "In {pop}, doing {amount} of aerobic activity {dir} {bp} by roughly {mag}.",
            "Aerobic training ({amount}) {dir} {bp} by around {mag} among {pop}.",
            "{pop} who do {amount} of aerobic exercise see their {bp} fall by about {mag}.",
            "{bp} {dir_p} by about {mag} in {pop} doing {amount} of aerobic exercise.",
        ),
        amount=(
            "150 minutes a week|150 min/week|two and a half hours per week",
            "30 minutes a week|30 min/week",
        ),
        dir=(_REDUCES,),
        dir_p=("is lowered|drops|falls",),
        bp=("systolic blood pressure|systolic BP", "diastolic blood pressure|diastolic BP"),
        mag=("5 mmHg|5 mm Hg", "15 mmHg|15 mm Hg"),
        pop=(
            "adults with hypertension|people with high blood pressure|hypertensive adults",
            "adults with normal blood pressure|normotensive adults",
        ),
    ),
    _family(
        "child_sleep_obesity",
        "sleep",
        (
            "{pop} who sleep {dur} a night have a {dir} risk of {outcome}.",
            "Sleeping {dur} per night is linked to a {dir} risk of {outcome} in {pop}.",
            "Among {pop}, {dur} of sleep per night is associated with a {dir} risk of {outcome}.",
            "{pop} getting {dur} of nightly sleep face a {dir} risk of {outcome}.",
            "A {dir} risk of {outcome} is seen in {pop} who sleep {dur} each night.",
        ),
        dur=("less than 9 hours|under 9 hours|fewer than nine hours", "more than 11 hours|over 11 hours"),
        dir=("higher|greater|increased", "lower|reduced"),
        outcome=("obesity|becoming obese|developing obesity", "attention problems|ADHD-like symptoms"),
        pop=("children aged 3 to 12|school-age children|kids aged 3–12", "adolescents|teenagers"),
    ),
    _family(
        "melatonin_jet_lag",
        "sleep",
        (
            "Taking {dose} of melatonin at bedtime {dir} {outcome} in {pop}.",
            "Melatonin ({dose}) at local bedtime {dir} {outcome} for {pop}.",
            "In {pop}, {dose} of melatonin taken at bedtime {dir} {outcome}.",
            "{outcome} {dir_p} in {pop} who take {dose} of melatonin before sleep.",
            "For {pop}, a bedtime dose of melatonin ({dose}) {dir} {outcome}.",
        ),
        dose=("0.5 mg|half a milligram", "5 mg|five milligrams"),
        dir=("reduces|alleviates|eases", "does not reduce|has no effect on"),
        dir_p=("is reduced|is eased", "is not reduced"),
        outcome=("jet lag|the severity of jet lag", "daytime sleepiness"),
        pop=(
            "travellers crossing five or more time zones|people flying across 5+ time zones"
            "|long-haul travellers",
            "travellers crossing one or two time zones|people on short flights across 1–2 time zones",
        ),
    ),
    _family(
        "mediterranean_diet_cvd",
        "diet",
        (
            "A Mediterranean diet {supp} {dir} {outcome} by about {mag} in {pop}.",
            "Following a Mediterranean diet {supp} {dir} {outcome} by roughly {mag} among {pop}.",
            "In {pop}, {outcome} {dir_p} by around {mag} with a Mediterranean-style diet {supp}.",
            "{pop} eating a Mediterranean diet {supp} saw {outcome} fall by about {mag}.",
        ),
        supp=(
            "supplemented with extra-virgin olive oil|enriched with extra-virgin olive oil"
            "|with added extra-virgin olive oil",
            "supplemented with nuts|with added nuts",
        ),
        dir=(_REDUCES,),
        dir_p=(_IS_REDUCED,),
        outcome=(
            "the rate of major cardiovascular events|the incidence of major cardiovascular events"
            "|the rate of MACE",
            "the incidence of type 2 diabetes|the rate of new-onset T2D",
        ),
        mag=("30%|30 percent", "10%|10 percent"),
        pop=(
            "adults at high cardiovascular risk|people at high risk of CVD|high-risk adults",
            "healthy young adults",
        ),
    ),
    _family(
        "hpv_vaccine_cervical_cancer",
        "vaccines",
        (
            "HPV vaccination {age} {dir} {outcome} by about {mag}.",
            "Vaccinating girls against HPV {age} {dir} {outcome} by roughly {mag}.",
            "{outcome} {dir_p} by around {mag} in women who received the HPV vaccine {age}.",
            "Receiving the human papillomavirus (HPV) vaccine {age} {dir} {outcome} by {mag}.",
        ),
        age=("before age 17|by age 16|before 17 years of age", "between ages 17 and 30|at 17–30 years"),
        dir=(_REDUCES,),
        dir_p=("is reduced|is lower",),
        outcome=(
            "the risk of invasive cervical cancer|invasive cervical cancer risk|cervical cancer incidence",
            "the risk of genital warts",
        ),
        mag=("90%|90 percent", "50%|50 percent"),
    ),
    _family(
        "influenza_vaccine_hospitalization",
        "vaccines",
        (
            "Annual flu vaccination {dir} {outcome} in {pop}.",
            "In {pop}, getting the yearly influenza vaccine {dir} {outcome}.",
            "{outcome} {dir_p} among {pop} who receive a seasonal flu shot.",
            "A seasonal influenza vaccine {dir} {outcome} for {pop}.",
        ),
        dir=(_REDUCES, "does not reduce|has no effect on"),
        dir_p=("is reduced|is lower", "is not reduced|is unchanged"),
        outcome=(
            "the risk of influenza-related hospitalization|the rate of flu-related hospital admissions"
            "|hospitalization for influenza",
            "all-cause mortality",
        ),
        pop=(
            "adults aged 65 and older|older adults (65+)|people over 65",
            "pregnant women",
            "healthy adults under 50",
        ),
    ),
    _family(
        "colonoscopy_screening",
        "screening",
        (
            "Screening colonoscopy {freq} {dir} {outcome} in {pop}.",
            "For {pop}, a colonoscopy {freq} {dir} {outcome}.",
            "{outcome} {dir_p} among {pop} screened by colonoscopy {freq}.",
            "Colonoscopic screening {freq} {dir} {outcome} for {pop}.",
        ),
        freq=("every 10 years|once a decade|at 10-year intervals", "every year|annually"),
        dir=(_REDUCES,),
        dir_p=("is reduced|is lower",),
        outcome=(
            "colorectal cancer mortality|the risk of death from colorectal cancer"
            "|the risk of dying from bowel cancer",
            "colorectal cancer incidence|the incidence of colorectal cancer",
        ),
        pop=(
            "adults aged 45 to 75|average-risk adults 45–75|people between 45 and 75",
            "adults over 85|people older than 85",
        ),
    ),
    _family(
        "mammography_screening",
        "screening",
        (
            "Mammography screening {freq} {dir} {outcome} in {pop}.",
            "For {pop}, a mammogram {freq} {dir} {outcome}.",
            "{outcome} {dir_p} in {pop} who have screening mammograms {freq}.",
            "Screening {pop} with mammography {freq} {dir} {outcome}.",
        ),
        freq=("every two years|biennially|every other year", "every year|annually"),
        dir=("reduces|lowers", "does not reduce"),
        dir_p=("is reduced|is lower", "is not reduced"),
        outcome=(
            "breast cancer mortality|the risk of dying from breast cancer|the breast cancer death rate",
            "all-cause mortality",
        ),
        pop=(
            "women aged 50 to 74|women 50–74 years old|women between 50 and 74",
            "women in their 40s|women aged 40 to 49",
        ),
    ),
    _family(
        "cbt_insomnia",
        "mental health",
        (
            "CBT for insomnia delivered {dur} {dir} {outcome} in {pop}.",
            "In {pop}, cognitive behavioural therapy for insomnia given {dur} {dir} {outcome}.",
            "{outcome} {dir_p} in {pop} after CBT-I delivered {dur}.",
            "Treating {pop} with CBT-I {dur} {dir} {outcome}.",
        ),
        dur=(
            "over six weekly sessions|across 6 weekly sessions|in six weekly sessions",
            "in a single session|as one session",
        ),
        dir=("improves|enhances", "does not improve"),
        dir_p=("is improved|improves", "is not improved"),
        outcome=("sleep efficiency|the proportion of time in bed spent asleep", "daytime functioning"),
        pop=(
            "adults with chronic insomnia|people with long-term insomnia|adults with persistent insomnia",
            "adolescents with insomnia|teenagers with insomnia",
        ),
    ),
    _family(
        "ssri_depression_severity",
        "mental health",
        (
            "{drug} {dir} {outcome} compared with placebo in {pop}.",
            "Compared with placebo, SSRIs {dir_pl} {outcome} in {pop}.",
            "In {pop}, selective serotonin reuptake inhibitors {dir_pl} {outcome} more than placebo.",
            "{outcome} {dir_p} more with SSRI treatment than with placebo among {pop}.",
        ),
        drug=("SSRI treatment|treatment with an SSRI|antidepressant therapy with an SSRI",),
        dir=("reduces|lessens|lowers", "does not reduce"),
        dir_pl=("reduce|lessen|lower", "do not reduce"),
        dir_p=(_IS_REDUCED, "is not reduced"),
        outcome=(
            "the severity of depressive symptoms|depression severity|symptom severity in depression",
            "the risk of relapse|relapse risk",
        ),
        pop=(
            "adults with moderate to severe depression|people with moderate-to-severe major depression"
            "|adults with major depressive disorder of at least moderate severity",
            "adults with mild depression|people with mild depressive symptoms",
        ),
    ),
    _family(
        "mindfulness_anxiety",
        "mental health",
        (
            "Mindfulness-based stress reduction over {dur} {dir} {outcome} in {pop}.",
            "In {pop}, {dur} of MBSR {dir} {outcome}.",
            "{outcome} {dir_p} in {pop} after {dur} of mindfulness training.",
            "Practising mindfulness for {dur} {dir} {outcome} among {pop}.",
        ),
        dur=("8 weeks|eight weeks", "one week|7 days"),
        dir=("reduces|lowers|eases", "does not reduce"),
        dir_p=("is reduced|is lower", "is not reduced"),
        outcome=("anxiety severity|the severity of anxiety", "perceived stress", "chronic pain intensity"),
        pop=(
            "adults with generalized anxiety disorder|people with GAD|adults diagnosed with generalised anxiety disorder",
            "healthy university students|college students without anxiety disorders",
        ),
    ),
    _family(
        "breastfeeding_infections",
        "pediatrics",
        (
            "Exclusive breastfeeding for {dur} {dir} the {outcome} in infants.",
            "Infants exclusively breastfed for {dur} have a {dir_c} {outcome}.",
            "Breastfeeding exclusively for the first {dur} {dir} a baby's {outcome}.",
            "Babies who receive only breast milk for {dur} show a {dir_c} {outcome}.",
        ),
        dur=("six months|6 months|half a year", "three months|3 months"),
        dir=(_REDUCES,),
        dir_c=("lower|reduced|smaller",),
        outcome=(
            "risk of gastrointestinal infections|risk of GI infections|risk of diarrhoeal illness",
            "risk of ear infections|risk of otitis media",
        ),
    ),
    _family(
        "safe_infant_sleep",
        "pediatrics",
        (
            "Putting babies to sleep {pos} {dir} the risk of {outcome}.",
            "Infants placed {pos} for sleep have a {dir_c} risk of {outcome}.",
            "The risk of {outcome} {dir_p} when infants sleep {pos}.",
            "Sleeping {pos} {dir} an infant's risk of {outcome}.",
        ),
        pos=("on their backs|in the supine position|on the back", "on their sides|in the side position"),
        dir=(_REDUCES, "raises|increases"),
        dir_c=("lower|reduced", "higher|greater"),
        dir_p=("is lower|is reduced", "is higher|is increased"),
        outcome=(
            "sudden infant death syndrome|SIDS|sudden unexpected infant death",
            "flat head syndrome|positional plagiocephaly",
        ),
    ),
    _family(
        "fluoride_varnish_caries",
        "pediatrics",
        (
            "Applying fluoride varnish {freq} {dir} {outcome} in {pop}.",
            "In {pop}, fluoride varnish applied {freq} {dir} {outcome}.",
            "{outcome} {dir_p} among {pop} who receive fluoride varnish {freq}.",
            "Fluoride varnish {freq} {dir} {outcome} for {pop}.",
        ),
        freq=("twice a year|every six months|two times per year", "once every two years|every 2 years"),
        dir=(_REDUCES,),
        dir_p=("is reduced|is lower",),
        outcome=(
            "tooth decay|the incidence of dental caries|caries in primary teeth",
            "the need for dental fillings|the number of fillings needed",
        ),
        pop=("preschool children|children under 5|children aged 1 to 5", "teenagers with fixed braces"),
    ),
    _family(
        "omega3_cardiovascular",
        "supplements",
        (
            "A fish oil supplement providing {dose} of omega-3 a day {dir} {outcome} in {pop}.",
            "Taking {dose} of omega-3 fatty acids daily {dir} {outcome} among {pop}.",
            "In {pop}, {dose} per day of fish oil omega-3s {dir} {outcome}.",
            "{outcome} {dir_p} in {pop} taking {dose} of omega-3 each day.",
        ),
        dose=("1 g|1 gram|one gram", "4 g|4 grams"),
        dir=("does not reduce|has no effect on|does not lower", "reduces|lowers"),
        dir_p=("is not reduced|is unchanged", "is reduced|is lower"),
        outcome=(
            "the risk of major cardiovascular events|major cardiovascular event risk"
            "|the rate of heart attacks and strokes",
            "the blood triglyceride level|the serum triglyceride level",
        ),
        pop=(
            "healthy adults over 50|generally healthy people older than 50|adults aged 50+ without heart disease",
            "patients with established heart disease|people with known coronary disease",
        ),
    ),
    _family(
        "aspirin_primary_prevention",
        "drugs",
        (
            "Daily low-dose aspirin ({dose}) {dir} {outcome} in {pop}.",
            "In {pop}, taking {dose} of aspirin every day {dir} {outcome}.",
            "For {pop}, {outcome} {dir_p} by a daily {dose} aspirin.",
            "Aspirin at {dose} per day {dir} {outcome} among {pop}.",
        ),
        dose=("75–100 mg|75 to 100 mg", "300 mg"),
        dir=("increases|raises", "does not increase"),
        dir_p=("is increased|is raised", "is not increased"),
        outcome=(
            "the risk of major bleeding|major bleeding risk|the risk of serious bleeding",
            "the risk of a first heart attack",
        ),
        pop=(
            "adults over 70 without cardiovascular disease|people aged 70+ with no history of CVD"
            "|older adults free of heart disease",
            "adults with a previous heart attack|people who have had an MI",
        ),
    ),
    _family(
        "varenicline_smoking_cessation",
        "drugs",
        (
            "Varenicline {dir} {outcome} compared with {comp} in {pop}.",
            "Compared with {comp}, varenicline {dir} {outcome} among {pop}.",
            "For {pop}, taking varenicline rather than {comp} {dir} {outcome}.",
            "Among {pop}, varenicline {dir} {outcome} relative to {comp}.",
        ),
        dir=("roughly doubles|about doubles|approximately doubles", "does not increase"),
        outcome=(
            "the chance of quitting|the likelihood of stopping smoking|the odds of successful quitting",
            "the chance of staying abstinent at one year|the one-year abstinence rate",
        ),
        comp=("placebo|a dummy pill", "nicotine patches|nicotine replacement patches"),
        pop=(
            "adult smokers|adults who smoke|people who smoke cigarettes",
            "adolescent smokers|teenagers who smoke",
        ),
    ),
    _family(
        "sodium_reduction_blood_pressure",
        "diet",
        (
            "Cutting salt intake by {amount} a day {dir} {bp} in {pop}.",
            "Reducing dietary sodium by {amount} per day {dir} {bp} among {pop}.",
            "In {pop}, {bp} {dir_p} when daily salt intake is cut by {amount}.",
            "Eating {amount} less salt each day {dir} {bp} for {pop}.",
        ),
        amount=("about 4.4 g|4.4 grams|roughly a teaspoon", "1 g|one gram"),
        dir=("lowers|reduces", "does not lower"),
        dir_p=("falls|is lowered|drops", "does not fall|is unchanged"),
        bp=("blood pressure|BP",),
        pop=(
            "people with hypertension|adults with high blood pressure|hypertensive adults",
            "people with normal blood pressure|normotensive adults",
        ),
    ),
    _family(
        "sugary_drinks_diabetes",
        "diet",
        (
            "Drinking {amount} of sugar-sweetened beverages a day raises the risk of {outcome} {mag}.",
            "Consuming {amount} of sugary drinks daily is associated with {mag_c} risk of {outcome}.",
            "People who have {amount} of soda or other sugary drinks per day face {mag_c} risk of {outcome}.",
            "Regularly drinking {amount} of sugar-sweetened beverages a day is linked to {mag_c} risk of {outcome}.",
        ),
        amount=("one serving|a single serving|one can", "three servings|three cans"),
        mag=("by about 18%|by roughly 18 percent|by close to a fifth", "by about 50%|by roughly half"),
        mag_c=("an 18% higher|a roughly 18 percent higher", "a 50% higher|a roughly 50 percent higher"),
        outcome=("type 2 diabetes|T2D|developing type 2 diabetes", "gout"),
    ),
    _family(
        "resistance_training_older_adults",
        "exercise",
        (
            "Resistance training {freq} {dir} {outcome} in {pop}.",
            "In {pop}, strength training {freq} {dir} {outcome}.",
            "{outcome} {dir_p} in {pop} who do resistance exercise {freq}.",
            "Lifting weights {freq} {dir} {outcome} among {pop}.",
        ),
        freq=("twice a week|two times per week|2 sessions a week", "once a month|monthly"),
        dir=("increases|improves|boosts",),
        dir_p=("increases|improves",),
        outcome=("muscle strength|lower-limb muscle strength", "bone mineral density|BMD"),
        pop=("adults over 65|older adults (65+)|people aged 65 and over", "adolescents|teenagers"),
    ),
    _family(
        "daily_steps_mortality",
        "exercise",
        (
            "Walking {steps} steps a day is associated with {mag} lower {outcome} in {pop}.",
            "{pop} who take {steps} steps daily have {mag} lower {outcome}.",
            "In {pop}, {outcome} is reduced by {mag} at {steps} steps per day.",
            "Reaching {steps} daily steps cuts {outcome} by {mag} among {pop}.",
        ),
        steps=("7,000|7000|about 7,000", "12,000|12000"),
        mag=("roughly 50%|around 50 percent", "roughly 10%|around 10 percent"),
        outcome=(
            "all-cause mortality|mortality from any cause|overall mortality",
            "dementia risk",
        ),
        pop=(
            "middle-aged adults|adults aged 40 to 60|people in midlife",
            "adults over 80|people older than 80",
        ),
    ),
    _family(
        "hiit_fitness",
        "exercise",
        (
            "{dur} of high-intensity interval training {dir} {outcome} more than moderate continuous "
            "exercise in {pop}.",
            "In {pop}, HIIT for {dur} {dir} {outcome} more than steady moderate exercise does.",
            "Compared with moderate continuous training, {dur} of HIIT {dir} {outcome} more in {pop}.",
            "{outcome} {dir_p} more after {dur} of high-intensity intervals than after moderate exercise "
            "in {pop}.",
        ),
        dur=("12 weeks|twelve weeks|3 months", "2 weeks|two weeks"),
        dir=("improves|increases|raises",),
        dir_p=("improves|increases|rises",),
        outcome=("VO2max|maximal oxygen uptake|cardiorespiratory fitness", "insulin sensitivity"),
        pop=(
            "adults with coronary artery disease|patients with coronary heart disease|people with CAD",
            "sedentary healthy adults|inactive but healthy adults",
        ),
    ),
    _family(
        "shingles_vaccine",
        "vaccines",
        (
            "Vaccination with {doses} of the recombinant zoster vaccine {dir} {outcome} by about {mag} in {pop}.",
            "In {pop}, receiving {doses} of the shingles vaccine (RZV) {dir} {outcome} by roughly {mag}.",
            "{outcome} {dir_p} by around {mag} in {pop} given {doses} of recombinant zoster vaccine.",
            "Giving {pop} {doses} of Shingrix {dir} {outcome} by about {mag}.",
        ),
        doses=("two doses|2 doses|a two-dose series", "a single dose|one dose"),
        dir=(_REDUCES,),
        dir_p=("is reduced|is lowered|falls",),
        outcome=(
            "the risk of shingles|shingles risk|the risk of herpes zoster",
            "the risk of postherpetic neuralgia",
        ),
        mag=("90%|90 percent", "50%|50 percent"),
        pop=("adults aged 50 and older|people over 50|adults 50+", "adults aged 18 to 30|young adults"),
    ),
    _family(
        "rsv_vaccine_older_adults",
        "vaccines",
        (
            "RSV vaccination {dir} {outcome} in {pop} over {season}.",
            "In {pop}, a single RSV vaccine dose {dir} {outcome} across {season}.",
            "{outcome} {dir_p} among {pop} for {season} after one dose of RSV vaccine.",
            "Vaccinating {pop} against respiratory syncytial virus {dir} {outcome} over {season}.",
        ),
        season=("two RSV seasons|2 seasons|two consecutive seasons", "one season|a single season"),
        dir=(_REDUCES,),
        dir_p=("is reduced|is lower",),
        outcome=(
            "RSV-associated lower respiratory tract disease|lower respiratory tract disease caused by RSV"
            "|RSV lower respiratory illness",
            "RSV-related hospitalization|hospital admission for RSV",
        ),
        pop=(
            "adults aged 60 and older|people over 60|older adults (60+)",
            "adults aged 18 to 49 with asthma|younger adults with asthma",
        ),
    ),
    _family(
        "lung_cancer_ct_screening",
        "screening",
        (
            "Annual low-dose CT screening {dir} {outcome} in {pop}.",
            "In {pop}, yearly low-dose computed tomography {dir} {outcome}.",
            "{outcome} {dir_p} among {pop} screened annually with low-dose CT.",
            "Screening {pop} with LDCT every year {dir} {outcome}.",
        ),
        dir=(_REDUCES, "does not reduce"),
        dir_p=("is reduced|is lower", "is not reduced"),
        outcome=("lung cancer mortality|the lung cancer death rate", "all-cause mortality"),
        pop=(
            "adults aged 50 to 80 with a 20 pack-year smoking history|heavy smokers aged 50–80 (20+ pack-years)"
            "|people 50 to 80 who have smoked at least 20 pack-years",
            "never-smokers aged 50 to 80|adults aged 50–80 who have never smoked",
        ),
    ),
    _family(
        "psa_screening",
        "screening",
        (
            "PSA-based screening {dir} {outcome} in {pop}.",
            "In {pop}, screening with prostate-specific antigen testing {dir} {outcome}.",
            "{outcome} {dir_p} in {pop} offered PSA screening.",
            "Offering {pop} PSA tests {dir} {outcome}.",
        ),
        dir=("slightly reduces|modestly lowers|slightly lowers", "does not reduce"),
        dir_p=("is slightly reduced|is modestly lower", "is not reduced"),
        outcome=(
            "prostate cancer mortality|the risk of dying from prostate cancer|prostate cancer death",
            "all-cause mortality",
        ),
        pop=(
            "men aged 55 to 69|men between 55 and 69|men 55–69 years old",
            "men over 70|men aged 70 and older",
        ),
    ),
    _family(
        "iron_in_pregnancy",
        "pregnancy",
        (
            "Daily iron supplementation of {dose} {timing} {dir} {outcome}.",
            "Taking {dose} of iron every day {timing} {dir} {outcome}.",
            "{outcome} {dir_p} in women who take {dose} of iron daily {timing}.",
            "Supplementing pregnant women with {dose} of elemental iron per day {timing} {dir} {outcome}.",
        ),
        dose=("30–60 mg|30 to 60 mg", "120 mg"),
        timing=(
            "throughout pregnancy|for the whole pregnancy|from early pregnancy",
            "only in the last trimester|in the third trimester only",
        ),
        dir=(_REDUCES, "does not reduce"),
        dir_p=("is reduced|is lower", "is not reduced"),
        outcome=(
            "the risk of maternal anaemia at term|maternal anaemia at term|the risk of anaemia at delivery",
            "the risk of low birth weight",
        ),
    ),
    _family(
        "folic_acid_neural_tube",
        "pregnancy",
        (
            "Taking {dose} of folic acid daily {timing} {dir} the risk of {outcome}.",
            "The risk of {outcome} {dir_p} when women take {dose} of folic acid a day {timing}.",
            "Daily folic acid at {dose} {timing} {dir} the risk of {outcome}.",
            "Women who take {dose} of folate daily {timing} have a {dir_c} risk of {outcome} in their babies.",
        ),
        dose=("400 µg|400 micrograms|0.4 mg", "5 mg"),
        timing=(
            "starting before conception|from before conception|beginning before pregnancy",
            "starting in the second trimester|from the second trimester",
        ),
        dir=(_REDUCES,),
        dir_p=("is reduced|is lower|falls",),
        dir_c=("lower|reduced|smaller",),
        outcome=("neural tube defects|NTDs|spina bifida and other neural tube defects", "orofacial clefts"),
    ),
    _family(
        "probiotics_antibiotic_diarrhoea",
        "supplements",
        (
            "Taking probiotics {timing} {dir} the risk of {outcome} in {pop}.",
            "In {pop}, probiotic use {timing} {dir} the risk of {outcome}.",
            "The risk of {outcome} {dir_p} among {pop} who take probiotics {timing}.",
            "Giving {pop} probiotics {timing} {dir} the risk of {outcome}.",
        ),
        timing=(
            "alongside antibiotics|together with a course of antibiotics|during antibiotic treatment",
            "after finishing antibiotics|once the antibiotic course is finished",
        ),
        dir=(_REDUCES, "does not reduce"),
        dir_p=("is reduced|is lower", "is not reduced"),
        outcome=(
            "antibiotic-associated diarrhoea|antibiotic-associated diarrhea|AAD",
            "Clostridioides difficile infection|C. difficile infection",
        ),
        pop=("children|kids|paediatric patients", "hospitalised adults over 65|older adults in hospital"),
    ),
    _family(
        "coffee_diabetes",
        "diet",
        (
            "Drinking {cups} of coffee a day is associated with {mag} lower risk of {outcome}.",
            "People who drink {cups} of coffee daily have {mag} lower risk of {outcome}.",
            "Consuming {cups} of coffee per day is linked to {mag} lower {outcome} risk.",
            "The risk of {outcome} is {mag} lower in people who drink {cups} of coffee each day.",
        ),
        cups=("3–4 cups|three to four cups|3 to 4 cups", "one cup|a single cup"),
        mag=("about 25%|roughly 25%|around 25 percent", "about 5%|around 5 percent"),
        outcome=("type 2 diabetes|T2D|type 2 diabetes mellitus", "Parkinson's disease"),
    ),
    _family(
        "alcohol_breast_cancer",
        "diet",
        (
            "Drinking {amount} of alcohol a day raises the risk of {outcome} by about {mag} in {pop}.",
            "In {pop}, consuming {amount} of alcohol daily increases {outcome} risk by roughly {mag}.",
            "The risk of {outcome} rises by around {mag} for {pop} who drink {amount} of alcohol per day.",
            "Among {pop}, {amount} of alcohol daily is linked to a {mag} higher risk of {outcome}.",
        ),
        amount=("10 g|10 grams|one standard drink", "50 g|five standard drinks"),
        mag=("7%|7 percent", "40%|40 percent"),
        outcome=("breast cancer|invasive breast cancer", "colorectal cancer|bowel cancer"),
        pop=("women|adult women", "young women under 30|women under 30"),
    ),
    _family(
        "bedtime_screens_adolescents",
        "sleep",
        (
            "Using {device} {time} {dir} total sleep time in {pop}.",
            "In {pop}, looking at {device} {time} {dir} nightly sleep duration.",
            "{pop} who use {device} {time} have their sleep duration {dir_pp}.",
            "Sleep duration {dir_p} in {pop} who use {device} {time}.",
            "For {pop}, screen use on {device} {time} {dir} how long they sleep.",
        ),
        device=("smartphones|a smartphone|a phone", "a backlit tablet|tablets"),
        time=(
            "in the hour before bed|within an hour of bedtime|during the last hour before sleep",
            "in the afternoon|after school",
        ),
        dir=("shortens|reduces|cuts", "does not affect|has no effect on"),
        dir_pp=("shortened|reduced", "unaffected|unchanged"),
        dir_p=("is shortened|is reduced", "is not affected|is unchanged"),
        pop=("adolescents|teenagers|young people aged 13–18", "adults over 60|older adults (60+)"),
    ),
    _family(
        "sglt2_heart_failure",
        "drugs",
        (
            "SGLT2 inhibitors {dir_pl} {outcome} in {pop}.",
            "In {pop}, treatment with an SGLT2 inhibitor {dir} {outcome}.",
            "{outcome} {dir_p} among {pop} taking SGLT2 inhibitors such as dapagliflozin.",
            "Adding a gliflozin to therapy {dir} {outcome} for {pop}.",
        ),
        dir=(_REDUCES,),
        dir_pl=(_REDUCE,),
        dir_p=("is reduced|is lower",),
        outcome=(
            "hospitalization for heart failure|the risk of heart failure hospitalization"
            "|the rate of HF hospitalization",
            "progression to end-stage kidney disease",
        ),
        pop=(
            "patients with heart failure with reduced ejection fraction|people with HFrEF"
            "|adults with HF and reduced EF",
            "patients with type 1 diabetes|people with T1D",
        ),
    ),
    _family(
        "semaglutide_weight_loss",
        "drugs",
        (
            "Once-weekly semaglutide 2.4 mg reduces body weight by about {mag} over {dur} in {pop}.",
            "In {pop}, weekly semaglutide (2.4 mg) led to roughly {mag} weight loss over {dur}.",
            "{pop} treated with semaglutide 2.4 mg each week lost around {mag} of their body weight in {dur}.",
            "Over {dur}, {pop} on weekly semaglutide lost about {mag} of body weight.",
        ),
        mag=("15%|15 percent", "5%|5 percent"),
        dur=("68 weeks|about 16 months", "12 weeks|three months"),
        pop=(
            "adults with obesity without diabetes|people with obesity but no diabetes"
            "|non-diabetic adults with obesity",
            "adolescents with obesity|teenagers with obesity",
        ),
    ),
    _family(
        "intensive_blood_pressure_target",
        "drugs",
        (
            "Targeting a systolic blood pressure below {target} {dir} {outcome} in {pop}.",
            "In {pop}, lowering systolic BP to under {target} {dir} {outcome}.",
            "{outcome} {dir_p} in {pop} treated to a systolic target of less than {target}.",
            "Intensive treatment to a systolic pressure under {target} {dir} {outcome} among {pop}.",
        ),
        target=("120 mmHg|120 mm Hg", "140 mmHg|140 mm Hg"),
        dir=(_REDUCES,),
        dir_p=("is reduced|is lower",),
        outcome=(
            "the rate of major cardiovascular events|the risk of major cardiovascular events"
            "|major CV event risk",
            "the risk of dementia",
        ),
        pop=(
            "adults over 50 at high cardiovascular risk without diabetes|non-diabetic adults 50+ at high CV risk"
            "|high-risk adults older than 50 without diabetes",
            "adults with type 2 diabetes|people with T2D",
        ),
    ),
    _family(
        "antibiotics_otitis_media",
        "pediatrics",
        (
            "{abx} for acute otitis media {dir} {outcome} in {pop}.",
            "In {pop} with acute otitis media, antibiotics {dir_pl} {outcome}.",
            "{outcome} {dir_p} by antibiotics in {pop} with acute ear infections.",
            "Giving antibiotics to {pop} with middle-ear infections {dir} {outcome}.",
        ),
        abx=("antibiotic treatment|prescribing antibiotics",),
        dir=("only slightly reduces|modestly reduces", "substantially reduces|greatly reduces"),
        dir_pl=("only slightly reduce|modestly reduce", "substantially reduce|greatly reduce"),
        dir_p=("is only slightly reduced|is modestly reduced", "is substantially reduced|is greatly reduced"),
        outcome=(
            "pain at 2–3 days|ear pain after two to three days|pain at day 2 to 3",
            "the risk of mastoiditis",
        ),
        pop=(
            "children aged 2 and older|children over 2|kids older than two",
            "infants under 6 months|babies younger than 6 months",
        ),
    ),
    _family(
        "walking_depression",
        "mental health",
        (
            "Doing {amount} of brisk walking per week {dir} the risk of {outcome} in {pop}.",
            "In {pop}, {amount} of brisk walking a week {dir} the risk of {outcome}.",
            "The risk of {outcome} {dir_p} in {pop} who walk briskly for {amount} a week.",
            "{pop} who accumulate {amount} of brisk walking weekly have a {dir_c} risk of {outcome}.",
        ),
        amount=("2.5 hours|150 minutes|two and a half hours", "20 minutes"),
        dir=(_REDUCES,),
        dir_p=("is lower|is reduced",),
        dir_c=("lower|reduced|smaller",),
        outcome=("depression|developing depression|major depression", "dementia"),
        pop=("adults|adults of all ages|the general adult population", "children under 10"),
    ),
    _family(
        "social_isolation_mortality",
        "mental health",
        (
            "Social isolation is associated with {mag} higher {outcome} in {pop}.",
            "In {pop}, being socially isolated is linked to {mag} higher {outcome}.",
            "{pop} who are socially isolated have {mag} higher {outcome}.",
            "{outcome} is {mag} higher among socially isolated {pop}.",
        ),
        mag=("about 30%|roughly 30%|around 30 percent", "about threefold|roughly threefold"),
        outcome=(
            "all-cause mortality|mortality from any cause|early mortality",
            "dementia risk|risk of dementia",
        ),
        pop=("older adults|adults over 65|people aged 65+", "young adults|adults under 30"),
    ),
    _family(
        "hearing_aids_cognition",
        "aging",
        (
            "Using hearing aids {dir} cognitive decline {dur} in {pop}.",
            "In {pop}, hearing aid use {dir} the decline in memory and thinking {dur}.",
            "Cognitive decline {dir_p} {dur} among {pop} who wear hearing aids.",
            "Fitting {pop} with hearing aids {dir} their cognitive decline {dur}.",
        ),
        dir=("slows|reduces", "does not slow"),
        dir_p=("is slower|is slowed", "is not slowed"),
        dur=("over three years|across 3 years", "within six months|over 6 months"),
        pop=(
            "older adults with hearing loss at high risk of dementia|older people with hearing loss and dementia"
            " risk factors|at-risk older adults with hearing loss",
            "healthy older adults with hearing loss|older adults with hearing loss but few dementia risk factors",
        ),
    ),
    _family(
        "fibre_colorectal_cancer",
        "diet",
        (
            "Each additional {amount} of dietary fibre a day lowers the risk of {outcome} by about {mag}.",
            "Eating an extra {amount} of fiber daily is associated with a {mag} lower risk of {outcome}.",
            "The risk of {outcome} falls by roughly {mag} for every extra {amount} of fibre eaten per day.",
            "Every {amount} per day increase in dietary fiber intake cuts {outcome} risk by around {mag}.",
        ),
        amount=("10 g|10 grams", "30 g|30 grams"),
        mag=("10%|10 percent", "50%|50 percent"),
        outcome=("colorectal cancer|bowel cancer|colon cancer", "breast cancer"),
    ),
    _family(
        "processed_meat_colorectal_cancer",
        "diet",
        (
            "Eating {amount} of {meat} a day raises the risk of {outcome} by about {mag}.",
            "Each daily {amount} portion of {meat} increases {outcome} risk by roughly {mag}.",
            "People who eat {amount} of {meat} daily face a risk of {outcome} that is {mag} higher.",
            "The risk of {outcome} is around {mag} higher with {amount} of {meat} per day.",
        ),
        amount=("50 g|50 grams", "100 g|100 grams"),
        meat=(
            "processed meat|cured and processed meat|processed meats such as ham and bacon",
            "unprocessed red meat|fresh red meat",
        ),
        mag=("18%|18 percent", "80%|80 percent"),
        outcome=("colorectal cancer|bowel cancer", "stomach cancer|gastric cancer"),
    ),
    _family(
        "sunscreen_melanoma",
        "prevention",
        (
            "Daily use of {spf} sunscreen {dir} the risk of {outcome} in {pop}.",
            "In {pop}, applying {spf} sunscreen every day {dir} the risk of {outcome}.",
            "The risk of {outcome} {dir_p} among {pop} who use {spf} sunscreen daily.",
            "Regular daily application of {spf} sunscreen by {pop} {dir} {outcome} risk.",
        ),
        spf=("SPF 15+|SPF 15 or higher|broad-spectrum SPF 15", "SPF 50+|SPF 50 or higher"),
        dir=(_REDUCES,),
        dir_p=("is reduced|is lower",),
        outcome=("invasive melanoma|melanoma", "basal cell carcinoma"),
        pop=(
            "adults aged 25 to 75|adults between 25 and 75|25- to 75-year-olds",
            "children under 5|young children",
        ),
    ),
    _family(
        "early_peanut_introduction",
        "pediatrics",
        (
            "Introducing peanut {age} {dir} the risk of {outcome} in {pop}.",
            "In {pop}, peanut introduction {age} {dir} the risk of {outcome}.",
            "The risk of {outcome} {dir_p} when {pop} are given peanut {age}.",
            "{pop} who eat peanut products {age} have a {dir_c} risk of {outcome}.",
        ),
        age=(
            "between 4 and 11 months of age|at 4–11 months|before their first birthday",
            "after age 3|after three years of age",
        ),
        dir=(_REDUCES, "does not reduce"),
        dir_p=("is reduced|is lower", "is not reduced"),
        dir_c=("lower|reduced", "similar"),
        outcome=("peanut allergy|developing peanut allergy", "egg allergy"),
        pop=(
            "infants with severe eczema or egg allergy|high-risk infants (severe eczema or egg allergy)"
            "|babies with severe eczema and/or egg allergy",
            "infants without eczema or food allergy|low-risk babies",
        ),
    ),
    _family(
        "mmr_vaccine_effectiveness",
        "vaccines",
        (
            "{doses} of the MMR vaccine {doses_be} about {mag} effective at preventing {outcome}.",
            "The MMR vaccine given as {doses} prevents {outcome} in about {mag} of vaccinated people.",
            "Vaccine effectiveness against {outcome} is roughly {mag} after {doses} of MMR.",
            "Receiving {doses} of measles-mumps-rubella vaccine protects about {mag} of people against {outcome}.",
        ),
        doses=("two doses|2 doses", "one dose|a single dose"),
        doses_be=("are", "is"),
        mag=("97%|97 percent", "78%|78 percent"),
        outcome=("measles", "mumps"),
    ),
    _family(
        "tai_chi_falls",
        "exercise",
        (
            "Practising tai chi {freq} {dir} {outcome} in {pop}.",
            "In {pop}, tai chi classes {freq} {dir_pl} {outcome}.",
            "{outcome} {dir_p} among {pop} who do tai chi {freq}.",
            "Tai chi {freq} {dir} {outcome} for {pop}.",
        ),
        freq=("three times a week|3 times per week|thrice weekly", "once a month|monthly"),
        dir=(_REDUCES,),
        dir_pl=(_REDUCE,),
        dir_p=("is reduced|is lower",),
        outcome=("the rate of falls|the risk of falling|the fall rate", "fear of falling"),
        pop=(
            "community-dwelling older adults|older people living at home|adults over 65 living independently",
            "nursing home residents|people in long-term care",
        ),
    ),
    _family(
        "zinc_common_cold",
        "supplements",
        (
            "A course of zinc lozenges taken {timing} {dir} {outcome} in {pop}.",
            "Taking zinc lozenges {timing} {dir} {outcome} for {pop}.",
            "{outcome} {dir_p} in {pop} who use zinc lozenges {timing}.",
            "In {pop}, starting zinc acetate lozenges {timing} {dir} {outcome}.",
        ),
        timing=(
            "within 24 hours of symptom onset|within a day of the first symptoms|in the first 24 hours of symptoms",
            "after the third day of symptoms|from day 4 of symptoms",
        ),
        dir=("shortens|reduces", "does not shorten"),
        dir_p=("is shortened|is reduced", "is not shortened"),
        outcome=("the duration of the common cold|cold duration|the length of a cold",),
        pop=("adults|otherwise healthy adults|healthy adults", "children under 5|young children"),
    ),
    _family(
        "bedtime_antihypertensives",
        "drugs",
        (
            "Taking blood pressure medication at bedtime rather than in the morning {dir} {outcome} in {pop}.",
            "In {pop}, bedtime dosing of antihypertensives {dir} {outcome} compared with morning dosing.",
            "Compared with morning dosing, taking antihypertensive drugs at night {dir} {outcome} among {pop}.",
            "{outcome} {dir_p} when {pop} take their BP pills at bedtime instead of in the morning.",
        ),
        dir=("does not reduce|has no effect on", "reduces|lowers"),
        dir_p=("is not reduced|is unchanged", "is reduced|is lower"),
        outcome=(
            "the risk of major cardiovascular events|the rate of major cardiovascular events|major CV event risk",
            "nighttime blood pressure|nocturnal BP",
        ),
        pop=(
            "adults with hypertension|people with high blood pressure|hypertensive patients",
            "adults with chronic kidney disease|people with CKD",
        ),
    ),
    _family(
        "exercise_knee_osteoarthritis",
        "exercise",
        (
            "Supervised exercise therapy for {dur} {dir} {outcome} in {pop}.",
            "In {pop}, {dur} of supervised exercise {dir} {outcome}.",
            "{outcome} {dir_p} in {pop} after {dur} of physiotherapist-led exercise.",
            "Exercising under supervision for {dur} {dir} {outcome} among {pop}.",
        ),
        dur=("12 weeks|twelve weeks|three months", "one week|7 days"),
        dir=("reduces|eases|lowers",),
        dir_p=("is reduced|is eased",),
        outcome=("knee pain|knee pain intensity", "the need for knee replacement surgery"),
        pop=(
            "people with knee osteoarthritis|adults with knee OA|patients with osteoarthritis of the knee",
            "people with rheumatoid arthritis|adults with RA",
        ),
    ),
    _family(
        "vitamin_c_common_cold",
        "supplements",
        (
            "Regular vitamin C supplementation of {dose} a day {dir} {outcome} in {pop}.",
            "Taking {dose} of vitamin C routinely {dir} {outcome} among {pop}.",
            "{outcome} {dir_p} in {pop} who take vitamin C ({dose}) every day.",
            "In {pop}, daily vitamin C at {dose} {dir} {outcome}.",
        ),
        dose=("200 mg|200 milligrams", "2 g|2 grams"),
        dir=("does not reduce|has no effect on", "reduces|lowers"),
        dir_p=("is not reduced|is unchanged", "is reduced|is lower"),
        outcome=(
            "the incidence of the common cold|the number of colds people catch",
            "the duration of colds",
        ),
        pop=(
            "the general population|ordinary adults",
            "marathon runners and others under heavy physical stress|people under intense physical stress",
        ),
    ),
    _family(
        "antenatal_corticosteroids",
        "pregnancy",
        (
            "A course of antenatal corticosteroids given {ga} {dir} {outcome}.",
            "Giving corticosteroids to women at risk of preterm birth {ga} {dir} {outcome}.",
            "{outcome} {dir_p} when antenatal steroids are given {ga}.",
            "Antenatal steroid treatment {ga} {dir} {outcome} in preterm babies.",
        ),
        ga=(
            "between 24 and 34 weeks of gestation|at 24–34 weeks' gestation|from 24 to 34 weeks of pregnancy",
            "after 37 weeks of gestation|at term (37+ weeks)",
        ),
        dir=(_REDUCES,),
        dir_p=("is reduced|is lower",),
        outcome=(
            "neonatal respiratory distress syndrome|respiratory distress syndrome in newborns|neonatal RDS",
            "the risk of intraventricular haemorrhage",
        ),
    ),
    _family(
        "lithium_suicide_prevention",
        "mental health",
        (
            "Lithium treatment {dir} {outcome} in {pop}.",
            "In {pop}, long-term lithium {dir} {outcome}.",
            "{outcome} {dir_p} among {pop} maintained on lithium.",
            "Maintenance therapy with lithium {dir} {outcome} for {pop}.",
        ),
        dir=(_REDUCES,),
        dir_p=("is reduced|is lower",),
        outcome=("the risk of suicide|suicide risk|the rate of suicide", "the risk of manic relapse"),
        pop=(
            "people with bipolar disorder|patients with bipolar disorder|adults with bipolar illness",
            "people with schizophrenia|patients with schizophrenia",
        ),
    ),
    _family(
        "methylphenidate_adhd",
        "pediatrics",
        (
            "Methylphenidate {dir} {outcome} {dur} in {pop}.",
            "In {pop}, methylphenidate treatment {dir} {outcome} {dur}.",
            "{outcome} {dir_p} {dur} among {pop} taking methylphenidate.",
            "Stimulant treatment with methylphenidate {dir} {outcome} for {pop} {dur}.",
        ),
        dir=("reduces|lowers|lessens",),
        dir_p=("is reduced|is lower",),
        outcome=(
            "ADHD symptom severity|the severity of ADHD symptoms|the severity of inattention and hyperactivity",
        ),
        dur=(
            "in the short term (up to 12 weeks)|over the first 12 weeks|in trials lasting up to 12 weeks",
            "over 10 years|across a decade",
        ),
        pop=(
            "children and adolescents with ADHD|young people with ADHD|kids and teens with ADHD",
            "preschool children with ADHD|children under 6 with ADHD",
        ),
    ),
)


def render_statement(
    family: ClaimFamily, template_index: int, meaning: Meaning, wording: Mapping[str, int]
) -> str:
    """The statement of ``meaning`` in one template, with the ``wording`` index chosen per placeholder."""
    template = family.templates[template_index]
    value_of_slot = dict(meaning)
    parts: dict[str, str] = {}
    for placeholder in _placeholders(template):
        wordings = family.slots[placeholder][value_of_slot[_slot_of(placeholder)]].split("|")
        parts[placeholder] = wordings[wording.get(placeholder, 0) % len(wordings)]
    text = " ".join(template.format(**parts).split())
    return text[:1].upper() + text[1:]


@dataclass
class _DraftInsight:
    statement: str
    family: ClaimFamily
    meaning: Meaning
    template_index: int
    wording: dict[str, int]
    is_minimal_edit: bool = False
    cluster_count: int = 0


@dataclass
class _DraftCluster:
    kind: DemoClusterKind
    status: Literal["pending", "approved", "rejected"]
    #: (draft insight index, proposer similarity, selected)
    members: list[tuple[int, float, bool]]
    decided_at: datetime | None
    reviewer: str | None


@dataclass(frozen=True)
class _RoundOutput:
    """One review round, finished but not yet numbered: insights in output order, then clusters."""

    statements: list[str]
    metadata: list[dict[str, Any]]
    #: Decided clusters in ``decided_at`` order, then the pending ones; members index ``statements``.
    clusters: list[_DraftCluster]
    #: The claim each statement states (family and slot values): statements with the same claim are true
    #: duplicates, whether or not a reviewer ever saw them together.
    claims: list[str] = field(default_factory=list)


_SIMILARITY_BY_ROLE: dict[str, tuple[float, float]] = {
    "paraphrase": (0.87, 0.05),
    "near_miss": (0.82, 0.055),
    "minimal_edit": (0.89, 0.04),
    "unrelated": (0.65, 0.05),
}


def _normalised(statement: str) -> str:
    """The form in which two statements count as the same text (as the training-set leakage check)."""
    return " ".join(statement.lower().split())


class _DemoBuilder:
    """Draws one review round's insights and clusters from the catalogue with one seeded generator.

    ``taken`` holds the normalised statements of earlier rounds (shared and extended by this builder): a
    statement already in it is never drawn again, the builder tries another template or wording instead.
    Decisions fall in ``[window_start, window_end)``.
    """

    def __init__(
        self,
        seed: int,
        *,
        taken: set[str] | None = None,
        window_start: datetime = DECISION_WINDOW_START,
        window_end: datetime = DECISION_WINDOW_END,
    ) -> None:
        self.rng = random.Random(seed)
        self.insights: list[_DraftInsight] = []
        self.clusters: list[_DraftCluster] = []
        self._statements: set[str] = taken if taken is not None else set()
        self.window_start = window_start
        self.window_end = window_end

    # -- insights ---------------------------------------------------------------------------------------

    def _add_insight(
        self,
        family: ClaimFamily,
        meaning: Meaning,
        template_index: int,
        wording: dict[str, int],
        *,
        keyword: str | None = None,
        is_minimal_edit: bool = False,
    ) -> int | None:
        statement = render_statement(family, template_index, meaning, wording)
        key = _normalised(statement)
        if key in self._statements or (keyword is not None and keyword not in statement.lower()):
            return None
        self._statements.add(key)
        self.insights.append(
            _DraftInsight(statement, family, meaning, template_index, wording, is_minimal_edit)
        )
        return len(self.insights) - 1

    def _random_wording(self, family: ClaimFamily) -> dict[str, int]:
        return {placeholder: self.rng.randrange(12) for placeholder in family.slots}

    def new_insight(
        self,
        family: ClaimFamily,
        meaning: Meaning,
        *,
        avoid_templates: Iterable[int] = (),
        preferred_wording: dict[str, int] | None = None,
        keyword: str | None = None,
        attempts: int = 40,
    ) -> int | None:
        """A new insight stating ``meaning``; None when no unused statement turns up."""
        avoided = set(avoid_templates)
        templates = [i for i in range(len(family.templates)) if i not in avoided] or list(
            range(len(family.templates))
        )
        for attempt in range(attempts):
            wording = (
                preferred_wording if attempt == 0 and preferred_wording else self._random_wording(family)
            )
            index = self._add_insight(
                family, meaning, self.rng.choice(templates), dict(wording), keyword=keyword
            )
            if index is not None:
                return index
        return None

    def paraphrases(
        self, family: ClaimFamily, meaning: Meaning, count: int, *, existing: Sequence[int] = ()
    ) -> list[int]:
        """``count`` new statements of ``meaning`` in templates and wordings unlike each other and ``existing``."""
        used_templates = {self.insights[i].template_index for i in existing}
        offsets = {placeholder: self.rng.randrange(6) for placeholder in family.slots}
        created: list[int] = []
        for position in range(len(existing), len(existing) + count):
            preferred = {placeholder: offset + position for placeholder, offset in offsets.items()}
            index = self.new_insight(
                family, meaning, avoid_templates=used_templates, preferred_wording=preferred
            )
            if index is not None:
                used_templates.add(self.insights[index].template_index)
                created.append(index)
        return created

    def vary(self, family: ClaimFamily, meaning: Meaning) -> Meaning:
        """``meaning`` with the value of one slot changed: a near-miss claim."""
        slot = self.rng.choice(family.varying_slots)
        values = dict(meaning)
        values[slot] = self.rng.choice([v for v in range(family.slot_sizes[slot]) if v != values[slot]])
        return tuple(sorted(values.items()))

    def random_meaning(self, family: ClaimFamily) -> Meaning:
        return tuple((slot, self.rng.randrange(size)) for slot, size in sorted(family.slot_sizes.items()))

    def near_miss(
        self, family: ClaimFamily, meaning: Meaning, *, like: int | None, exclude: set[Meaning]
    ) -> int | None:
        """A new insight differing from ``meaning`` in one slot, half the time a minimal edit of ``like``."""
        candidates = [self.vary(family, meaning) for _ in range(12)]
        fresh = [candidate for candidate in candidates if candidate not in exclude and candidate != meaning]
        if not fresh:
            return None
        other = fresh[0]
        if like is not None and self.rng.random() < 0.5:
            source = self.insights[like]
            changed = {slot for (slot, value), (_, old) in zip(other, meaning, strict=True) if value != old}
            wording = dict(source.wording)
            for placeholder in family.slots:
                if _slot_of(placeholder) in changed:
                    wording[placeholder] = self.rng.randrange(12)
            index = self._add_insight(family, other, source.template_index, wording, is_minimal_edit=True)
            if index is not None:
                return index
        return self.new_insight(family, other)

    # -- clusters ---------------------------------------------------------------------------------------

    def similarity(self, role: str) -> float:
        mean, spread = _SIMILARITY_BY_ROLE[role]
        return round(min(max(self.rng.gauss(mean, spread), _SIMILARITY_MIN), _SIMILARITY_MAX), 3)

    def near_miss_similarity(self, index: int) -> float:
        return self.similarity("minimal_edit" if self.insights[index].is_minimal_edit else "near_miss")

    def decision_time(self, *, after: datetime | None = None) -> datetime:
        start = after or self.window_start
        span = (self.window_end - start).total_seconds()
        low = 0.25 if after else 0.0
        high = 0.9 if after else 1.0
        return start + timedelta(seconds=math.floor(span * self.rng.uniform(low, high)))

    def reviewer(self, *, other_than: str | None = None) -> str:
        while True:
            name = self.rng.choices(REVIEWERS, weights=_REVIEWER_WEIGHTS)[0]
            if name != other_than:
                return name

    def add_cluster(
        self,
        kind: DemoClusterKind,
        status: Literal["pending", "approved", "rejected"],
        members: list[tuple[int, float, bool]],
        *,
        decided_at: datetime | None = None,
        reviewer: str | None = None,
    ) -> _DraftCluster:
        if status != "pending":
            decided_at = decided_at or self.decision_time()
            reviewer = reviewer or self.reviewer()
        for index, _, _ in members:
            self.insights[index].cluster_count += 1
        cluster = _DraftCluster(kind, status, members, decided_at, reviewer)
        self.clusters.append(cluster)
        return cluster

    def add_approved(
        self,
        family: ClaimFamily,
        meaning: Meaning,
        *,
        seed_member: int | None = None,
        deselect_candidate: int | None = None,
    ) -> list[int]:
        """An approved cluster of paraphrases of ``meaning``, maybe with a deselected near-miss.

        Returns the selected members (empty when too few statements could be drawn).
        """
        existing = [seed_member] if seed_member is not None else []
        deselect = self.rng.random() < 0.5
        selected_count = self.rng.choice((2, 3)) if deselect else self.rng.choice((2, 3, 3, 4))
        selected = existing + self.paraphrases(
            family, meaning, selected_count - len(existing), existing=existing
        )
        if len(selected) < 2:
            return []
        members = [(index, self.similarity("paraphrase"), True) for index in selected]
        kind: DemoClusterKind = "paraphrase_approved"
        if deselect:
            if deselect_candidate is not None and self.rng.random() < 0.5:
                near = deselect_candidate
            else:
                near = self.near_miss(family, meaning, like=self.rng.choice(selected), exclude={meaning})
            if near is not None:
                members.append((near, self.near_miss_similarity(near), False))
                kind = "approved_with_deselected"
        self.rng.shuffle(members)
        self.add_cluster(kind, "approved", members)
        return selected

    def add_near_miss_rejected(
        self, family: ClaimFamily, meaning: Meaning, *, anchor: int | None = None
    ) -> list[int]:
        """A rejected cluster: a statement of ``meaning`` (``anchor`` or new) plus 1-2 near-misses.

        Returns the near-miss members.
        """
        first = anchor if anchor is not None else self.new_insight(family, meaning)
        if first is None:
            return []
        near_misses: list[int] = []
        taken = {meaning}
        for _ in range(self.rng.choice((1, 1, 2))):
            near = self.near_miss(family, meaning, like=first, exclude=taken)
            if near is not None:
                near_misses.append(near)
                taken.add(self.insights[near].meaning)
        if not near_misses:
            return []
        members = [(index, self.near_miss_similarity(index), False) for index in [first, *near_misses]]
        self.add_cluster("near_miss_rejected", "rejected", members)
        return near_misses

    def add_family_clusters(self, family: ClaimFamily, *, second_claim: bool, extra_near_miss: bool) -> None:
        """The clusters of one family: at most 11 insights linked, plus an optional separate group of 3.

        An approved cluster of the canonical claim; a rejected near-miss cluster, usually re-using one of
        its members; optionally an approved cluster of a near-miss claim (often seeded by a near-miss of
        the rejected cluster and deselecting a canonical statement); optionally another rejected cluster.
        """
        canonical = family.canonical_meaning()
        selected = self.add_approved(family, canonical)
        if selected and self.rng.random() < 0.65:
            near_misses = self.add_near_miss_rejected(family, canonical, anchor=self.rng.choice(selected))
        else:
            start = canonical if self.rng.random() < 0.5 else self.vary(family, canonical)
            near_misses = self.add_near_miss_rejected(family, start)
        if second_claim:
            seeds = [index for index in near_misses if self.insights[index].meaning != canonical]
            if seeds and self.rng.random() < 0.75:
                seed: int | None = self.rng.choice(seeds)
                claim = self.insights[seed].meaning
            else:
                seed, claim = None, self.vary(family, canonical)
            self.add_approved(
                family,
                claim,
                seed_member=seed,
                deselect_candidate=self.rng.choice(selected) if selected else None,
            )
        if extra_near_miss:
            start = canonical if self.rng.random() < 0.3 else self.random_meaning(family)
            self.add_near_miss_rejected(family, start)

    def unrelated_members(self, *, size: int, attempts: int = 8) -> list[int]:
        """``size`` (or fewer) new statements of different families sharing one keyword."""
        for _ in range(attempts):
            keyword = self.rng.choice(_SHARED_KEYWORDS)
            families = [family for family in CLAIM_FAMILIES if keyword in family.vocabulary()]
            if len(families) < 2:
                continue
            self.rng.shuffle(families)
            members: list[int] = []
            for family in families:
                index = self.new_insight(family, self.random_meaning(family), keyword=keyword, attempts=30)
                if index is not None:
                    members.append(index)
                if len(members) == size:
                    break
            if len(members) >= 2:
                return members
        return []

    def add_unrelated_rejected(self, count: int) -> None:
        for _ in range(count):
            members = self.unrelated_members(size=self.rng.choice((2, 2, 3)))
            if members:
                similarities = [(index, self.similarity("unrelated"), False) for index in members]
                self.add_cluster("unrelated_rejected", "rejected", similarities)

    def add_conflicts(self, count: int) -> None:
        """Later decisions contradicting earlier ones on the same pair of insights."""
        latest_original = self.window_end - timedelta(days=20)

        def pairs_of(kind: DemoClusterKind, *, selected: bool) -> list[tuple[_DraftCluster, int, int]]:
            found = []
            for cluster in self.clusters:
                if cluster.kind != kind or cluster.decided_at is None or cluster.decided_at > latest_original:
                    continue
                usable = [i for i, _, chosen in cluster.members if chosen == selected]
                if len(usable) >= 2:
                    first, second = self.rng.sample(usable, 2)
                    found.append((cluster, first, second))
            self.rng.shuffle(found)
            return found

        reversals = pairs_of("paraphrase_approved", selected=True)
        merges = pairs_of("near_miss_rejected", selected=False)
        made = 0
        while made < count and (reversals or merges):
            later_rejects = bool(reversals) and (made % 2 == 0 or not merges)
            cluster, first, second = (reversals if later_rejects else merges).pop()
            if max(self.insights[first].cluster_count, self.insights[second].cluster_count) >= (
                MAX_CLUSTERS_PER_INSIGHT
            ):
                continue
            assert cluster.decided_at is not None
            decided_at = self.decision_time(after=cluster.decided_at)
            reviewer = self.reviewer(other_than=cluster.reviewer)
            if later_rejects:
                members = [(i, self.similarity("paraphrase"), False) for i in (first, second)]
                self.add_cluster(
                    "conflicting_decision", "rejected", members, decided_at=decided_at, reviewer=reviewer
                )
            else:
                members = [(i, self.near_miss_similarity(i), True) for i in (first, second)]
                self.add_cluster(
                    "conflicting_decision", "approved", members, decided_at=decided_at, reviewer=reviewer
                )
            made += 1

    def add_pending(self, count: int) -> None:
        for number in range(count):
            family = self.rng.choice(CLAIM_FAMILIES)
            meaning = self.random_meaning(family)
            shape = number % 3
            if shape == 0:
                indexes = self.paraphrases(family, meaning, self.rng.choice((2, 3)))
                members = [(i, self.similarity("paraphrase"), False) for i in indexes]
            elif shape == 1:
                indexes = self.paraphrases(family, meaning, 2)
                members = [(i, self.similarity("paraphrase"), False) for i in indexes]
                near = self.near_miss(family, meaning, like=indexes[0] if indexes else None, exclude=set())
                if near is not None:
                    members.append((near, self.near_miss_similarity(near), False))
            else:
                members = [(i, self.similarity("unrelated"), False) for i in self.unrelated_members(size=2)]
            if len(members) >= 2:
                self.add_cluster("pending", "pending", members)

    def add_unclustered(self, probability: float) -> None:
        """A few insights in no cluster, as a real store holds."""
        for family in CLAIM_FAMILIES:
            if self.rng.random() < probability:
                self.new_insight(family, self.random_meaning(family))

    # -- output -----------------------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        evidence_type = self.rng.choices(EVIDENCE_TYPES, weights=_EVIDENCE_TYPE_WEIGHTS)[0]
        low, high = _CONFIDENCE_RANGE[evidence_type]
        return {
            "confidence": round(self.rng.uniform(low, high), 2),
            "evidence_type": evidence_type,
            "source": _source(self.rng, evidence_type),
        }

    def finish(self) -> _RoundOutput:
        """The round's insights in a shuffled order with their metadata, and its clusters in output order."""
        order = list(range(len(self.insights)))
        self.rng.shuffle(order)
        position = {draft: number for number, draft in enumerate(order)}
        statements = [self.insights[draft].statement for draft in order]
        metadata = [self.metadata() for _ in order]
        decided = sorted(
            (c for c in self.clusters if c.status != "pending"),
            key=lambda cluster: cluster.decided_at or self.window_start,
        )
        pending = [c for c in self.clusters if c.status == "pending"]
        clusters = [
            _DraftCluster(
                c.kind,
                c.status,
                [(position[i], similarity, chosen) for i, similarity, chosen in c.members],
                c.decided_at,
                c.reviewer,
            )
            for c in [*decided, *pending]
        ]
        claims = [f"{self.insights[d].family.name}|{sorted(self.insights[d].meaning)}" for d in order]
        return _RoundOutput(statements, metadata, clusters, claims)


def _assemble(rounds: Sequence[_RoundOutput]) -> tuple[DecisionBatch, dict[str, DemoClusterKind]]:
    """Number the rounds' insights and clusters globally: insights round by round, decided clusters of
    all rounds in ``decided_at`` order (ties keep round order), then every round's pending clusters.

    Ids have four digits for a single round (as the one-round demo always had) and at least five for
    several, so they sort as text.
    """
    total = max(sum(len(r.statements) for r in rounds), sum(len(r.clusters) for r in rounds))
    digits = 4 if len(rounds) == 1 else max(5, len(str(total)))
    insights: list[Insight] = []
    drafts: list[tuple[_DraftCluster, list[str]]] = []
    for output in rounds:
        ids = [f"ins-{len(insights) + number:0{digits}d}" for number in range(1, len(output.statements) + 1)]
        insights.extend(
            Insight(insight_id, statement, metadata)
            for insight_id, statement, metadata in zip(ids, output.statements, output.metadata, strict=True)
        )
        drafts.extend((cluster, ids) for cluster in output.clusters)
    decided = sorted(
        (draft for draft in drafts if draft[0].status != "pending"),
        key=lambda draft: draft[0].decided_at or DECISION_WINDOW_START,
    )
    pending = [draft for draft in drafts if draft[0].status == "pending"]
    clusters: list[MergeCluster] = []
    kinds: dict[str, DemoClusterKind] = {}
    for number, (draft_cluster, ids) in enumerate([*decided, *pending], start=1):
        cluster_id = f"clu-{number:0{digits}d}"
        ranked = sorted(draft_cluster.members, key=lambda member: -member[1])
        members = tuple(ClusterMember(ids[i], similarity, chosen) for i, similarity, chosen in ranked)
        clusters.append(
            MergeCluster(
                cluster_id,
                draft_cluster.status,
                draft_cluster.reviewer,
                draft_cluster.decided_at,
                members,
            )
        )
        kinds[cluster_id] = draft_cluster.kind
    batch = DecisionBatch(insights=tuple(insights), clusters=tuple(clusters))
    _check_invariants(batch)
    return batch, kinds


_CONFIDENCE_RANGE: dict[str, tuple[float, float]] = {
    "meta_analysis": (0.75, 0.99),
    "guideline": (0.75, 0.99),
    "rct": (0.7, 0.97),
    "cohort": (0.6, 0.9),
    "case_control": (0.55, 0.85),
    "expert_opinion": (0.5, 0.75),
}
_JOURNALS = ("BMJ", "JAMA", "The Lancet", "NEJM", "Annals of Internal Medicine", "Pediatrics")


def _source(rng: random.Random, evidence_type: str) -> str:
    """A plausible citation for an insight of ``evidence_type``."""
    year = rng.randint(2008, 2025)
    if evidence_type == "meta_analysis" and rng.random() < 0.5:
        return f"Cochrane review CD{rng.randint(1000, 15999):06d}"
    if evidence_type == "guideline":
        return rng.choice(
            (
                f"NICE guideline NG{rng.randint(5, 245)}",
                f"USPSTF recommendation statement {year}",
                f"WHO guideline {year}",
                f"ADA Standards of Care {year}",
                f"ESC guidelines {year}",
                f"AAP clinical practice guideline {year}",
            )
        )
    if evidence_type == "expert_opinion":
        return rng.choice(
            (
                f"Expert consensus statement, {rng.choice(_JOURNALS)} {year}",
                f"Editorial, {rng.choice(_JOURNALS)} {year}",
                f"Narrative review, {rng.choice(_JOURNALS)} {year}",
            )
        )
    return f"PubMed {rng.randint(1_000_000, 39_999_999)}"


def connected_components(clusters: Iterable[MergeCluster]) -> list[set[str]]:
    """Groups of insight ids linked by sharing a cluster (insights in no cluster are left out)."""
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for cluster in clusters:
        ids = [member.insight_id for member in cluster.members]
        for insight_id in ids:
            parent.setdefault(insight_id, insight_id)
        for insight_id in ids[1:]:
            parent[root(insight_id)] = root(ids[0])
    groups: dict[str, set[str]] = {}
    for node in parent:
        groups.setdefault(root(node), set()).add(node)
    return sorted(groups.values(), key=lambda group: (-len(group), min(group)))


def _check_invariants(batch: DecisionBatch) -> None:
    clusters_per_insight: dict[str, int] = {}
    for cluster in batch.clusters:
        for member in cluster.members:
            clusters_per_insight[member.insight_id] = clusters_per_insight.get(member.insight_id, 0) + 1
    if max(clusters_per_insight.values()) > MAX_CLUSTERS_PER_INSIGHT:
        raise RuntimeError("an insight is in more demo clusters than allowed; check the generator")
    if len(connected_components(batch.clusters)[0]) > MAX_COMPONENT_SIZE:
        raise RuntimeError("a connected component of demo clusters is too large; check the generator")
    if len({_normalised(insight.statement) for insight in batch.insights}) != len(batch.insights):
        raise RuntimeError("two demo insights have the same statement; check the generator")


def round_seed(seed: int, round_number: int) -> int:
    """The seed of review round ``round_number`` (from 0): ``seed`` itself for the first round, so one
    round is exactly the single-round demo, then ``seed * 1000 + round_number``."""
    return seed if round_number == 0 else seed * 1000 + round_number


def _round_window(round_number: int, rounds: int) -> tuple[datetime, datetime]:
    """Round ``round_number``'s equal share of the decision window (the whole window for one round)."""
    span = int((DECISION_WINDOW_END - DECISION_WINDOW_START).total_seconds())
    return (
        DECISION_WINDOW_START + timedelta(seconds=span * round_number // rounds),
        DECISION_WINDOW_START + timedelta(seconds=span * (round_number + 1) // rounds),
    )


def _generate_round(seed: int, *, taken: set[str], window: tuple[datetime, datetime]) -> _RoundOutput:
    builder = _DemoBuilder(seed, taken=taken, window_start=window[0], window_end=window[1])
    families = list(CLAIM_FAMILIES)
    with_second_claim = set(builder.rng.sample(range(len(families)), round(0.55 * len(families))))
    with_extra_near_miss = set(builder.rng.sample(range(len(families)), round(0.3 * len(families))))
    for number, family in enumerate(families):
        builder.add_family_clusters(
            family,
            second_claim=number in with_second_claim,
            extra_near_miss=number in with_extra_near_miss,
        )
    builder.add_unrelated_rejected(builder.rng.randint(32, 38))
    builder.add_conflicts(builder.rng.randint(4, 5))
    builder.add_pending(PENDING_CLUSTER_COUNT)
    builder.add_unclustered(0.45)
    return builder.finish()


def generate_demo_decisions_with_kinds(
    *, seed: int = 7, rounds: int = DEFAULT_ROUNDS
) -> tuple[DecisionBatch, dict[str, DemoClusterKind]]:
    """Like :func:`generate_demo_decisions`, plus each cluster id's kind (see :data:`DEMO_CLUSTER_KINDS`)."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    taken: set[str] = set()
    outputs = [
        _generate_round(round_seed(seed, number), taken=taken, window=_round_window(number, rounds))
        for number in range(rounds)
    ]
    return _assemble(outputs)


def demo_claims(*, seed: int = 7, rounds: int = DEFAULT_ROUNDS) -> dict[str, str]:
    """The claim behind each demo insight (by id): insights with the same claim are true duplicates — the
    ground truth the generator knows, beyond what reviewers decided (the rounds never cluster together the
    paraphrases they share). For benchmarks of candidate retrieval.

    Example:
        >>> claims = demo_claims(seed=7, rounds=1)
        >>> len(claims) == len(generate_demo_decisions(seed=7, rounds=1).insights)
        True
    """
    taken: set[str] = set()
    outputs = [
        _generate_round(round_seed(seed, number), taken=taken, window=_round_window(number, rounds))
        for number in range(rounds)
    ]
    batch, _ = _assemble(outputs)
    every = [claim for output in outputs for claim in output.claims]
    return {insight.id: claim for insight, claim in zip(batch.insights, every, strict=True)}


def generate_demo_decisions(*, seed: int = 7, rounds: int = DEFAULT_ROUNDS) -> DecisionBatch:
    """Demo insights and reviewer decisions on proposed merges; the same ``seed`` and ``rounds`` give the
    same batch, and ``rounds=1`` gives the single-round demo.

    Insights are ``ins-00001``... (``ins-0001``... for one round), round by round; clusters ``clu-00001``...
    with the decided clusters of all rounds in ``decided_at`` order followed by the pending ones. See the
    module docstring for the rounds, the kinds of clusters, the conflicting decisions and the size limits.
    """
    batch, _ = generate_demo_decisions_with_kinds(seed=seed, rounds=rounds)
    return batch
