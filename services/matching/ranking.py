"""Sponsor ranking: how well an idea fits each sponsor, and why, in words a person reads.

`rank(idea, candidates)` is pure (no database). A full sponsor (load >= capacity) is never ranked: it comes
back in `skipped` with the reason. The others are scored on four parts, weighted below: the fit of the
idea's words to the sponsor's interests and themes (BM25 over the candidates' profiles, after folding word
endings and public-service synonyms), the idea's theme being one of the sponsor's, the same department, and
the share of places free. The measured quality is in bench/matching_quality.py and docs/matching.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

# The score is a weighted sum of parts that are each 0..1, so it is 0..1 too.
# Fit leads: what the idea is about decides who should sponsor it.
W_FIT = 0.6
# A theme the submitter chose that the sponsor also chose is one deliberate signal on each side.
W_THEME = 0.2
# Same department helps (the sponsor knows the service and holds its budget), but less than a clear gap in
# fit: an idea about bins raised by a housing officer still belongs with the waste sponsor.
W_DEPARTMENT = 0.12
# Spare capacity spreads the work, but only breaks near-ties: a better fit with one place left still wins.
W_CAPACITY = 0.08

# Title words say what the idea is about more than the rest; the theme is a word or two the submitter chose.
TITLE_WEIGHT = 2.0
TEXT_WEIGHT = 1.0
THEME_WEIGHT = 1.0

# BM25: a word's weight in a profile saturates with repetition (K1), and long profiles are discounted a
# little (B), so a sponsor who lists everything does not match everything.
K1 = 1.2
B = 0.5

MAX_TERMS_SHOWN = 5


@dataclass(frozen=True)
class IdeaText:
    title: str
    problem: str
    idea: str
    theme: str | None
    department: str | None


@dataclass(frozen=True)
class Candidate:
    sponsor_id: int
    name: str
    department: str | None
    themes: str | None  # comma separated, as stored in people.themes
    interests: str  # free text
    capacity: int  # incubations they can run at once
    load: int  # incubations running now


@dataclass(frozen=True)
class Ranked:
    sponsor_id: int
    name: str
    score: float  # 0..1, rounded to 4 places
    reasons: list[str]  # plain English, shown to the sponsor ("why you") and to administrators


@dataclass(frozen=True)
class Skipped:
    sponsor_id: int
    name: str
    reason: str


@dataclass(frozen=True)
class Ranking:
    ranked: list[Ranked]  # best first; ties broken by sponsor_id
    skipped: list[Skipped]  # full sponsors, never offered


# --- words ---------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W_]+(?:[&'’][^\W_]+)*")

_STOP = frozenset(
    """a about above across after again against all almost also although always am among an and another any
    anyone anything are around as at away back be because been before being below between both but by can
    cannot could did do does doing done down during each either else enough etc even ever every everyone
    everything few for from further get gets getting go goes going got had has have having he her here hers
    herself him himself his how however i if in into is isn it its itself just keen least less let lot lots
    made make makes many may me might mine more most much must my myself neither no nor not now of off often
    on once one ones only onto or other others our ours ourselves out over own per please quite rather
    really same she should so some someone something sometimes still such than that the their theirs them
    themselves then there these they thing things this those though through thus to too under until up upon
    us very via want wants was way ways we well were what whatever when where whether which while who whom
    whose why will with within without would yet you your yours yourself idea ideas interest interested
    interests especially particularly particular don't can't won't isn't doesn't didn't aren't wasn't
    couldn't wouldn't shouldn't i'm we're they're it's that's there's we've i've""".split()
)

# Everyday words that any idea or profile may use. IDF over a handful of profiles cannot know they are
# common (one sponsor writing "first time" makes "time" rare), so the idea's own use of them counts for
# nothing. They still take part in phrases ("waiting time").
_GENERAL = frozenset(
    """time day week month year people person first last long new way work help use need take make put place
    part end ask find give keep come go see know think look tell try leave start stop run staff council
    service team big large small little good bad great high low old full""".split()
)

# Words whose -ed or -ing form means something else than their stem (parking is not a park; time wasted is
# not waste).
_UNSTEMMED = frozenset("parking building evening morning during nothing hearing wasted wasting".split())

_DOUBLE = re.compile(r"([b-df-hj-km-np-rtv-y])\1$")  # a doubled consonant other than l, s, z
_VOWEL = re.compile(r"[aeiouy]")
_AMERICAN = re.compile(r"iz(e|ed|es|ing|ation|ations)$")

# Derivational endings, longest first: (ending, replacement). Each pass removes one, leaving four letters.
_DERIVED = (
    ("isation", "is"),
    ("ation", ""),
    ("ness", ""),
    ("ment", ""),
    ("ance", ""),
    ("ence", ""),
    ("able", ""),
    ("tion", "t"),
    ("sion", "s"),
    ("ive", ""),
    ("ant", ""),
    ("ly", ""),
    ("er", ""),
    ("al", ""),
)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English stemmer: plural, -ed, -ing and a dozen derivational endings, so that `appointments`,
    `appointed` and `appointment` meet. Stems need not be words; only equality between them matters."""
    word = word.replace("’", "'").removesuffix("'s").removesuffix("'")
    if len(word) <= 3 or not word.isalpha():
        return word
    word = _inflection(_AMERICAN.sub(r"is\1", word))
    if word in _UNSTEMMED:
        return word
    for _ in range(2):  # educational -> education -> educ
        for ending, replacement in _DERIVED:
            root = word[: -len(ending)]
            if word.endswith(ending) and len(root) >= 4:
                word = _DOUBLE.sub(r"\1", root + replacement)
                break
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


def _inflection(word: str) -> str:
    """Without a plural -s or -es, then without -ed or -ing (the root keeps four letters and a vowel)."""
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses") or word.endswith(("ches", "shes", "xes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word in _UNSTEMMED:
        return word
    if word.endswith("ied") and len(word) > 4:
        return word[:-3] + "y"
    for ending in ("ing", "ed"):
        root = word[: -len(ending)]
        if word.endswith(ending) and len(root) >= 4 and _VOWEL.search(root):
            return _DOUBLE.sub(r"\1", root)
    return word


# Each line: a canonical term, then the words and phrases that mean the same to a sponsor. Matching is on
# stems, so one form of each word is enough. Canonical terms are upper case, so they never equal a stem.
_GROUPS = """
GP: GP, doctor, general practice, general practitioner, surgery, clinic, health centre, primary care
EMERGENCY: A&E, accident and emergency, emergency department, emergency, casualty
HOSPITAL: hospital, ward, infirmary, inpatient, outpatient
WAITLIST: waiting list, waiting time, wait time, backlog
MENTAL: mental health, mental illness, anxiety, depression, wellbeing
MEDICINE: medicine, medication, prescription, pharmacy, pharmacist, chemist, tablet
AMBULANCE: ambulance, paramedic
CARE: carer, caring, social care, care home, home care, care package, domiciliary care, care worker
OLDER: older people, older person, elderly, pensioner
HOMELESS: homeless, homelessness, rough sleeping, rough sleeper, sleeping rough, temporary accommodation, \
hostel, night shelter, bed and breakfast, B&B
TENANT: tenant, tenancy, renter, leaseholder
DAMP: damp, mould, mold, condensation
VOID: void, empty home, empty property, vacant, relet
ARREARS: arrears, debt, owe, overdue payment
BENEFIT: benefit, claim, claimant, universal credit, UC, housing benefit, PIP, personal independence payment, \
ESA, JSA, jobseeker's allowance, welfare, entitlement
COUNCIL_TAX: council tax, business rates, ctax
EMPLOYMENT: employment, unemployed, unemployment, jobcentre, job centre, work coach
FOOD: food bank, foodbank, food parcel, food poverty, hunger
HARDSHIP: poverty, hardship, cost of living
ROAD: pothole, road, carriageway, highway, road defect, resurfacing, street works, roadworks
PAVEMENT: pavement, footway, footpath, sidewalk
BUS: bus, buses, public transport, transport, tram, bus stop, minibus
PARKING: parking, car park, parking permit, blue badge, parking enforcement
CYCLING: cycling, cycle, bike, bicycle, cyclist, cycle lane
CONGESTION: traffic, congestion, rush hour
STREETLIGHT: street light, street lighting, streetlight, lamp post
VEHICLE: car, vehicle, van, motorist, fleet
COURT: court, tribunal, hearing, magistrate, crown court, judge
PRISON: prison, prisoner, jail, custody, inmate, young offender institution
OFFENDER: offender, offending, reoffending, probation, parole
CRIME: crime, criminal, offence
ANTISOCIAL: antisocial behaviour, anti social behaviour, ASB, nuisance neighbour
POLICE: police, policing, PCSO, police community support officer, constable
LEGAL: legal aid, lawyer, solicitor, barrister
DOMESTIC_ABUSE: domestic abuse, domestic violence
SAFEGUARDING: safeguarding, child protection, exploitation, grooming, neglect
WASTE: bin, refuse, waste, recycling, rubbish, landfill, garbage, trash, bin collection, wheelie bin
LITTER: litter, street cleaning, fly tipping, flytipping, dumping, graffiti
GREEN_SPACE: green space, open space, playground, allotment, public park
CLIMATE: climate, carbon, net zero, decarbonisation, emissions
AIR: air quality, pollution, fumes
ENERGY: energy, heating, insulation, fuel poverty, boiler, solar panel
FLOOD: flood, flooding, drainage, drain, gully
SCHOOL: school, pupil, education, classroom, teacher, headteacher, student, primary school, secondary school
SEND: special educational needs, SEN, EHCP, education health and care plan
ATTENDANCE: attendance, absence, truancy, absent, persistent absence
EARLY_YEARS: childcare, nursery, early years, preschool
CHILD: child, children, kid, youngster, young people, young person, youth, teenager
FAMILY: family, parent, guardian
ONLINE: online, digital, website, web, portal, app, self service, internet, web form
FORM: form, paperwork, paper form
EMAIL: email, inbox, mailbox
TEXT_MESSAGE: text message, SMS, texting, text reminder
PHONE: phone, telephone, call, helpline, call centre, contact centre, switchboard
DATA: data, database, spreadsheet, dataset, dashboard
AUTOMATION: automate, automation, automatic, automatically, robotic process automation, RPA, chatbot, bot
AI: artificial intelligence, AI, machine learning
TECHNOLOGY: software, computer, laptop, technology, tech, IT system, device
PROCUREMENT: procurement, purchasing, supplier, tender, contractor
FINANCE: invoice, finance, payroll, accounts payable, expenses, purchase order
RECRUITMENT: recruitment, recruit, hiring, human resources, HR, onboarding, new starter, vacancy
LETTER: letter, postage, envelope
INTERPRETER: interpreter, translation, translate, language barrier, ESOL
DISABILITY: disability, disabled, wheelchair, accessibility
VOLUNTEER: volunteer, volunteering, community group, charity, voluntary sector
LONELINESS: loneliness, lonely, isolation, isolated
"""

# Acronyms that are common words in lower case: only their upper-case spelling carries the meaning.
_CASED = {"SEND": "SEND", "IT": "TECHNOLOGY"}


# A word as written -> its stem ("" for a stop word): one look-up a word. Shared by a worker's threads: a
# dict's get and set are atomic, and two threads that miss at once store the same value.
_WORDS: dict[str, str] = {}
_MAX_WORDS = 200_000


def _word_stem(word: str) -> str:
    if word in _CASED:
        return _CASED[word]
    lower = word.lower().replace("’", "'")
    return "" if len(lower) < 2 or lower in _STOP else stem(lower)


def _stems(text: str) -> list[tuple[str, int, int]]:
    """(stem, start, end) of each word that is not a stop word, in order."""
    out = []
    for match in _TOKEN.finditer(text):
        word = match.group()
        key = _WORDS.get(word)
        if key is None:
            if len(_WORDS) >= _MAX_WORDS:
                _WORDS.clear()
            key = _WORDS[word] = _word_stem(word)
        if key:
            out.append((key, *match.span()))
    return out


def _vocabulary() -> dict[tuple[str, ...], str]:
    table: dict[tuple[str, ...], str] = {}
    for line in _GROUPS.replace("\\\n", "").strip().splitlines():
        canonical, members = line.split(":", 1)
        for member in members.split(","):
            key = tuple(s for s, *_ in _stems(member))
            if not key or table.setdefault(key, canonical) != canonical:
                raise ValueError(f"synonym {member.strip()!r} of {canonical} is empty or in another group")
    if unknown := set(_CASED.values()) - set(table.values()):
        raise ValueError(f"acronyms map to terms that are not synonym groups: {sorted(unknown)}")
    return table


_VOCABULARY = _vocabulary()
_GENERAL_STEMS = frozenset(stem(word) for word in _GENERAL)
_SYNONYMS = {key[0]: canonical for key, canonical in _VOCABULARY.items() if len(key) == 1}
_PHRASES = {key: canonical for key, canonical in _VOCABULARY.items() if len(key) > 1}
_PHRASE_LENGTHS: dict[str, int] = {}  # first stem -> the longest phrase starting with it
for _key in _PHRASES:
    _PHRASE_LENGTHS[_key[0]] = max(_PHRASE_LENGTHS.get(_key[0], 0), len(_key))


class _Term(NamedTuple):
    key: str  # a stem or a canonical synonym
    start: int  # where it is written in the text
    end: int


@lru_cache(maxsize=8192)
def terms(text: str) -> tuple[_Term, ...]:
    """The text's terms: stems, with known phrases and synonyms folded into their canonical term."""
    stems = _stems(text)
    keys = [key for key, _, _ in stems]
    out: list[_Term] = []
    i = 0
    while i < len(stems):
        for n in range(min(_PHRASE_LENGTHS.get(keys[i], 0), len(stems) - i), 1, -1):
            canonical = _PHRASES.get(tuple(keys[i : i + n]))
            if canonical:
                out.append(_Term(canonical, stems[i][1], stems[i + n - 1][2]))
                i += n
                break
        else:
            key, start, end = stems[i]
            key = _SYNONYMS.get(key, key)
            if out and out[-1].key == key and key.isupper():  # "phone call", "rubbish bin": one thing said twice
                out[-1] = _Term(key, out[-1].start, end)
            else:
                out.append(_Term(key, start, end))
            i += 1
    return tuple(out)


def clear_caches() -> None:
    """Forget every text analysed so far, as in a new process (for measuring a cold start)."""
    _WORDS.clear()
    stem.cache_clear()
    terms.cache_clear()
    _profile.cache_clear()


# --- scoring -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Profile:
    text: str  # interests, then themes: what the terms' positions point into
    themes_from: int  # where the themes start in `text`
    counts: dict[str, int]
    length: int
    occurrences: dict[str, tuple[_Term, ...]]
    themes: tuple[tuple[str, tuple[str, ...]], ...]  # each theme as written, and its terms


@lru_cache(maxsize=4096)
def _profile(interests: str, themes: str | None) -> _Profile:
    # " | " keeps a phrase from running from the last interest into the first theme.
    text = f"{interests} | {themes or ''}"
    found = terms(text)
    counts: dict[str, int] = {}
    occurrences: dict[str, list[_Term]] = {}
    for term in found:
        counts[term.key] = counts.get(term.key, 0) + 1
        occurrences.setdefault(term.key, []).append(term)
    written = [theme.strip() for theme in (themes or "").split(",") if theme.strip()]
    return _Profile(
        text=text,
        themes_from=len(interests) + 3,
        counts=counts,
        length=len(found),
        occurrences={key: tuple(found) for key, found in occurrences.items()},
        themes=tuple((theme, tuple(t.key for t in terms(theme))) for theme in written),
    )


def _query(idea: IdeaText) -> dict[str, float]:
    weights: dict[str, float] = {}
    for text, weight in (
        (idea.title, TITLE_WEIGHT),
        (idea.problem, TEXT_WEIGHT),
        (idea.idea, TEXT_WEIGHT),
        (idea.theme or "", THEME_WEIGHT),
    ):
        for term in terms(text):
            if term.key in _GENERAL_STEMS:
                continue
            weights[term.key] = weights.get(term.key, 0.0) + weight
    return weights


def _theme_matched(idea_theme: str | None, profile: _Profile) -> str | None:
    """The sponsor's theme that is the idea's, as the sponsor wrote it: equal ignoring case, or the same
    terms (`Roads` and `road`, `Bins` and `Waste`)."""
    if not idea_theme or not idea_theme.strip():
        return None
    wanted = idea_theme.strip().casefold()
    wanted_terms = tuple(t.key for t in terms(idea_theme))
    for theme, theme_terms in profile.themes:
        if theme.casefold() == wanted or (wanted_terms and theme_terms == wanted_terms):
            return theme
    return None


def _same(a: str | None, b: str | None) -> bool:
    return bool(a and b and a.strip().casefold() == b.strip().casefold())


@dataclass(frozen=True)
class _Scored:
    candidate: Candidate
    fit: float
    contributions: dict[str, float]  # term -> its part of the fit
    theme: str | None
    same_department: bool

    @property
    def without_capacity(self) -> float:
        return W_FIT * self.fit + W_THEME * (self.theme is not None) + W_DEPARTMENT * self.same_department


def _score(idea: IdeaText, candidates: Sequence[Candidate]) -> list[_Scored]:
    profiles = [_profile(c.interests, c.themes) for c in candidates]
    query = _query(idea)
    n = len(profiles)
    average_length = sum(p.length for p in profiles) / n if n else 0.0
    idf: dict[str, float] = {}
    for key in query:
        df = sum(1 for p in profiles if key in p.counts)
        if df:  # a word no sponsor uses tells them apart no better than silence
            idf[key] = math.log(1 + (n - df + 0.5) / (df + 0.5))
    # The fit is the share of what a perfect profile would score: every idea word any sponsor uses, often.
    best_possible = sum(query[key] * weight * (K1 + 1) for key, weight in idf.items())
    scored = []
    for candidate, profile in zip(candidates, profiles, strict=True):
        contributions = {}
        norm = K1 * (1 - B + B * profile.length / average_length) if average_length else K1
        for key, weight in idf.items():
            tf = profile.counts.get(key, 0)
            if tf:
                contributions[key] = query[key] * weight * tf * (K1 + 1) / (tf + norm) / best_possible
        scored.append(
            _Scored(
                candidate,
                fit=min(sum(contributions.values()), 1.0),
                contributions=contributions,
                theme=_theme_matched(idea.theme, profile),
                same_department=_same(idea.department, candidate.department),
            )
        )
    return scored


def rank(idea: IdeaText, candidates: Sequence[Candidate]) -> Ranking:
    """Sponsors with a free place, best fit first, each with its reasons; full sponsors in `skipped`."""
    scored = _score(idea, candidates)
    free = [s for s in scored if _places_free(s.candidate) > 0]
    full = [s for s in scored if _places_free(s.candidate) <= 0]
    ranked = sorted(
        (Ranked(s.candidate.sponsor_id, s.candidate.name, round(_total(s), 4), _reasons(idea, s)) for s in free),
        key=lambda r: (-r.score, r.sponsor_id),
    )
    if ranked and full:
        first = next(s for s in free if s.candidate.sponsor_id == ranked[0].sponsor_id)
        better = max(full, key=lambda s: (s.without_capacity, -s.candidate.sponsor_id))
        if better.without_capacity > first.without_capacity:
            ranked[0].reasons.append(f"{better.candidate.name} fits better but has no places free")
    skipped = [
        Skipped(s.candidate.sponsor_id, s.candidate.name, _full_reason(s.candidate))
        for s in sorted(full, key=lambda s: s.candidate.sponsor_id)
    ]
    return Ranking(ranked=ranked, skipped=skipped)


def _places_free(c: Candidate) -> int:
    return c.capacity - max(c.load, 0)


def _total(s: _Scored) -> float:
    c = s.candidate
    return s.without_capacity + W_CAPACITY * _places_free(c) / c.capacity


def _full_reason(c: Candidate) -> str:
    if c.capacity <= 0:
        return "no places free (takes on no incubations)"
    if c.load == c.capacity:
        return f"no places free ({c.load} of {c.capacity} incubations running)"
    return f"no places free ({c.load} incubations running, {c.capacity} places)"


def _reasons(idea: IdeaText, s: _Scored) -> list[str]:
    c = s.candidate
    reasons = []
    shown = _matched_words(s)
    if shown:
        reasons.append(f"your interests match: {', '.join(shown)}")
    elif not s.contributions:
        reasons.append("no shared interests with the idea")
    if s.theme is not None:
        theme = idea.theme.strip() if idea.theme else s.theme
        also = "" if theme.casefold() == s.theme.casefold() else f" ({s.theme})"
        reasons.append(f"the idea's theme, {theme}, is one of yours{also}")
    if not idea.department or not idea.department.strip():
        reasons.append("the idea names no department")
    else:
        reasons.append(f"{'same' if s.same_department else 'another'} department ({idea.department.strip()})")
    reasons.append(f"{_places_free(c)} of {c.capacity} places free")
    return reasons


def _matched_words(s: _Scored) -> list[str]:
    """The sponsor's own words for the matched terms, most telling first, at most MAX_TERMS_SHOWN."""
    profile = _profile(s.candidate.interests, s.candidate.themes)
    # A term found only in the theme the idea shares has a reason of its own.
    theme_keys = {k for theme, keys in profile.themes if theme == s.theme for k in keys}
    shown = []
    for key in sorted(s.contributions, key=lambda k: -s.contributions[k]):
        found = profile.occurrences[key]
        in_interests = [t for t in found if t.start < profile.themes_from]
        if in_interests or key not in theme_keys:
            where = (in_interests or found)[0]
            shown.append(_as_written(profile.text[where.start : where.end]))
    return shown[:MAX_TERMS_SHOWN]


def _as_written(words: str) -> str:
    """Lower case unless capitals mean something beyond the first letter (GP, A&E, Universal Credit)."""
    return words if any(ch.isupper() for ch in words[1:]) else words.lower()
