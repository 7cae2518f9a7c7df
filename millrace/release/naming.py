"""A model's name in the release registry: `deploy.model_name`, or `<dataset>-<target>` derived from the data
section, so that a model for another dataset or target gets releases of its own.

Works on plain dicts (a manifest's recorded params) as well as on the validated params.
"""

from __future__ import annotations

from typing import Any

from millrace.sources.names import dataset_name, slug


def model_name_of(data: dict[str, Any], deploy: dict[str, Any]) -> str:
    """The registry name for params given as dicts (as a manifest records them)."""
    if deploy.get("model_name"):
        return deploy["model_name"]
    # a language model has no target: its task names it (reviews-sft), apart from a classifier of the same data
    return slug(f"{dataset_name(data.get('source') or {}) or 'data'}-{data.get('target') or data.get('task', '')}")


def model_name(params) -> str:
    return model_name_of(params.data.model_dump(mode="json"), params.deploy.model_dump(mode="json"))


def of_manifest(manifest: dict[str, Any]) -> str:
    """The model a bundle belongs to: recorded by deploy, or derived from its recorded params (older bundles)."""
    if manifest.get("model_name"):
        return manifest["model_name"]
    params = manifest.get("params") or {}
    return model_name_of(params.get("data") or {}, params.get("deploy") or {})
