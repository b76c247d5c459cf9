"""Plain text: paragraphs, or question-and-answer exchanges for interview transcripts.

In a transcript the useful unit is a question with its answer: an answer alone ("Yes, in
2019.") means nothing to a search, and a question alone answers nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ingest.cleaning import tidy
from ingest.document import ParsedDocument, Provenance, Unit
from ingest.parsers.common import TITLE_FIELDS, require_units, shorten, split_speaker
from ingest.parsers.encoding import decode_bytes

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# Labels of the asking side; without one of them, whoever speaks first is taken to ask.
_QUESTIONERS = frozenset({"q", "question", "interviewer", "host", "moderator"})
# A text is a transcript when at least this share of its non-blank lines are speaker turns.
_TRANSCRIPT_SHARE = 0.5


@dataclass
class _Turn:
    speaker: str | None
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        body = "\n".join(self.lines)
        return f"{self.speaker}: {body}" if self.speaker else body


def parse(path: Path) -> ParsedDocument:
    text = decode_bytes(path.read_bytes())
    turns = _transcript_turns(text)
    units = _exchanges(turns) if turns else _paragraphs(text)
    return ParsedDocument(units=require_units(units), heading=_header_title(turns or []))


def _header_title(turns: list[_Turn]) -> str | None:
    """A transcript's title: its header's "Title:" field, else the header's first line
    ("Interview: Dr. Leon Schubert, CEO of Rhythmo")."""
    header = turns[0].lines if turns and turns[0].speaker is None else []
    labels = [split_speaker(line) for line in header]
    titled = (label[1] for label in labels if label and label[0].lower() in TITLE_FIELDS)
    return next(titled, header[0] if header else None)


def _paragraphs(text: str) -> list[Unit]:
    return [Unit(text=p) for p in map(tidy, _PARAGRAPH_BREAK.split(text)) if p]


def _transcript_turns(text: str) -> list[_Turn] | None:
    """The speaker turns of ``text`` if it reads as a transcript, else None.

    Lines without a label continue the current turn; lines before the first label form a
    turn without a speaker (a transcript's heading or introduction). Before the first
    speaker who speaks more than once, a label used only once ("Date:", "Participants:",
    "Lieu :") is a header field, not a speaker.
    """
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    labels = [split_speaker(line) for line in lines]
    uses = Counter(label[0] for label in labels if label)
    started = next((i for i, label in enumerate(labels) if label and uses[label[0]] > 1),
                   len(lines))
    turns = [_Turn(speaker=None)]
    labelled = 0
    for i, (line, label) in enumerate(zip(lines, labels, strict=True)):
        if label and (i >= started or uses[label[0]] > 1):
            labelled += 1
            turns.append(_Turn(speaker=label[0], lines=[label[1]]))
        else:
            turns[-1].lines.append(line)
    speakers = {turn.speaker for turn in turns if turn.speaker}
    if len(speakers) < 2 or labelled < _TRANSCRIPT_SHARE * len(lines):
        return None
    return [turn for turn in turns if turn.lines]


def _exchanges(turns: list[_Turn]) -> list[Unit]:
    """One unit per question turn together with the answer turns that follow it."""
    speakers = [turn.speaker for turn in turns if turn.speaker]
    questioner = next((s for s in speakers if s.lower() in _QUESTIONERS), speakers[0])
    groups: list[list[_Turn]] = []
    for turn in turns:
        if turn.speaker == questioner or not groups or groups[-1][0].speaker is None:
            groups.append([turn])
        else:
            groups[-1].append(turn)
    return [_exchange_unit(group, questioner) for group in groups]


def _exchange_unit(group: list[_Turn], questioner: str) -> Unit:
    asked = group[0].speaker == questioner
    answerers = list(dict.fromkeys(t.speaker for t in group[asked:] if t.speaker))
    provenance = Provenance(
        speaker=", ".join(answerers) or None,
        section=shorten(" ".join(group[0].lines)) if asked else None,
    )
    return Unit(text=tidy("\n".join(turn.text for turn in group)), provenance=provenance)
