"""Search: the stored knowledge base (documents, chunks, vectors) and its queries.

This package knows neither ``ingest`` nor ``api``; both build on it.
"""
