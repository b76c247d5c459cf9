"""Index generations: the index files a publish writes and the ones a reader searches.

A generation is a vector index file and a keyword index folder (``search.lexical``). A publish
writes the next generation's (written, flushed, renamed) and then names it in the database
(``meta``), in the transaction that stores its rows. A reader loads the generation the database
names, so it sees either everything of a publish or nothing of it; a crash leaves at worst
files no row names, which the next publish removes. A keyword folder that is missing, or was
made by another analysis (its name carries the analysis version), is rebuilt from the terms
stored in the database. Each generation also records the language offsets its vectors were
centred with (``search.centering``).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from search.centering import LanguageOffsets
from search.database import Database
from search.index import VectorIndex, index_class
from search.lexical import KeywordIndex, StoredTerms
from search.lexical.analysis import ANALYSIS_VERSION
from search.settings import Settings
from search.sql import get_meta

GENERATION_META = "generation"
OFFSETS_META = "language_offsets"


@dataclass(frozen=True)
class Generation:
    """One published state: its number, its vector and keyword indexes and the language
    offsets its vectors use."""

    number: int
    index: VectorIndex
    keywords: KeywordIndex
    offsets: LanguageOffsets


def published_number(db: sqlite3.Connection) -> int:
    """The number of the generation the database names (0: none yet)."""
    return int(get_meta(db, GENERATION_META) or 0)


class GenerationFiles:
    """The index files of one data directory, one per generation, in the configured backend."""

    def __init__(self, settings: Settings, dimension: int) -> None:
        self.settings = settings
        self.dimension = dimension
        self.index_class = index_class(settings)
        settings.index_dir.mkdir(parents=True, exist_ok=True)

    def path(self, number: int) -> Path:
        return self.settings.index_dir / f"vectors-{number:06d}.{self.settings.index_backend}"

    def keywords_path(self, number: int) -> Path:
        return self.settings.index_dir / f"keywords-{number:06d}.a{ANALYSIS_VERSION}.tantivy"

    def new_index(self, expected: int = 0) -> VectorIndex:
        """An empty index for about ``expected`` vectors (exact while that is small)."""
        return self.index_class.for_size(self.dimension, expected,
                                         self.settings.index_exact_limit,
                                         self.settings.ivf_nprobe)

    def load(self, db: sqlite3.Connection) -> Generation:
        """A private copy of the published generation (an empty one at number 0)."""
        number = published_number(db)
        offsets = LanguageOffsets.from_json(get_meta(db, OFFSETS_META))
        if not number:
            return Generation(0, self.new_index(), KeywordIndex.build([]), offsets)
        index = self.index_class.load(self.path(number))
        return Generation(number, index, self._keywords(db, number), offsets)

    def _keywords(self, db: sqlite3.Connection, number: int) -> KeywordIndex:
        """The generation's keyword index, rebuilt from the stored terms when it is missing."""
        path = self.keywords_path(number)
        if not path.exists():
            tmp = self._tmp(path)
            KeywordIndex.build(StoredTerms.rows(db), tmp)
            try:
                KeywordIndex.save(tmp, path)
            except OSError:  # another process rebuilt it first
                shutil.rmtree(tmp, ignore_errors=True)
        return KeywordIndex.open(path)

    @staticmethod
    def _tmp(path: Path) -> Path:
        """Where ``path`` is written before its rename: unique to this process."""
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        return tmp

    def write(self, index: VectorIndex, number: int) -> None:
        path = self.path(number)
        tmp = path.with_suffix(path.suffix + ".tmp")
        index.save(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        # the rename itself must survive a power loss before the database names the file
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def write_keywords(self, live: int, number: int, removed: Sequence[int],
                       added: Iterable[tuple[int, str]]) -> KeywordIndex:
        """Generation ``number``'s keyword index: generation ``live``'s with the chunks
        ``removed`` and ``added`` (a new one from ``added`` when there is none)."""
        path = self.keywords_path(number)
        tmp = self._tmp(path)
        source = self.keywords_path(live)
        if live and source.exists():
            KeywordIndex.updated(source, tmp, removed, added)
        else:
            KeywordIndex.build(added, tmp)
        shutil.rmtree(path, ignore_errors=True)  # an orphan of a crashed publish
        KeywordIndex.save(tmp, path)
        return KeywordIndex.open(path)

    def announce(self, live: int) -> None:
        """Point what lies outside the database (a Milvus alias) at the published generation.

        Called after the database names it, on every publish: a crash in between
        leaves the alias one generation behind until the next publish.
        """
        if live:
            self.index_class.publish(self.path(live))

    def prune(self, live: int) -> None:
        """Keep the live generation and those a slow reader may hold; retire the rest,
        with the orphans of a crashed publish (newer than live, or half written)."""
        kept: list[Path] = []
        dropped: list[Path] = []
        for path in self.settings.index_dir.glob("vectors-*"):
            (kept if self._kept(path, live) else dropped).append(path)
        self.index_class.retire(dropped, kept)
        for path in self.settings.index_dir.glob("keywords-*"):
            if not self._kept(path, live) or path != self.keywords_path(self._number(path)):
                shutil.rmtree(path, ignore_errors=True)  # old, half written or another analysis

    def _kept(self, path: Path, live: int) -> bool:
        number = self._number(path)
        return live - self.settings.generations_kept < number <= live and path.suffix != ".tmp"

    @staticmethod
    def _number(path: Path) -> int:
        try:
            return int(path.name.split("-")[1].split(".")[0])
        except ValueError:
            return -1


class LiveGeneration:
    """The published generation as each caller reads the database, loaded once and kept.

    The last ``generations_kept`` stay loaded; a query holds the object it got for its whole
    run, so a publish in the meantime never changes the index under it.
    """

    def __init__(self, database: Database, files: GenerationFiles) -> None:
        self._database = database
        self._files = files
        self._loaded: dict[int, Generation] = {}  # the recent generations, by number
        self._lock = threading.Lock()

    def current(self) -> Generation:
        """The generation the database publishes, as this caller reads it: inside a database
        snapshot the one of its snapshot, so that a query ranks on the index whose rows it
        then reads, even if a writer has published since."""
        with self._database.connect() as db:
            number = published_number(db)
            loaded = self._loaded.get(number)
            if loaded is not None:
                return loaded
            with self._lock:
                if number and number not in self._loaded and self._loaded \
                        and not self._files.path(number).exists():
                    return self._loaded[max(self._loaded)]  # pruned under a very slow reader
                if number not in self._loaded:
                    self._loaded[number] = self._files.load(db)
                    for old in sorted(self._loaded)[:-self._files.settings.generations_kept]:
                        del self._loaded[old]
                return self._loaded[number]
