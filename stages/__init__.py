"""millrace stages: one module per pipeline stage, each a pure `run()` plus a thin CLI.

`dvc.yaml` runs every stage as `python -m stages.<name>`; importing this package has no side
effects and loads nothing heavy (no torch, Lightning, Great Expectations or Prefect).
"""

__version__ = "0.1.0"
