"""Exports that are the same bytes wherever and whenever they are made.

torch's ONNX exporter records, in each node's metadata, the Python call stack that produced it, with
absolute paths of the project and the virtual environment; TorchScript archives carry a random
serialisation id and the source (with its paths) of every scripted module for error messages. Either
would make the deployed bundle's hash, recorded in dvc.lock, differ between two checkouts of the same
commit. These functions remove exactly that and nothing the runtimes use.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

STACK_TRACE = "pkg.torch.onnx.stack_trace"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: entries carry no build time


def strip_source_paths(graph: Path) -> None:
    """Drop the call-stack metadata (absolute source paths) from every node of an ONNX file, in place."""
    import onnx

    model = onnx.load(str(graph))
    for node in _nodes(model.graph):
        kept = [entry for entry in node.metadata_props if entry.key != STACK_TRACE]
        if len(kept) != len(node.metadata_props):
            del node.metadata_props[:]
            node.metadata_props.extend(kept)
    onnx.save(model, str(graph))


def _nodes(graph):
    for node in graph.node:
        yield node
        for attribute in node.attribute:  # subgraphs of If / Loop / Scan
            for sub in [attribute.g, *attribute.graphs]:
                yield from _nodes(sub)


def normalise_torchscript(archive: Path) -> None:
    """Rewrite a TorchScript archive without its debug sources, with a serialisation id derived from its
    content and fixed entry times; torch.jit.load reads it as before."""
    with zipfile.ZipFile(archive) as packed:
        entries = [(info.filename, packed.read(info)) for info in packed.infolist()]
    kept = [(name, data) for name, data in entries if not name.endswith(".debug_pkl")]
    digest = hashlib.sha256()
    for name, data in kept:
        if not name.endswith("/serialization_id"):
            digest.update(name.encode() + b"\0" + data)
    identity = str(int(digest.hexdigest()[:32], 16)).zfill(40)[:40].encode()  # 40 digits, as torch writes it
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as packed:
        for name, data in kept:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            packed.writestr(info, identity if name.endswith("/serialization_id") else data)
