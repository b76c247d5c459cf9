"""Retrieval evaluation on BEIR-format datasets: what ``bridge eval`` and the benchmarks score.

``beir`` reads a dataset folder, ``harness`` ingests its corpus into a scratch knowledge base
and runs its judged queries, ``metrics`` scores the rankings and ``report`` holds and prints
the figures. It drives ``ingest`` and ``search`` and knows nothing of HTTP, so the CLI and the
benchmarks share one way of measuring.
"""
