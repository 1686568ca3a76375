"""Idea text for the benchmarks: real public-service words and made-up ones, drawn with Zipf-like weights.

Unrelated ideas share common words as real ones do (their word similarity is mostly 0.05 to 0.2), and
`reworded` makes the near-copies a duplicate search must find.
"""

from __future__ import annotations

import itertools
import random

GENERAL = """staff time process form paper online system service public resident customer office team manager
data record appointment waiting queue phone call email letter cost budget saving money hour week month day year
people person family case caseworker application request delay backlog training guidance policy rule information
website portal app digital text message reminder visit home travel journey desk reception frontline shift rota
overtime sickness absence meeting report check approval signature printing printer scanning post envelope stamp
volunteer partner council local community support advice help problem complaint feedback survey quality safety
risk audit compliance contract supplier equipment vehicle fuel energy heating lighting building room space parking
car bus reduce improve replace automate share move allow send book track cut simplify combine remove add publish
train switch give use create""".split()
DEPARTMENTS = {
    "Health": """patient nurse doctor ward clinic prescription hospital discharge bed surgery pharmacy referral
    outpatient triage ambulance vaccine vaccination screening mental therapy carer""".split(),
    "Housing": """tenant repair rent arrears landlord property damp mould boiler void allocation homeless estate
    lease inspection flat kitchen bathroom""".split(),
    "Benefits": """claim claimant payment entitlement eligibility assessment evidence award overpayment appeal
    benefit allowance credit universal pension debt""".split(),
    "Justice": """court hearing probation prison offender victim witness magistrate sentence legal solicitor bail
    custody tribunal listing""".split(),
    "Transport": """road pothole traffic signal junction cycle cycling lane pedestrian crossing timetable route
    station ticket permit congestion bridge""".split(),
    "Other": """library school pupil park waste recycling bin collection licence planning grant museum leisure
    pool""".split(),
}
FILLER = "the a to of and for in on with that this we our is are be can would will by at from it they when".split()
SYLLABLES = "ba be bi bo ka ke ki ko ra re ri ro sa se si so ta te ti to na ne ni no la le li lo ma me mi mo".split()


class Texts:
    """Idea text from a vocabulary: a department's words, general words and a long tail, Zipf-weighted."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        made_up = self._made_up(6000 + 400 * len(DEPARTMENTS))
        self.tail = made_up[:6000]
        self.by_department = {
            department: words + made_up[6000 + 400 * i : 6400 + 400 * i]
            for i, (department, words) in enumerate(DEPARTMENTS.items())
        }

        def zipf(n: int, s: float = 1.0) -> list[float]:
            return list(itertools.accumulate(1 / (i + 1) ** s for i in range(n)))

        self.tail_weights = zipf(len(self.tail))
        self.general_weights = zipf(len(GENERAL), 0.8)
        self.department_weights = {d: zipf(len(w)) for d, w in self.by_department.items()}

    def _made_up(self, count: int) -> list[str]:
        words: dict[str, None] = {}
        while len(words) < count:
            words["".join(self.rng.choice(SYLLABLES) for _ in range(self.rng.randint(3, 4)))] = None
        return list(words)

    def word(self, department: str) -> str:
        roll = self.rng.random()
        if roll < 0.25:
            pool, weights = self.by_department[department], self.department_weights[department]
        elif roll < 0.6:
            pool, weights = GENERAL, self.general_weights
        else:
            pool, weights = self.tail, self.tail_weights
        return self.rng.choices(pool, cum_weights=weights)[0]

    def sentence(self, department: str) -> str:
        out = []
        for _ in range(self.rng.randint(6, 12)):
            if self.rng.random() < 0.45:
                out.append(self.rng.choice(FILLER))
            out.append(self.word(department))
        return " ".join(out).capitalize() + "."

    def idea(self) -> tuple[str, str, str, str]:
        department = self.rng.choice(list(DEPARTMENTS))
        title = " ".join(self.word(department) for _ in range(self.rng.randint(4, 8))).capitalize()
        problem = " ".join(self.sentence(department) for _ in range(self.rng.randint(2, 4)))
        proposal = " ".join(self.sentence(department) for _ in range(self.rng.randint(2, 4)))
        return department, title, problem, proposal

    def reworded(self, idea: tuple[str, str, str, str], change: float) -> tuple[str, str, str, str]:
        """A copy with a share of its words replaced or dropped, a few added, and sentences reordered."""
        department = idea[0]

        def rework(text: str) -> str:
            out = []
            for token in text.split():
                roll = self.rng.random()
                if roll < change:
                    out.append(self.word(department))
                elif roll >= change + 0.05:
                    out.append(token)
                if self.rng.random() < 0.03:
                    out.append(self.word(department))
            return " ".join(out) or "idea"

        sentences = idea[3].split(". ")
        self.rng.shuffle(sentences)
        return department, rework(idea[1]), rework(idea[2]), rework(". ".join(sentences))
