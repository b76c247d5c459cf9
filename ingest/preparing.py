"""Steps 2-4 of the pipeline: parse a file, describe it, chunk it, in any process.

Preparing is the CPU work that is not the encoder. The local engine runs it in a
pool of worker processes while the encoder embeds, and the Ray engine on a
cluster's workers, so everything here is built from a small picklable
:class:`PrepareSpec` and answers with picklable results: a :class:`Prepared` file
or a :class:`Failed` one with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.chunking import Chunker, TokenCounter
from ingest.discovery import FoundFile
from ingest.document import ParsedDocument, ParseError
from ingest.metadata import MetadataError, resolve_metadata
from ingest.parsers import DEFAULT_LIMITS, ParseLimits, parse_file
from search.embedding.models import resolve_model
from search.embedding.tokens import PlainTokens
from search.language import LanguageDetector
from search.records import DocumentMeta, FileStat, NewChunk
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


@dataclass(frozen=True)
class Failed:
    """A file that could not be prepared, and why (reported, never fatal)."""

    job: PrepareJob
    reason: str


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
        )

    def preparer(self, count_tokens: TokenCounter | None = None) -> Preparer:
        """A preparer; without ``count_tokens`` it loads only the model's tokenizer."""
        return Preparer(
            Chunker(count_tokens or _tokenizer_counter(self.tokenizer), self.chunk_tokens,
                    self.overlap_tokens),
            LanguageDetector(list(self.languages)), self.overrides, self.office_regions,
            self.limits)


def _tokenizer_counter(model: str) -> TokenCounter:
    """Counts tokens as the encoder does (``Encoder.count_tokens``) without loading its
    weights: from the folder's ``tokenizer.json`` (no torch import), else via transformers."""
    saved = Path(model) / "tokenizer.json"
    if saved.is_file():
        from tokenizers import Tokenizer

        backend = Tokenizer.from_file(str(saved))
    else:
        from transformers import AutoTokenizer

        backend = AutoTokenizer.from_pretrained(model).backend_tokenizer
    return PlainTokens(backend).count


class Preparer:
    """Parses one file, within ``limits``, and turns it into metadata and chunks with
    languages."""

    def __init__(self, chunker: Chunker, languages: LanguageDetector,
                 overrides: dict[str, Any], office_regions: dict[str, str],
                 limits: ParseLimits = DEFAULT_LIMITS) -> None:
        self.chunker = chunker
        self.languages = languages
        self.overrides = overrides
        self.office_regions = office_regions
        self.limits = limits

    def describe(self, file: FoundFile, digest: str) -> tuple[ParsedDocument, DocumentMeta]:
        parsed = parse_file(file.path, self.limits)
        language = self.languages.detect(_language_sample(parsed)) or file.root.default_language
        meta = resolve_metadata(file.path, parsed, language, self.overrides, self.office_regions,
                                digest, file.root.defaults)
        return parsed, meta

    def prepare(self, file: FoundFile, digest: str) -> tuple[DocumentMeta, list[NewChunk]]:
        parsed, meta = self.describe(file, digest)
        chunks = self.chunker.chunk(parsed, meta.language)
        if not chunks:
            raise ParseError("no text")
        for chunk in chunks:
            chunk.language = self.languages.detect(chunk.text) or meta.language
        return meta, chunks

    def run(self, job: PrepareJob) -> Prepared | Failed:
        """One job's outcome; a bad file becomes a :class:`Failed` with its reason."""
        try:
            meta, chunks = self.prepare(job.file, job.digest)
        except (ParseError, MetadataError) as exc:
            return Failed(job, exc.reason if isinstance(exc, ParseError) else str(exc))
        except OSError as exc:
            return Failed(job, f"cannot read: {exc.strerror or exc}")
        return Prepared(job, meta, chunks)


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
