"""Benchmark scorers for the public annotated corpora in ``../shared/data``."""
