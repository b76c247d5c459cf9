"""One typed settings object for the whole service.

Values come, highest first, from keyword arguments, ``BRIDGE_*`` environment
variables, a TOML file (``BRIDGE_CONFIG``, else ``bridge.toml`` in the working
directory when present) and the defaults below. It lives in ``search`` because
every layer needs it and ``search`` is the one layer all others may import.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from search.records import SearchMode

DEFAULT_CONFIG_FILE = "bridge.toml"


def _config_file() -> Path:
    return Path(os.environ.get("BRIDGE_CONFIG", DEFAULT_CONFIG_FILE))


class Settings(BaseSettings):
    """Every tunable of Knowledge Bridge; see README "Configuration"."""

    model_config = SettingsConfigDict(env_prefix="BRIDGE_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Where the database and index live.")
    cache_dir: Path = Field(
        Path.home() / ".cache" / "knowledge-bridge",
        description="Where converted models are cached.",
    )
    model: str = Field(
        "multilingual-e5-small",
        description="Embedding model: a built-in name, a local folder or a hub id.",
    )
    index_backend: str = Field("faiss", description="Vector index backend (see search.index).")
    index_exact_limit: int = Field(
        200_000, ge=1, description="Vectors up to which the index is exact; past it the next "
        "publish rebuilds it approximate (IVF-SQ8; see search.index.faiss_index).")
    ivf_nprobe: int = Field(32, ge=1, le=4096,
                            description="Inverted lists an approximate index scans per query.")
    milvus_uri: str | None = Field(
        None, description="Milvus to hold the vectors when index_backend is 'milvus': a server "
        "URI (http://host:19530) or a Milvus Lite file (default: milvus.db in data_dir).")
    milvus_token: str | None = Field(None, description="Milvus credentials (user:password or "
                                     "an API key); None for Milvus Lite.")
    milvus_collection_prefix: str = Field(
        "bridge", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Names this data "
        "directory's Milvus collections (one per index generation) and its live alias.")
    language_centering: float = Field(
        1.0, ge=0, le=1, description="How much of each language's offset to remove from "
        "vectors (0 = off); offsets come from a parallel reference text in en, fr, de, es, "
        "it, pt and nl, other languages stay as they are (see search.centering).")
    encoder_precision: Literal["float32", "int8"] = Field(
        "float32", description="Opt-in fast mode: 'int8' quantises the encoder (faster on a "
        "CPU, slightly less accurate; README \"Fast mode\"). An index remembers its precision.")
    query_runtime: Literal["onnx-int8", "onnx", "torch"] = Field(
        "onnx-int8", description="What embeds search queries: 'onnx' runs the model's "
        "pipeline, exported once under cache_dir/onnx, in ONNX Runtime (torch's vectors, "
        "about half the time a query); 'onnx-int8', the default, the same graph with most "
        "weights in int8 (faster again; the vectors move a little: docs/quality.md); "
        "'torch' keeps them on torch. int8 and GPU encoders use torch.")
    embed_batch_size: int = Field(32, ge=1, le=1024)
    ingest_engine: Literal["local", "ray"] = Field(
        "local", description="Who parses, chunks and embeds: this machine ('local') or a Ray "
        "cluster ('ray'); both publish the same kind of generation.")
    ray_address: str | None = Field(
        None, description="Ray cluster to join for the 'ray' engine (None: start a local one).")
    ingest_workers: int = Field(
        0, ge=0, le=256, description="Processes that parse and chunk while the encoder "
        "embeds, on cores it leaves (0, the default: in the encoding process, between "
        "encoder calls; README \"Scale\" says when a pool pays).")
    torch_threads: int | None = Field(
        None, ge=1, le=256, description="Torch, ONNX Runtime and FAISS (OpenMP) CPU threads of "
        "this process (default: their own choice). 1 keeps query latency steady on a small, "
        "busy machine.")
    chunk_tokens: int = Field(200, ge=32, le=510, description="Token budget of one chunk.")
    chunk_overlap_tokens: int = Field(24, ge=0, le=128)
    commit_every_chunks: int = Field(
        2000, ge=1, description="Publish the index after this many new chunks during an ingest."
    )
    generations_kept: int = Field(
        2, ge=2, description="Index generations kept on disk: the live one and those a slow "
        "reader may still hold.")
    sources_file: Path | None = Field(
        None, description="YAML or TOML file listing the folders `bridge reindex` reads.")
    reindex_cron: str | None = Field(
        None, description="Cron expression: `bridge serve` re-indexes the sources on it.")
    languages: list[str] = Field(
        ["en", "fr", "de", "es", "it", "pt", "nl"],
        description="ISO 639-1 codes the language detector chooses among.",
    )
    office_regions: dict[str, str] = Field(
        {"boston": "US", "paris": "EU", "berlin": "EU", "madrid": "EU", "london": "EU"},
        description="Region implied by an office (lower-case name) when no source says.",
    )
    search_mode: SearchMode = Field(SearchMode.hybrid, description="Default search mode.")
    fusion_k: int = Field(60, ge=1, description="RRF constant: higher flattens rank differences.")
    fusion_depth: int = Field(100, ge=10, le=2000,
                              description="Candidates each list contributes to hybrid fusion.")
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense list in fusion.")
    lexical_weight: float = Field(1.0, ge=0, description="Weight of the keyword list in fusion.")
    exact_match_gap: float = Field(
        1.5, ge=0, description="Hybrid: keyword scores this many times the next one's are an "
        "exact match and come first (a name, a code); 0 turns the rule off. See search.fusion.")
    exact_match_chunks: int = Field(
        5, ge=1, le=50, description="Most chunks an exact match may put first.")
    exact_match_terms: int = Field(
        4, ge=1, description="Most content words of a query that names something (one of "
        "them rare in every language or a code; search.naming); a longer one describes.")
    filters_kept: int = Field(
        16, ge=1, le=1024, description="Filters whose chunks stay in memory until the next "
        "publish: their chunk ids and, for a set of offices, a keyword index of their chunks "
        "alone (searches narrowed to offices are scored over them); each is made at its "
        "filter's first search.")
    max_phrase_matches: int = Field(10_000, ge=100,
                                    description="Most chunks a quoted phrase may select.")
    hits_per_document: int = Field(3, ge=1, le=20,
                                   description="Chunks shown under each document when grouped.")
    reranker_path: Path | None = Field(
        None, description="Local CrossEncoder folder; re-ranks the top hits when set.")
    rerank_depth: int = Field(20, ge=1, le=200, description="Hits the re-ranker re-orders.")
    duplicate_similarity: float = Field(
        0.93, gt=0, le=1, description="Cosine (language-centred) above which two chunks of "
        "different documents are near-duplicates; see search.near_duplicates.")
    duplicate_coverage: float = Field(
        0.6, gt=0, le=1, description="Share of each document's chunks that must have a "
        "near-duplicate in the other for the two documents to be near-duplicates.")
    bridge_candidates: int = Field(
        50, ge=5, le=1000, description="Nearest chunks of the target offices each source "
        "chunk contributes to a bridge query.")
    bridge_margin_k: int = Field(
        2, ge=1, le=50, description="Neighbours whose mean cosine divides a bridge pair's "
        "cosine (margin scoring; see search.bridges).")
    bridge_min_tokens: int = Field(
        20, ge=0, description="Chunks shorter than this (a greeting, a heading) in a document "
        "of several chunks neither start nor end a bridge, nor count on the map.")
    watch_threshold: float = Field(
        0.90, ge=0.5, le=1.0, description="Cosine (language-centred) a new passage needs "
        "to alert a watch, unless the watch sets its own (docs/watches.md has what each "
        "value keeps and lets through).")
    webhook_max_attempts: int = Field(
        6, ge=1, le=50, description="Tries of a watch alert's webhook before it is shown as "
        "failed.")
    webhook_backoff_s: float = Field(
        2.0, gt=0, le=3600, description="Wait before a webhook's second try, doubled at "
        "each later one.")
    webhook_timeout_s: float = Field(10.0, gt=0, le=120, description="One webhook POST's "
                                     "time limit.")
    webhook_allow_private: bool = Field(
        False, description="Let webhooks reach loopback and private addresses (a receiver on "
        "this machine or its network). Off, a key holder cannot make the server POST inside "
        "its network.")
    webhook_poll_s: float = Field(1.0, gt=0, le=60, description="How often the server "
                                  "looks for alerts to deliver.")
    bridge_margins_ahead: int = Field(
        20_000, ge=0, description="Up to this many chunks, a server computes every chunk's "
        "margin neighbourhood as it loads a generation, in the background, so that a "
        "document's first bridges find them ready (the work grows with the square of the "
        "chunks; 0: off). A key limited to offices still computes its own at first use.")
    bridge_source_chunks: int = Field(
        256, ge=1, description="Most chunks of a long source document a bridge query uses.")
    term_similarity: float = Field(
        0.925, gt=0, le=1, description="Cosine at which two words pair by meaning when "
        "explaining a bridge; see search.term_alignment.")
    store_word_vectors: bool = Field(
        True, description="Embed and store the words of new chunks at publish, so a "
        "document's first bridges explain themselves at once; off, an ingest is faster and "
        "those words are embedded when a bridge asks (search.word_vectors).")
    map_link_similarity: float = Field(
        0.9, gt=0, le=1, description="Cosine (language-centred) at which a chunk's nearest "
        "chunk in another office makes it a bridge on the map; see search.bridge_map.")
    map_themes: int | None = Field(
        None, ge=1, le=200, description="Themes on the map (default: from the chunk count).")
    map_theme_min_share: float = Field(
        0.2, gt=0, le=1, description="Share of a theme's chunks (and at least 2) an office "
        "needs to count as covering it.")
    map_sample_chunks: int = Field(
        20_000, ge=100, description="Most chunks the map is drawn from (an even sample).")
    open_read_on_loopback: bool = Field(
        False, description="Laptop demo only: requests from this machine (loopback) may read "
        "without an API key. Every other route, and every other client, still needs one.")
    session_hours: float = Field(12.0, gt=0, le=24 * 90, description="How long a web page "
                                 "session lasts after signing in (sign-out and revoking the "
                                 "key end it sooner).")
    secure_cookies: bool = Field(
        False, description="Mark the session cookie Secure even when the request came over "
        "plain HTTP: set it when a TLS proxy in front of the server speaks HTTPS to browsers "
        "(requests that arrive over HTTPS get it anyway).")
    reindex_wait_s: float = Field(
        30.0, ge=0, le=3600, description="How long a re-index asked for over HTTP waits for "
        "the write lock (an upload job holds it only to publish) before it answers 409.")
    max_concurrent_queries: int = Field(
        4, ge=1, le=256, description="Queries (searches, bridges, the map) computed at once; "
        "more wait their turn (api.query_gate).")
    query_wait_s: float = Field(
        5.0, ge=0, le=600, description="Longest a query waits for its turn before it is "
        "refused with 429 and Retry-After.")
    max_concurrent_uploads: int = Field(4, ge=1, le=256, description="Uploads received at "
                                        "once; one more is refused with 429.")
    body_idle_timeout_s: float = Field(30.0, gt=0, le=3600, description="Longest silence "
                                       "while a request body arrives (408 beyond).")
    body_total_timeout_s: float = Field(600.0, gt=0, le=86400, description="Longest time a "
                                        "request body may take to arrive (408 beyond).")
    max_request_bytes: int = Field(
        1_000_000, ge=1_000, description="Largest request body, uploads aside (413 beyond).")
    max_upload_bytes: int = Field(
        50_000_000, ge=1_000, description="Largest uploaded file (413 beyond).")
    max_unzipped_bytes: int = Field(
        500_000_000, ge=1_000_000, description="Most bytes a DOCX or PPTX may inflate to (a zip "
        "bomb is refused before parsing).")
    max_pdf_pages: int = Field(
        5_000, ge=1, description="Most pages a PDF may have (refused before parsing beyond).")
    ocr: Literal["auto", "off", "force"] = Field(
        "auto", description="OCR (Tesseract) of scanned pages and pictures: 'auto' reads pages "
        "and pictures without a text layer, 'force' every page and picture, 'off' none (such "
        "files then fail with 'needs OCR').")
    ocr_languages: list[str] = Field(
        ["eng", "fra", "deu", "spa"], min_length=1, description="Tesseract languages OCR "
        "reads with (each needs its package, e.g. tesseract-ocr-fra).")
    ocr_dpi: int = Field(300, ge=72, le=600, description="Resolution scanned PDF pages are "
                         "rendered at for OCR.")
    ocr_page_timeout_s: float = Field(60.0, gt=0, le=3600, description="Most seconds OCR "
                                      "spends on one page or picture (then it is skipped).")
    ocr_min_chars: int = Field(
        30, ge=0, le=10_000, description="A PDF page with fewer letters and digits than this "
        "in its text layer is read by OCR (under ocr = 'auto').")
    log_json: bool = Field(False, description="Log one JSON object per line (with request ids).")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    default_k: int = Field(10, ge=1, le=100, description="Results a search returns when it "
                           "does not say (at most max_k).")
    max_k: int = Field(100, ge=1, le=1000, description="Most results one search may ask for "
                       "(422 beyond).")
    max_query_chars: int = Field(2000, ge=10, description="Longest query, or finding to "
                                 "bridge, in characters (422 beyond; the web page explains).")
    snippet_chars: int = Field(320, ge=40)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "bridge.sqlite3"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return init_settings, env_settings, toml


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
