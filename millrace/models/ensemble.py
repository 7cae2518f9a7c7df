"""A weighted ensemble of trained table models: the weighted average of its members' probabilities (or values),
exported and served as one ONNX graph.

The members are ordinary train folders under `members/<i>/` (a tree, linear or network model each, with its own
model.json), all fitted on the same training split with the same input plan, so one encoded feature matrix feeds
them all. `ensemble.json` holds the weights, which `select` fitted on the members' held-out outputs
(millrace/training/portfolio.py `blend`). The ONNX graph holds every member's graph (their names prefixed) behind
the one input, and a weighted sum in front of the one output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from millrace.errors import MillraceError

FILE = "ensemble.json"  # the weights; the members are train folders beside it
MEMBERS = "members"


@dataclass
class EnsembleModel:
    task: str
    classes: int
    members: list[Any]  # millrace.models.trained_model.Trained, one per member, each answering for its engine
    weights: list[float]

    def member_outputs(self, member, features: np.ndarray) -> np.ndarray:
        return member.outputs({member.plan.input_names[0]: features}).astype(np.float32)

    def outputs(self, features: np.ndarray) -> np.ndarray:
        """The weighted average of the members' probabilities (N × classes) or values (N), float32."""
        parts = zip(self.members, self.weights, strict=True)
        total = sum(w * self.member_outputs(m, features).astype(np.float64) for m, w in parts)
        return np.asarray(total, dtype=np.float32)

    def nodes(self) -> int:
        """Every member's size added up (nodes, coefficients or parameters)."""
        return int(sum(member.size() for member in self.members))

    def gains(self, width: int) -> np.ndarray:
        """Each encoded feature's importance: the members' importance shares, weighted (a network has none)."""
        total = np.zeros(width, dtype=np.float64)
        for member, weight in zip(self.members, self.weights, strict=True):
            gains = member.gains(width)
            if gains is not None:
                total += weight * gains / (gains.sum() or 1.0)
        return total

    def to_onnx(self, width: int, input_name: str, output_name: str):
        """One graph: the members' graphs behind the one input, their outputs weighted and summed."""
        from onnx import TensorProto, compose, helper, numpy_helper

        graphs = [compose.add_prefix(m.graph(width, input_name), f"m{i}_") for i, m in enumerate(self.members)]
        nodes, initializers, terms = [], [], []
        for i, (graph, weight) in enumerate(zip(graphs, self.weights, strict=True)):
            nodes.append(helper.make_node("Identity", [input_name], [f"m{i}_{input_name}"]))
            nodes.extend(graph.graph.node)
            initializers.extend(graph.graph.initializer)
            initializers.append(numpy_helper.from_array(np.array(weight, dtype=np.float32), f"ensemble_w{i}"))
            nodes.append(helper.make_node("Mul", [graph.graph.output[0].name, f"ensemble_w{i}"], [f"ensemble_t{i}"]))
            terms.append(f"ensemble_t{i}")
        nodes.append(helper.make_node("Sum", terms, [output_name]))
        shape = [None, None] if self.task == "classification" else [None]
        combined = helper.make_graph(
            nodes,
            "ensemble",
            [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [None, width])],
            [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, shape)],
            initializers,
        )
        opsets: dict[str, int] = {}
        for graph in graphs:
            for opset in graph.opset_import:
                opsets[opset.domain] = max(opsets.get(opset.domain, 0), opset.version)
        model = helper.make_model(
            combined, opset_imports=[helper.make_opsetid(domain, version) for domain, version in sorted(opsets.items())]
        )
        model.ir_version = max(graph.ir_version for graph in graphs)
        for graph in graphs:
            model.functions.extend(graph.functions)
        return model


def read_weights(directory: Path) -> list[float]:
    path = directory / FILE
    if not path.is_file():
        raise MillraceError(f"no trained model at {path}; run the train stage first")
    try:
        return [float(w) for w in json.loads(path.read_text())["weights"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise MillraceError(f"{path} is damaged: {exc}; rerun the train stage") from None


def save_weights(out: Path, weights: list[float], members: list[dict[str, Any]]) -> None:
    from millrace.files import write_json

    write_json(out / FILE, {"weights": weights, "members": members})
