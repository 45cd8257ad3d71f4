"""Variable names for generated problems: fake words, real-world stories, random mixes, and
anti-commonsense pairings.

A *story* is a list of real-world variables in a plausible causal order (earlier ones can cause later
ones) with the words for their two values (value 0 first). Generated DAGs are topologically ordered
0..n-1, so mapping a story's variables onto nodes in order gives edges that respect common sense
(mode ``real``); reversing the story makes effects cause their causes (``anticommonsense``); drawing
variables from all stories at random gives nonsense structure with real words (``random``); ``fake``
uses meaningless letter strings with the values low/high, as CaLM's FAKE mode does.

The stories are written for whygym.
"""

from __future__ import annotations

import random as _random

__all__ = ["STORIES", "NAME_MODES", "fake_word", "assign_names"]

NAME_MODES = ("fake", "real", "random", "anticommonsense")

# (name, word for value 0, word for value 1); each story in causal order.
STORIES: dict[str, list[tuple[str, str, str]]] = {
    "health": [
        ("genetic predisposition", "low", "high"), ("age", "young", "old"),
        ("smoking", "no", "yes"), ("diet quality", "poor", "good"),
        ("amount of exercise", "low", "high"), ("body weight", "normal", "high"),
        ("blood pressure", "low", "high"), ("cholesterol level", "low", "high"),
        ("stress level", "low", "high"), ("heart disease", "absent", "present"),
        ("hospital visits", "few", "many"), ("life expectancy", "short", "long"),
    ],
    "agriculture": [
        ("season", "dry", "wet"), ("temperature", "cold", "hot"),
        ("amount of rainfall", "small", "large"), ("soil moisture level", "low", "high"),
        ("use of fertilizer", "no", "yes"), ("pest population", "small", "large"),
        ("crop growth", "slow", "fast"), ("crop yield", "low", "high"),
        ("harvest quality", "poor", "good"), ("farm income", "low", "high"),
        ("food prices", "low", "high"), ("farmer satisfaction", "low", "high"),
    ],
    "education": [
        ("parents' income", "low", "high"), ("parents' education level", "low", "high"),
        ("access to books", "limited", "ample"), ("school quality", "poor", "good"),
        ("study time", "short", "long"), ("class attendance", "low", "high"),
        ("understanding of the material", "weak", "strong"), ("exam score", "low", "high"),
        ("graduation", "no", "yes"), ("job offers", "few", "many"),
        ("income level", "low", "high"), ("life satisfaction", "low", "high"),
    ],
    "business": [
        ("market demand", "low", "high"), ("investment in advertising", "low", "high"),
        ("brand awareness", "low", "high"), ("number of website visits", "low", "high"),
        ("product price", "low", "high"), ("number of orders", "few", "many"),
        ("sales revenue", "low", "high"), ("profit", "low", "high"),
        ("employee bonuses", "small", "large"), ("employee motivation", "low", "high"),
        ("customer satisfaction", "low", "high"), ("stock price", "low", "high"),
    ],
    "weather": [
        ("air pressure", "low", "high"), ("cloud cover", "thin", "thick"),
        ("humidity level", "low", "high"), ("rainfall", "light", "heavy"),
        ("river level", "low", "high"), ("flood risk", "low", "high"),
        ("road conditions", "good", "bad"), ("traffic congestion", "low", "high"),
        ("commute time", "short", "long"), ("accident rate", "low", "high"),
        ("emergency calls", "few", "many"), ("insurance claims", "few", "many"),
    ],
    "disease": [
        ("exposure to a contagious disease", "no", "yes"), ("vaccination", "no", "yes"),
        ("infection", "no", "yes"), ("fever", "no", "yes"), ("symptoms of the disease", "mild", "severe"),
        ("seeking medical attention", "no", "yes"), ("receiving appropriate treatment", "no", "yes"),
        ("recovery speed", "slow", "fast"), ("days off work", "few", "many"),
        ("recovery from the disease", "no", "yes"),
    ],
    "transport": [
        ("fuel cost", "low", "high"), ("availability of public transportation", "limited", "abundant"),
        ("number of cars on the road", "few", "many"), ("air pollution", "low", "high"),
        ("respiratory illness", "rare", "common"), ("hospital admissions", "few", "many"),
        ("health spending", "low", "high"), ("public budget deficit", "small", "large"),
    ],
    "workplace": [
        ("talent", "low", "high"), ("training received", "little", "much"),
        ("skill level", "low", "high"), ("job satisfaction", "low", "high"),
        ("employee performance", "low", "high"), ("promotion", "no", "yes"),
        ("salary", "low", "high"), ("work-life balance", "poor", "good"),
        ("mental health", "poor", "good"), ("staff turnover", "low", "high"),
    ],
    "energy": [
        ("sunlight hours", "few", "many"), ("solar panel output", "low", "high"),
        ("electricity supply", "short", "ample"), ("electricity price", "low", "high"),
        ("factory production", "low", "high"), ("industrial emissions", "low", "high"),
        ("air quality", "good", "bad"), ("asthma attacks", "rare", "frequent"),
        ("school absences", "few", "many"), ("test scores", "low", "high"),
    ],
    "sleep": [
        ("caffeine intake", "low", "high"), ("screen time before bed", "short", "long"),
        ("sleep quality", "poor", "good"), ("hours of sleep", "few", "many"),
        ("daytime alertness", "low", "high"), ("reaction time", "fast", "slow"),
        ("productivity", "low", "high"), ("mood", "bad", "good"),
        ("social activity", "low", "high"),
    ],
    "ecology": [
        ("water temperature", "cold", "warm"), ("algae growth", "low", "high"),
        ("oxygen level", "low", "high"), ("fish population", "small", "large"),
        ("bird population", "small", "large"), ("tourism", "low", "high"),
        ("local income", "low", "high"), ("conservation funding", "low", "high"),
    ],
    "housing": [
        ("interest rate", "low", "high"), ("mortgage approvals", "few", "many"),
        ("housing demand", "low", "high"), ("house prices", "low", "high"),
        ("construction activity", "low", "high"), ("rent level", "low", "high"),
        ("household savings", "low", "high"), ("consumer spending", "low", "high"),
        ("unemployment rate", "low", "high"),
    ],
}

def fake_word(rng: _random.Random, length: int = 4) -> str:
    """A meaningless lower-case word like CaLM's FAKE names (``smku``, ``arbu``)."""
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(length))


def assign_names(n: int, mode: str, rng: _random.Random) -> tuple[list[str], list[tuple[str, str]], str]:
    """Names and value words for nodes ``0..n-1`` (a topological order).

    Returns ``(names, values, story)`` where ``values[i] = (word for 0, word for 1)`` and ``story`` is
    the story used ("" for fake/random). Raises ``ValueError`` for an unknown mode or when no story
    has ``n`` variables.
    """
    if mode == "fake":
        names: list[str] = []
        while len(names) < n:
            w = fake_word(rng)
            if w not in names:
                names.append(w)
        return names, [("low", "high")] * n, ""
    if mode in ("real", "anticommonsense"):
        fitting = [k for k, v in STORIES.items() if len(v) >= n]
        if not fitting:
            longest = max(len(v) for v in STORIES.values())
            raise ValueError(f"no story has {n} variables (at most {longest}); use --names fake or random")
        story = rng.choice(sorted(fitting))
        var = STORIES[story]
        start = rng.randrange(len(var) - n + 1)
        # keep causal order but allow gaps, so stories of 12 also give varied 5-node graphs
        picked = sorted(rng.sample(range(len(var)), n)) if rng.random() < 0.5 else list(range(start, start + n))
        chosen = [var[k] for k in picked]
        if mode == "anticommonsense":
            chosen = chosen[::-1]
        return [c[0] for c in chosen], [(c[1], c[2]) for c in chosen], story
    if mode == "random":
        pool = sorted({v for story in STORIES.values() for v in story})
        chosen = rng.sample(pool, n)
        return [c[0] for c in chosen], [(c[1], c[2]) for c in chosen], ""
    raise ValueError(f"unknown name mode {mode!r}; choose one of {', '.join(NAME_MODES)}")
