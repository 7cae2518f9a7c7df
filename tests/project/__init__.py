"""Whole-project consistency: dvc.yaml, params.yaml, the code, the docs, the dependency lock and the presets agree."""
