"""Subtitles and captions (WebVTT, SRT): speaker turns with their time span, via webvtt-py.

A cue is a line or two shown on screen, far too small to search on its own, so consecutive
cues of the same speaker are merged into one turn, up to a length that keeps a result
pointing at a precise moment of the recording.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError
from webvtt.models import Caption

from ingest.document import ParsedDocument, ParseError, Provenance, Unit
from ingest.parsers.common import (
    TITLE_FIELDS,
    describe,
    one_line,
    require_units,
    split_speaker,
)
from ingest.parsers.encoding import decode_bytes

# Longest merged turn, in seconds.
MAX_TURN_S = 90.0
# SRT files written by Aegisub and friends carry ASS override tags such as {\an8}.
_ASS_TAG = re.compile(r"\{\\[^}]*\}")


@dataclass
class _Turn:
    speaker: str | None
    start_s: float
    end_s: float
    lines: list[str] = field(default_factory=list)

    def unit(self) -> Unit:
        provenance = Provenance(speaker=self.speaker, start_s=self.start_s, end_s=self.end_s)
        return Unit(text=" ".join(self.lines), provenance=provenance)


def parse(path: Path) -> ParsedDocument:
    # webvtt-py rejects an SRT file whose first line is not a cue number, blank lines included.
    text = decode_bytes(path.read_bytes()).lstrip()
    # The content decides, not the suffix: .srt files holding WebVTT are common.
    kind = "vtt" if text.startswith("WEBVTT") else "srt"
    try:
        subtitles = webvtt.WebVTT.from_buffer(io.StringIO(text), format=kind)
    except (MalformedFileError, MalformedCaptionError) as exc:
        raise ParseError(f"malformed {kind.upper()}", describe(exc)) from exc
    return ParsedDocument(units=require_units(_turns(subtitles.captions)),
                          heading=_title(subtitles) if kind == "vtt" else None)


def _title(subtitles: webvtt.WebVTT) -> str | None:
    """The title a WebVTT file gives itself: after "WEBVTT" on its first line, or in a
    "Title:" header or NOTE line."""
    first_line = (subtitles.header_text or "").strip().lstrip("-").strip()
    fields = (line for block in (subtitles.metadata or [], subtitles.header_comments or [])
              for entry in block for line in entry.split("\n"))
    titled = (label[1] for line in fields if (label := split_speaker(line))
              and label[0].lower() in TITLE_FIELDS)
    return first_line or next(titled, None)


def _turns(captions: list[Caption]) -> list[Unit]:
    turns: list[_Turn] = []
    for caption in captions:
        speaker, lines = _speaker_and_lines(caption)
        if not lines:
            continue
        start_s = caption.start_time.in_milliseconds() / 1000
        end_s = caption.end_time.in_milliseconds() / 1000
        last = turns[-1] if turns else None
        if last is None or last.speaker != speaker or end_s - last.start_s > MAX_TURN_S:
            last = _Turn(speaker=speaker, start_s=start_s, end_s=end_s)
            turns.append(last)
        last.end_s = max(last.end_s, end_s)
        for line in lines:
            # Roll-up captions (YouTube) repeat the previous cue's line above the new one.
            if not last.lines or line != last.lines[-1]:
                last.lines.append(line)
    return [turn.unit() for turn in turns]


def _speaker_and_lines(caption: Caption) -> tuple[str | None, list[str]]:
    """The cue's speaker, from a ``<v Name>`` tag or a leading "Name:" label, and its text
    lines without tags."""
    lines = [one_line(html.unescape(_ASS_TAG.sub("", line))) for line in caption.text.split("\n")]
    lines = [line for line in lines if line]
    speaker = one_line(caption.voice) if caption.voice else None
    if speaker is None and lines:
        label = split_speaker(lines[0])
        if label:
            speaker, lines[0] = label
    return speaker, lines
