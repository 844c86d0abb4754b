"""Retrieval: embedders, the vector store, the lexical index and hybrid search."""
