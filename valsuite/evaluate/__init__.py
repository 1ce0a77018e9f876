"""Evaluation: the accuracy and latency loop, and one validation run from spec to record."""
