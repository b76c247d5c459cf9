"""API: the HTTP service (FastAPI) and the ``bridge`` command line, over ingest and search."""
