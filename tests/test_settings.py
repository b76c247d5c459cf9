"""Settings: defaults, then a TOML file, then BRIDGE_* environment variables, then arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from search.settings import Settings


def test_file_then_environment_then_arguments(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text('port = 9001\nchunk_tokens = 128\nmodel = "all-MiniLM-L6-v2"\n'
                      'office_regions = { lyon = "EU" }\n', encoding="utf-8")
    monkeypatch.setenv("BRIDGE_CONFIG", str(config))
    monkeypatch.delenv("BRIDGE_PORT", raising=False)
    settings = Settings()
    assert (settings.port, settings.chunk_tokens, settings.model) == (9001, 128, "all-MiniLM-L6-v2")
    assert settings.office_regions == {"lyon": "EU"}

    monkeypatch.setenv("BRIDGE_PORT", "9002")
    monkeypatch.setenv("BRIDGE_DATA_DIR", str(tmp_path / "d"))
    settings = Settings()
    assert settings.port == 9002 and settings.db_path == tmp_path / "d" / "bridge.sqlite3"
    assert Settings(port=9003).port == 9003


def test_without_a_file_the_defaults_hold(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BRIDGE_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.delenv("BRIDGE_PORT", raising=False)
    settings = Settings()
    assert settings.model == "multilingual-e5-small" and settings.port == 8000


def test_bad_values_are_refused_with_the_field_named(monkeypatch) -> None:
    monkeypatch.setenv("BRIDGE_CHUNK_TOKENS", "5")
    with pytest.raises(ValidationError, match="chunk_tokens"):
        Settings()


def test_torch_threads_caps_faiss_too(settings_for) -> None:
    """One setting bounds every engine's CPU threads: FAISS's as the knowledge base opens,
    torch's and ONNX Runtime's where the encoder loads them. A search thread of FAISS left
    spinning would take the core the encoder was kept off."""
    import faiss

    from search.opening import open_knowledge_base

    before = faiss.omp_get_max_threads()
    try:
        faiss.omp_set_num_threads(2)
        kb = open_knowledge_base(settings_for("threads", torch_threads=1))
        assert faiss.omp_get_max_threads() == 1 and kb.encoder.threads == 1
    finally:
        faiss.omp_set_num_threads(before)
