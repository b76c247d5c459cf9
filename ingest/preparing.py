"""Steps 2-4 of the pipeline: parse a file, describe it, chunk it, in any process.

Preparing is the CPU work that is not the encoder. The local engine runs it in a
pool of worker processes while the encoder embeds, and the Ray engine on a
cluster's workers, so everything here is built from a small picklable
:class:`PrepareSpec` and answers with picklable results: a :class:`Prepared` file
or a :class:`Failed` one with its reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ingest.chunking import Chunker, TokenCounter
from ingest.discovery import FoundFile
from ingest.document import OcrWork, ParsedDocument, ParseError
from ingest.failures import failure_of
from ingest.metadata import resolve_metadata
from ingest.ocr import DEFAULT_OCR, OcrOptions
from ingest.parsers import DEFAULT_LIMITS, ParseLimits, parse_file
from search.embedding.models import resolve_model
from search.embedding.tokens import PlainTokens
from search.language import LanguageDetector
from search.records import DocumentMeta, FileFailure, FileStat, NewChunk
from search.settings import Settings


@dataclass(frozen=True)
class PrepareJob:
    """A file whose content is new to the knowledge base: it must be parsed and embedded."""

    file: FoundFile
    digest: str
    stat: FileStat
    is_update: bool


@dataclass
class Prepared:
    """A file parsed, described and chunked, waiting for its vectors."""

    job: PrepareJob
    meta: DocumentMeta
    chunks: list[NewChunk]
    ocr: OcrWork = field(default_factory=OcrWork)


@dataclass(frozen=True)
class Failed:
    """A file that could not be prepared, and why (reported, never fatal)."""

    job: PrepareJob
    failure: FileFailure


@dataclass(frozen=True)
class PrepareSpec:
    """Everything a process needs to build a :class:`Preparer` (picklable)."""

    tokenizer: str  # the model folder or hub id whose tokenizer counts chunk tokens
    chunk_tokens: int
    overlap_tokens: int
    languages: tuple[str, ...]
    office_regions: dict[str, str]
    overrides: dict[str, Any] = field(default_factory=dict)
    limits: ParseLimits = DEFAULT_LIMITS
    ocr: OcrOptions = DEFAULT_OCR

    @classmethod
    def from_settings(cls, settings: Settings, overrides: dict[str, Any] | None) -> PrepareSpec:
        return cls(
            tokenizer=resolve_model(settings.model, settings.cache_dir),
            chunk_tokens=settings.chunk_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
            languages=tuple(settings.languages),
            office_regions=dict(settings.office_regions),
            overrides={k: v for k, v in (overrides or {}).items() if v},
            limits=ParseLimits(settings.max_unzipped_bytes, settings.max_pdf_pages),
            ocr=OcrOptions.from_settings(settings),
        )

    def preparer(self, count_tokens: TokenCounter | None = None) -> Preparer:
        """A preparer; without ``count_tokens`` it loads only the model's tokenizer."""
        return Preparer(
            Chunker(count_tokens or PlainTokens.of_model(self.tokenizer).count, self.chunk_tokens,
                    self.overlap_tokens),
            LanguageDetector(list(self.languages)), self.overrides, self.office_regions,
            self.limits, self.ocr)


class Preparer:
    """Parses one file, within ``limits``, reading scans and pictures as ``ocr`` says, and
    turns it into metadata and chunks with languages."""

    def __init__(self, chunker: Chunker, languages: LanguageDetector,
                 overrides: dict[str, Any], office_regions: dict[str, str],
                 limits: ParseLimits = DEFAULT_LIMITS, ocr: OcrOptions = DEFAULT_OCR) -> None:
        self.chunker = chunker
        self.languages = languages
        self.overrides = overrides
        self.office_regions = office_regions
        self.limits = limits
        self.ocr = ocr

    def prepare(self, file: FoundFile, digest: str
                ) -> tuple[DocumentMeta, list[NewChunk], OcrWork]:
        """The file parsed, chunked and described, with what OCR read of it. Its language
        is that of most of its text (chunks weighed by tokens) unless a source declares one.
        """
        parsed = parse_file(file.path, self.limits, self.ocr)
        guess = self.languages.detect(_language_sample(parsed))
        chunks = self.chunker.chunk(parsed, guess)
        if not chunks:
            raise ParseError("empty", "no text")
        for chunk in chunks:
            chunk.language = self.languages.detect(chunk.text)
        detected = _main_language(chunks) or guess or file.root.default_language
        meta = resolve_metadata(file.path, parsed, detected, self.overrides,
                                self.office_regions, digest, file.root.defaults,
                                file.root.file_name)
        for chunk in chunks:
            chunk.language = chunk.language or meta.language
        return meta, chunks, parsed.ocr

    def run(self, job: PrepareJob) -> Prepared | Failed:
        """One job's outcome; whatever goes wrong with one file becomes a :class:`Failed`
        with its reason in words, so that the run goes on with the next."""
        try:
            return Prepared(job, *self.prepare(job.file, job.digest))
        except Exception as exc:  # any failure of one file is that file's, never the run's
            return Failed(job, failure_of(job.file.path, exc))


def _main_language(chunks: list[NewChunk]) -> str | None:
    """The language of most of the text: each chunk's language weighed by its tokens."""
    weights: Counter[str] = Counter()
    for chunk in chunks:
        if chunk.language:
            weights[chunk.language] += max(chunk.n_tokens, 1)
    return weights.most_common(1)[0][0] if weights else None


# --- in a worker process ----------------------------------------------------------------
# A pool's processes import only this module (and what parsing needs), build one
# preparer each at start, and then prepare job after job.
_worker_preparer: Preparer | None = None


def start_worker(spec: PrepareSpec) -> None:
    """A pool's initializer: build this process's preparer."""
    global _worker_preparer
    _worker_preparer = spec.preparer()


def prepare_in_worker(job: PrepareJob) -> Prepared | Failed:
    assert _worker_preparer is not None, "start_worker builds the preparer"
    return _worker_preparer.run(job)


def _language_sample(parsed: ParsedDocument, chars: int = 4000) -> str:
    """Text from the whole document, not only its first page, for detection."""
    units = parsed.units
    step = max(1, len(units) // 8)
    return "\n".join(u.text for u in units[::step])[:chars]
