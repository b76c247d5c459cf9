"""Embedding: text to normalised vectors with a sentence-transformers model.

It lives in ``search`` because a knowledge base is tied to the vector space of
one model: ingest embeds passages and search embeds queries with the same one.
"""

from search.embedding.encoder import Encoder, configured_encoder, load_encoder

__all__ = ["Encoder", "configured_encoder", "load_encoder"]
