"""A project's survey settings: how often a visitor may be invited, and the feedback button.

Kept as JSON in project.settings["surveys"], edited on the console's surveys page, and
served to the recorder by GET /i/v1/{key}/config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sessionlens.surveys.definition import DEFAULT_COLOR, SurveyError

FEEDBACK_POSITIONS = ("right", "left", "bottom-right")
DEFAULT_EVERY_DAYS = 30
MAX_EVERY_DAYS = 365
MAX_LABEL = 40
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# The feedback panel's words, which a project may give in its site's language (only the
# ones changed are stored; the recorder has the same defaults).
FEEDBACK_TEXTS = {
    "title": "Feedback on this page",
    "question": "How would you rate this page?",
    "rating_1": "Very bad",
    "rating_2": "Bad",
    "rating_3": "OK",
    "rating_4": "Good",
    "rating_5": "Very good",
    "comment": "Comment (optional)",
    "pick": "Highlight an element",
    "pick_hint": "Click the part of the page you mean (Tab moves, Enter picks, Escape cancels).",
    "picked": "Highlighted:",
    "remove": "Remove",
    "send": "Send",
    "close": "Close feedback",
    "required": "Please choose a rating before sending.",
    "thanks": "Thank you for your feedback.",
}
MAX_TEXT = 100


@dataclass(frozen=True)
class SurveySettings:
    every_days: int = DEFAULT_EVERY_DAYS  # a visitor is invited at most once in this many days
    feedback: bool = False  # the feedback button is shown
    feedback_color: str = DEFAULT_COLOR
    feedback_position: str = "right"
    feedback_label: str = "Feedback"
    feedback_texts: tuple[tuple[str, str], ...] = ()  # (key, words) of FEEDBACK_TEXTS changed

    def to_json(self) -> dict[str, Any]:
        return {
            "every_days": self.every_days,
            "feedback": self.feedback,
            "feedback_color": self.feedback_color,
            "feedback_position": self.feedback_position,
            "feedback_label": self.feedback_label,
            "feedback_texts": dict(self.feedback_texts),
        }

    def recorder_config(self) -> dict[str, Any]:
        return {
            "survey_every_days": self.every_days,
            "feedback": {
                "enabled": self.feedback,
                "color": self.feedback_color,
                "position": self.feedback_position,
                "label": self.feedback_label,
                "texts": dict(self.feedback_texts),
            },
        }


def parse(raw: dict[str, Any]) -> SurveySettings:
    """Checked settings from JSON or a form (strings are accepted for the numbers)."""
    every = raw.get("every_days", DEFAULT_EVERY_DAYS)
    if isinstance(every, str) and every.strip().isdigit():
        every = int(every.strip())
    if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= MAX_EVERY_DAYS:
        raise SurveyError(f"invite a visitor at most once every 1-{MAX_EVERY_DAYS} days")
    feedback = raw.get("feedback", False)
    if isinstance(feedback, str):
        feedback = feedback in ("yes", "on", "true", "1")
    if not isinstance(feedback, bool):
        raise SurveyError("the feedback button is on or off")
    color = raw.get("feedback_color") or DEFAULT_COLOR
    if not isinstance(color, str) or not _COLOR.match(color):
        raise SurveyError("the feedback button's colour is written #rrggbb")
    position = raw.get("feedback_position") or "right"
    if position not in FEEDBACK_POSITIONS:
        raise SurveyError(f"the feedback button sits {', '.join(FEEDBACK_POSITIONS)}")
    label = raw.get("feedback_label")
    label = label.strip() if isinstance(label, str) else ""
    if len(label) > MAX_LABEL:
        raise SurveyError(f"the feedback button's label has at most {MAX_LABEL} characters")
    texts = _texts(raw.get("feedback_texts"))
    return SurveySettings(every, feedback, color.lower(), position, label or "Feedback", texts)


def _texts(raw: Any) -> tuple[tuple[str, str], ...]:
    """The panel's words changed by the project; empty or default ones are dropped."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise SurveyError("the feedback panel's texts are an object")
    unknown = sorted(set(raw) - set(FEEDBACK_TEXTS))
    if unknown:
        raise SurveyError(f"no feedback panel text is called {str(unknown[0])[:40]!r}")
    out = []
    for key, default in FEEDBACK_TEXTS.items():
        words = raw.get(key)
        words = words.strip() if isinstance(words, str) else ""
        if len(words) > MAX_TEXT:
            raise SurveyError(
                f"the feedback panel text {key!r} has more than {MAX_TEXT} characters"
            )
        if words and words != default:
            out.append((key, words))
    return tuple(out)


def of_settings(settings: dict[str, Any]) -> SurveySettings:
    stored = settings.get("surveys")
    try:
        return parse(stored) if isinstance(stored, dict) else SurveySettings()
    except SurveyError:
        return SurveySettings()
