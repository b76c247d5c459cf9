"""Chunking along the document's own structure, to a token budget.

A unit from the parser (page, slide, section, question with its answer) becomes
one chunk when it fits the budget, so a deck is searched slide by slide. Runs
of transcript cues (units with timestamps), and consecutive units from the
same place (the paragraphs of a plain text, of one section), are packed
together up to the budget: a single cue or line is too short to carry a
finding. A unit over the budget is split at sentence boundaries, with a small
overlap of whole sentences so a finding that straddles the cut is still whole
in one chunk.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sentencex

from ingest.document import ParsedDocument, Unit
from search.records import NewChunk, Provenance

TokenCounter = Callable[[str], int]
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_LIST_MARKER = re.compile(r"\(?(\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})[.)]")


def clean_text(text: str) -> str:
    """Collapse runs of spaces and blank lines; keep paragraph breaks."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def split_sentences(text: str, language: str | None) -> list[str]:
    """Sentences, line by line, by sentencex's rules for ``language``.

    A line break ends a sentence: headings, list items and table rows stand alone.
    sentencex (Wikimedia) knows each language's abbreviations ("z. B.", "e.g.") and
    falls back along a chain of related languages, English for an unknown one. It
    replaced pysbd, which gave the same splits on 92-96% of XQuAD and SciFact
    paragraphs at 400 times the cost (12-14 ms a paragraph, most of preparing).
    """
    sentences: list[str] = []
    for line in text.splitlines():
        marker = ""  # "1." of a numbered item, which sentencex cuts off: kept with its text
        for piece in sentencex.segment(language or "en", line):
            sentence = f"{marker} {piece.strip()}".strip()
            marker = sentence if _LIST_MARKER.fullmatch(sentence) else ""
            if sentence and not marker:
                sentences.append(sentence)
        if marker:
            sentences.append(marker)
    return sentences


class Chunker:
    """Turns a parsed document's units into chunks of at most ``budget`` tokens."""

    def __init__(self, count_tokens: TokenCounter, budget: int, overlap: int) -> None:
        self.count_tokens = count_tokens
        self.budget = budget
        self.overlap = min(overlap, budget // 4)

    def chunk(self, document: ParsedDocument, language: str | None = None) -> list[NewChunk]:
        chunks: list[NewChunk] = []
        for unit in self._pack(document.units):
            text = clean_text(unit.text)
            if not text:
                continue
            n_tokens = self.count_tokens(text)
            if n_tokens <= self.budget:
                chunks.append(NewChunk(text=text, provenance=unit.provenance, n_tokens=n_tokens))
            else:
                chunks.extend(self._split(text, unit.provenance, language))
        return chunks

    def _pack(self, units: list[Unit]) -> list[Unit]:
        """Merge consecutive timed units, or units from the same place, up to the budget.

        The speaker who opens a transcript is taken as the interviewer: their
        next turn after someone else spoke starts a new chunk, so a chunk is a
        question with its answer rather than the end of one and the start of
        the next.
        """
        packed: list[Unit] = []
        tokens = 0
        interviewer = next((u.provenance.speaker for u in units if u.provenance.speaker), None)
        for unit in units:
            n = self.count_tokens(unit.text)
            last = packed[-1] if packed else None
            fits = last is not None and tokens + n <= self.budget
            if fits and last.provenance == unit.provenance:
                packed[-1] = Unit(text=f"{last.text}\n\n{unit.text}", provenance=last.provenance)
                tokens += n
                continue
            new_question = (interviewer is not None and unit.provenance.speaker == interviewer
                            and last is not None and last.provenance.speaker != interviewer)
            if (fits and last.provenance.start_s is not None
                    and unit.provenance.start_s is not None and not new_question):
                speakers = [s for s in (last.provenance.speaker, unit.provenance.speaker) if s]
                speaker = ", ".join(dict.fromkeys(", ".join(speakers).split(", "))) or None
                packed[-1] = Unit(
                    text=f"{last.text}\n{unit.text}",
                    provenance=last.provenance.model_copy(update={
                        "speaker": speaker, "end_s": unit.provenance.end_s}),
                )
                tokens += n
            else:
                packed.append(unit)
                tokens = n
        return packed

    def _split(self, text: str, provenance: Provenance, language: str | None) -> list[NewChunk]:
        pieces: list[tuple[str, int]] = []
        for sentence in split_sentences(text, language):
            n = self.count_tokens(sentence)
            pieces.extend(self._hard_split(sentence) if n > self.budget else [(sentence, n)])
        chunks: list[NewChunk] = []
        window: list[tuple[str, int]] = []
        for piece in pieces:
            if window and sum(n for _, n in window) + piece[1] > self.budget:
                chunks.append(self._chunk(window, provenance))
                window = self._overlap_tail(window, piece[1])
            window.append(piece)
        if window:
            chunks.append(self._chunk(window, provenance))
        return chunks

    def _overlap_tail(self, window: list[tuple[str, int]], incoming: int) -> list[tuple[str, int]]:
        tail: list[tuple[str, int]] = []
        for piece in reversed(window):
            if sum(n for _, n in tail) + piece[1] > self.overlap:
                break
            tail.insert(0, piece)
        while tail and sum(n for _, n in tail) + incoming > self.budget:
            tail.pop(0)
        return tail

    def _hard_split(self, sentence: str) -> list[tuple[str, int]]:
        """A sentence over the budget (a table row, a run-on list) cut between words."""
        out: list[tuple[str, int]] = []
        words: list[str] = []
        tokens = 0
        for word in sentence.split():
            n = self.count_tokens(word)
            if words and tokens + n > self.budget:
                out.append((" ".join(words), tokens))
                words, tokens = [], 0
            words.append(word)
            tokens += n
        if words:
            out.append((" ".join(words), tokens))
        return out

    @staticmethod
    def _chunk(window: list[tuple[str, int]], provenance: Provenance) -> NewChunk:
        return NewChunk(
            text=" ".join(s for s, _ in window),
            provenance=provenance,
            n_tokens=sum(n for _, n in window),
        )
