"""Test-split metrics, baselines, the review page and the model card."""
