"""The sources file: every folder ``bridge reindex`` reads, and what each one implies.

An operator lists each office's share once, in YAML or TOML::

    sources:
      - name: boston-interviews
        folder: /shares/boston/interviews   # relative paths start at this file's folder
        office: Boston
        region: US
        team: Digital Health
        language: en                         # used only where detection finds none
        include: ["*.pdf", "*.docx"]         # globs on the path inside the folder
        exclude: ["drafts/*"]

The metadata a source names is weighed like a manifest at the folder's root:
sidecars and nearer manifests still win (see ``ingest.metadata``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ingest.discovery import Root
from search.records import DocType


class SourcesError(ValueError):
    """A sources file that cannot be read; the message names the file and the fault."""


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    folder: Path
    office: str | None = None
    region: str | None = None
    team: str | None = None
    doc_type: DocType | None = None
    language: str | None = Field(None, description="Fallback when detection finds none.")
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)

    def root(self, base: Path) -> Root:
        defaults = {k: v for k, v in (("office", self.office), ("region", self.region),
                                      ("team", self.team), ("doc_type", self.doc_type)) if v}
        return Root(path=base / self.folder, source=self.name, defaults=defaults,
                    default_language=self.language, include=tuple(self.include),
                    exclude=tuple(self.exclude))


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[Source] = Field(min_length=1)

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[Source]) -> list[Source]:
        names = [s.name for s in sources]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique; repeated: {', '.join(duplicates)}")
        return sources


def load_sources(path: Path) -> list[Root]:
    """The roots a sources file lists, folders resolved against the file's own folder."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else yaml.safe_load(text)
        sources = SourcesFile.model_validate(data or {})
    except OSError as exc:
        raise SourcesError(f"cannot read sources file {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SourcesError(f"sources file {path} is not valid: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise SourcesError(f"sources file {path}: {problems}") from exc
    return [source.root(path.resolve().parent) for source in sources.sources]
