"""Prefect flows around the DVC pipeline: they schedule and observe; DVC decides what to run."""
