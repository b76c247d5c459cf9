"""Ingest: files to parsed documents to chunks to vectors, written through `search`."""
