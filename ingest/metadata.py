"""Document metadata, merged from several sources in a documented precedence.

Highest first:

1. what the operator says on the command line (``bridge ingest --office ...``);
2. a sidecar file beside the document, ``NAME.EXT.meta.yaml``;
3. the nearest ``_manifest.yaml`` in the document's folder or above: its
   ``files:`` entry for the document, then its top-level defaults; then what
   the document's configured source says (``bridge reindex``, ``ingest.sources``);
4. YAML front matter inside the document (Markdown, text);
5. the folder convention ``<office>/<type>/...`` (e.g. ``corpus/paris/decks/``);
6. what the file itself says: its language as detected (the language of most of its
   text), its title and date when plausible (``ingest.titles``: else its own heading, and
   the file name's date and words last), its declared language, a type implied by the
   format.

Offices are spelled as configured, whatever the case a source used ("PARIS" is "Paris");
region, when no source names it, follows from the office (settings).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from ingest.cleaning import clean_label
from ingest.document import ParsedDocument
from ingest.titles import canonical_office, date_from_file_name, is_plausible_date, title_for
from search.records import DocType, DocumentMeta

SIDECAR_SUFFIX = ".meta.yaml"
MANIFEST_NAME = "_manifest.yaml"
FIELDS = ("title", "office", "region", "team", "doc_type", "language", "author", "date")

# Folder names (and doc_type spellings) that mean a document type.
DOC_TYPE_ALIASES: dict[str, DocType] = {
    "interview": DocType.interview, "interviews": DocType.interview,
    "transcript": DocType.interview, "transcripts": DocType.interview,
    "pitch_deck": DocType.pitch_deck, "pitch-deck": DocType.pitch_deck,
    "pitch deck": DocType.pitch_deck, "pitch-decks": DocType.pitch_deck,
    "deck": DocType.pitch_deck, "decks": DocType.pitch_deck,
    "report": DocType.report, "reports": DocType.report,
    "other": DocType.other, "note": DocType.other, "notes": DocType.other,
}
# What a format implies when nothing else says.
FORMAT_DOC_TYPES = {".vtt": DocType.interview, ".srt": DocType.interview,
                    ".pptx": DocType.pitch_deck}


class MetadataError(ValueError):
    """A sidecar or manifest that cannot be read; reported like a parse failure."""


def is_metadata_file(path: Path) -> bool:
    """Sidecars and manifests describe documents; they are not documents."""
    return path.name == MANIFEST_NAME or path.name.endswith(SIDECAR_SUFFIX)


def content_hash(path: Path, identity: str | None = None) -> str:
    """The file's SHA-256, within ``identity`` when one scopes it (see ``Root.identity``)."""
    digest = hashlib.sha256()
    if identity:
        digest.update(identity.encode("utf-8") + b"\0")
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=256)
def _read_yaml(path: Path, _mtime: float) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MetadataError(f"unreadable metadata file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise MetadataError(f"metadata file {path} is not a mapping")
    return data


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from a sidecar or manifest; an absent file is an empty mapping."""
    return _read_yaml(path, path.stat().st_mtime) if path.is_file() else {}


def _manifest(path: Path) -> dict[str, Any]:
    for folder in path.parents:
        manifest = folder / MANIFEST_NAME
        if manifest.is_file():
            data = read_yaml(manifest)
            entry = (data.get("files") or {}).get(path.relative_to(folder).as_posix()) or {}
            return {**{k: v for k, v in data.items() if k != "files"}, **entry}
    return {}


def _folder_convention(path: Path) -> dict[str, Any]:
    parts = path.parent.parts
    for i in range(len(parts) - 1, 0, -1):
        doc_type = DOC_TYPE_ALIASES.get(parts[i].lower())
        if doc_type is not None:
            return {"doc_type": doc_type, "office": parts[i - 1].replace("_", " ").title()}
    return {}


def _file_itself(path: Path, name: Path, parsed: ParsedDocument,
                 language: str | None) -> dict[str, Any]:
    """What the file says of itself; ``name`` is the name it had for its author (an
    upload's original name), for the title and date of last resort."""
    found = {k: v for k, v in parsed.file_metadata.items() if k in FIELDS and v}
    found["title"] = title_for(name, parsed, found.get("title"), language)
    found["language"] = language or found.get("language")
    declared_date = _normalise("date", found.get("date"))
    if declared_date is None or not is_plausible_date(declared_date):
        found["date"] = date_from_file_name(name)
    if path.suffix.lower() in FORMAT_DOC_TYPES:
        found.setdefault("doc_type", FORMAT_DOC_TYPES[path.suffix.lower()])
    return found


def _normalise(field: str, value: Any) -> Any:
    if value is None or value == "":
        return None
    if field == "doc_type":
        return DOC_TYPE_ALIASES.get(str(value).lower(), DocType.other)
    if field == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            return None
    if field == "language":
        return str(value).lower()[:2]
    return clean_label(str(value))  # a sidecar's title holds no NUL or escape either


def resolve_metadata(
    path: Path,
    parsed: ParsedDocument,
    detected_language: str | None,
    overrides: dict[str, Any] | None = None,
    office_regions: dict[str, str] | None = None,
    digest: str | None = None,
    source_defaults: dict[str, Any] | None = None,
    file_name: str | None = None,
) -> DocumentMeta:
    """Merge every source for ``path``; the first source naming a field wins.

    ``digest`` is the file's content hash when the caller has already computed it;
    ``source_defaults`` is what a configured source implies (see ``ingest.sources``),
    weighed like a manifest at the source's root; ``file_name`` is the name the file had
    before it was stored under another (an upload).
    """
    sources = [
        overrides or {},
        read_yaml(path.with_name(path.name + SIDECAR_SUFFIX)),
        _manifest(path),
        source_defaults or {},
        parsed.front_matter,
        _folder_convention(path),
        _file_itself(path, path.with_name(file_name) if file_name else path, parsed,
                     detected_language),
    ]
    merged: dict[str, Any] = {}
    for field in FIELDS:
        for source in sources:
            value = _normalise(field, source.get(field, source.get("type") if field == "doc_type"
                                                  else None))
            if value is not None:
                merged[field] = value
                break
    regions = office_regions or {}
    if merged.get("office"):
        merged["office"] = canonical_office(merged["office"], regions)
        if "region" not in merged and merged["office"].lower() in regions:
            merged["region"] = regions[merged["office"].lower()]
    return DocumentMeta(**merged, source_path=str(path.resolve()),
                        content_hash=digest or content_hash(path))
