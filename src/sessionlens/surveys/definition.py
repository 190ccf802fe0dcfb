"""A survey's definition: questions, texts, targeting, trigger and theme (docs/surveys.md).

parse() turns untrusted JSON (the console's form, the API, a stored row) into a checked
Definition or raises SurveyError naming what is wrong; to_json() gives it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

KINDS = ("single", "multiple", "rating", "nps", "text")
KIND_LABELS = {
    "single": "One choice",
    "multiple": "Several choices",
    "rating": "Rating 1-5",
    "nps": "NPS 0-10",
    "text": "Free text",
}
DEVICES = ("desktop", "tablet", "mobile")
VISITORS = ("all", "new", "returning")
TRIGGERS = ("delay", "exit")
POSITIONS = ("bottom-right", "bottom-left")
MAX_QUESTIONS = 10
MAX_CHOICES = 10
MAX_CHOICE = 100
MAX_QUESTION = 300
MAX_TEXT = 500
MAX_ANSWER_TEXT = 2000
MAX_PAGES = 50
MAX_PATTERN = 300
MAX_DELAY_S = 600
DEFAULT_COLOR = "#2f6fde"
# The widget's own words, which a survey may say in its site's language (only the ones
# changed are stored; the widget has the same defaults, client/src/recorder/surveys/).
TEXTS = {
    "title": "Quick survey",
    "invitation": "Quick question?",
    "open": "Answer",
    "next": "Next",
    "back": "Back",
    "submit": "Submit",
    "close": "Close survey",
    "of": "of",
    "required": "Please answer this question to continue.",
    "required_mark": "(required)",
    "choose_any": "Choose any.",
    "your_answer": "Your answer (up to 2,000 characters)",
    "nps_low": "Not likely",
    "nps_high": "Very likely",
    "rating_low": "Very poor",
    "rating_high": "Excellent",
}
MAX_WIDGET_TEXT = 100
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_QUESTION_ID = re.compile(r"^q[0-9]{1,6}$")


class SurveyError(ValueError):
    """A definition that cannot be used; the message names the part."""


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    text: str
    choices: tuple[str, ...] = ()
    required: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "text": self.text,
            "required": self.required,
        }
        if self.kind in ("single", "multiple"):
            out["choices"] = list(self.choices)
        return out


@dataclass(frozen=True)
class Targeting:
    pages: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    visitors: str = "all"
    share: float = 100.0

    def to_json(self) -> dict[str, Any]:
        return {
            "pages": list(self.pages),
            "devices": list(self.devices),
            "visitors": self.visitors,
            "share": self.share,
        }


@dataclass(frozen=True)
class Definition:
    questions: tuple[Question, ...]
    intro: str = ""
    thanks: str = ""
    targeting: Targeting = field(default_factory=Targeting)
    trigger: str = "delay"
    delay_s: int = 5
    color: str = DEFAULT_COLOR
    position: str = "bottom-right"
    texts: tuple[tuple[str, str], ...] = ()  # (key, words) of TEXTS changed for this survey

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "intro": self.intro,
            "thanks": self.thanks,
            "questions": [q.to_json() for q in self.questions],
            "targeting": self.targeting.to_json(),
            "trigger": {"kind": self.trigger, "seconds": self.delay_s},
            "theme": {"color": self.color, "position": self.position},
            "texts": dict(self.texts),
        }


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SurveyError(f"{where} must be an object")
    return value


def _text(value: Any, where: str, limit: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise SurveyError(f"{where} must be text")
    text = value.strip()
    if required and not text:
        raise SurveyError(f"{where} is empty")
    if len(text) > limit:
        raise SurveyError(f"{where} has more than {limit} characters")
    return text


def _choices(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise SurveyError(f"{where} needs a list of choices")
    choices = [_text(c, f"a choice of {where}", MAX_CHOICE) for c in raw]
    choices = [c for c in choices if c]
    if not 2 <= len(choices) <= MAX_CHOICES:
        raise SurveyError(f"{where} needs 2-{MAX_CHOICES} choices")
    if len({c.casefold() for c in choices}) != len(choices):
        raise SurveyError(f"{where} offers the same choice twice")
    return tuple(choices)


def _question(raw: Any, index: int, taken: set[str]) -> Question:
    where = f"question {index}"
    item = _object(raw, where)
    kind = item.get("kind")
    if kind not in KINDS:
        raise SurveyError(f"{where} has an unknown kind (one of {', '.join(KINDS)})")
    question_id = item.get("id") or ""
    if not isinstance(question_id, str) or not _QUESTION_ID.match(question_id):
        raise SurveyError(f"{where} has a bad id (q followed by digits)")
    if question_id in taken:
        raise SurveyError(f"{where} repeats the id {question_id}")
    taken.add(question_id)
    required = item.get("required", False)
    if not isinstance(required, bool):
        raise SurveyError(f"{where}: required is true or false")
    choices = _choices(item.get("choices"), where) if kind in ("single", "multiple") else ()
    text = _text(item.get("text"), f"the text of {where}", MAX_QUESTION, required=True)
    return Question(question_id, kind, text, choices, required)


def _pages(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_PAGES:
        raise SurveyError(f"the pages to target are a list of at most {MAX_PAGES} patterns")
    pages = []
    for item in raw:
        pattern = _text(item, "a page pattern", MAX_PATTERN)
        if not pattern:
            continue
        if not pattern.startswith("/"):
            raise SurveyError(f"the page pattern {pattern!r} must start with /")
        pages.append(pattern)
    return tuple(dict.fromkeys(pages))


def _targeting(raw: Any) -> Targeting:
    item = _object(raw, "targeting")
    devices = item.get("devices") or []
    if not isinstance(devices, list) or any(d not in DEVICES for d in devices):
        raise SurveyError(f"devices are any of {', '.join(DEVICES)}")
    visitors = item.get("visitors", "all")
    if visitors not in VISITORS:
        raise SurveyError(f"visitors is one of {', '.join(VISITORS)}")
    share = item.get("share", 100)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 100:
        raise SurveyError("the share of visitors to invite is a percent, 0-100")
    ordered = tuple(d for d in DEVICES if d in devices)
    return Targeting(_pages(item.get("pages")), ordered, visitors, round(float(share), 2))


def _texts(raw: Any) -> tuple[tuple[str, str], ...]:
    """The widget's words changed for this survey; empty or default ones are dropped."""
    item = _object(raw, "texts")
    out = []
    for key, default in TEXTS.items():
        words = _text(item.get(key), f"the widget text {key!r}", MAX_WIDGET_TEXT)
        if words and words != default:
            out.append((key, words))
    unknown = sorted(set(item) - set(TEXTS))
    if unknown:
        raise SurveyError(f"no widget text is called {unknown[0][:40]!r}")
    return tuple(out)


def parse(raw: Any) -> Definition:
    item = _object(raw, "a survey")
    questions_raw = item.get("questions")
    if not isinstance(questions_raw, list) or not 1 <= len(questions_raw) <= MAX_QUESTIONS:
        raise SurveyError(f"a survey has 1-{MAX_QUESTIONS} questions")
    taken: set[str] = set()
    questions = tuple(_question(q, i, taken) for i, q in enumerate(questions_raw, start=1))
    trigger = _object(item.get("trigger"), "trigger")
    kind = trigger.get("kind", "delay")
    if kind not in TRIGGERS:
        raise SurveyError("the trigger is a delay or exit intent")
    seconds = trigger.get("seconds", 5)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= MAX_DELAY_S:
        raise SurveyError(f"the delay is a whole number of seconds, 0-{MAX_DELAY_S}")
    theme = _object(item.get("theme"), "theme")
    color = theme.get("color") or DEFAULT_COLOR
    if not isinstance(color, str) or not _COLOR.match(color):
        raise SurveyError("the colour is written #rrggbb")
    position = theme.get("position") or "bottom-right"
    if position not in POSITIONS:
        raise SurveyError(f"the position is one of {', '.join(POSITIONS)}")
    return Definition(
        texts=_texts(item.get("texts")),
        questions=questions,
        intro=_text(item.get("intro"), "the intro", MAX_TEXT),
        thanks=_text(item.get("thanks"), "the thank-you text", MAX_TEXT),
        targeting=_targeting(item.get("targeting")),
        trigger=kind,
        delay_s=seconds,
        color=color.lower(),
        position=position,
    )


def next_question_id(questions: list[dict[str, Any]] | tuple[Question, ...]) -> str:
    """An id no question of the survey has had: one more than the highest."""
    highest = 0
    for q in questions:
        qid = q.id if isinstance(q, Question) else str(q.get("id") or "")
        if _QUESTION_ID.match(qid):
            highest = max(highest, int(qid[1:]))
    return f"q{highest + 1}"
