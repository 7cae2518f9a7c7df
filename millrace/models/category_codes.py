"""Categorical columns as category codes for the tree libraries that split on categories natively.

The fitted plan gives every model one float matrix, a categorical column as a one-hot block. LightGBM and XGBoost
split better on a column of category codes (a split can send any subset of categories left, where one-hot
needs a split per category), and their ONNX converters handle those splits: the graph agrees with the library
to ~1e-7 on codes, missing and unseen ones included (tests/unit/models/test_trees.py). So these families read
each block back as one column: code k for the block's k-th position, NaN where no position is set (a missing
or unseen value without a bucket). The deployed graph does the same in front of the trees, so it still takes the
plan's matrix and the server, the edge loader and an ensemble's other members are unchanged. CatBoost keeps
one-hot: its ONNX export takes no categorical features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from millrace.models.onnx_output import ONNX_OPSET

ONE_HOT_ROLES = ("categorical", "high_cardinality")  # the plan's roles encoded as one-hot blocks


@dataclass(frozen=True)
class CategoryCodes:
    width: int  # the plan's feature count
    blocks: tuple[tuple[int, int], ...]  # each one-hot block's (first position, width), in order

    @classmethod
    def of(cls, plan) -> CategoryCodes | None:
        """The plan's one-hot blocks, or None for a plan without any."""
        from millrace.inputs.table_transform import column_width

        blocks, at = [], 0
        for column in plan.transform.columns:
            width = column_width(column)
            if column["role"] in ONE_HOT_ROLES and width > 0:
                blocks.append((at, width))
            at += width
        return cls(at, tuple(blocks)) if blocks else None

    @classmethod
    def from_json(cls, found: dict | None) -> CategoryCodes | None:
        return None if found is None else cls(int(found["width"]), tuple(tuple(b) for b in found["blocks"]))

    def to_json(self) -> dict:
        return {"width": self.width, "blocks": [list(block) for block in self.blocks]}

    def segments(self) -> list[tuple[bool, int, int]]:
        """(is a one-hot block, start, end) runs covering every position, in order."""
        runs, at = [], 0
        for start, width in self.blocks:
            if start > at:
                runs.append((False, at, start))
            runs.append((True, start, start + width))
            at = start + width
        if at < self.width:
            runs.append((False, at, self.width))
        return runs

    @property
    def categorical(self) -> list[int]:
        """The coded matrix's columns that hold category codes."""
        found, at = [], 0
        for block, start, end in self.segments():
            if block:
                found.append(at)
            at += 1 if block else end - start
        return found

    @property
    def coded_width(self) -> int:
        return sum(1 if block else end - start for block, start, end in self.segments())

    def apply(self, features: np.ndarray) -> np.ndarray:
        """The plan's matrix with each one-hot block replaced by its code column (float32, NaN for none)."""
        parts = []
        for block, start, end in self.segments():
            if not block:
                parts.append(features[:, start:end])
                continue
            hot = features[:, start:end]
            codes = hot.argmax(axis=1).astype(np.float32)
            codes[hot.max(axis=1) <= 0] = np.nan
            parts.append(codes[:, None])
        return np.concatenate(parts, axis=1).astype(np.float32)

    def spread(self, coded: np.ndarray) -> np.ndarray:
        """Per-code-column figures (split gains) back on the plan's positions: a block's at its first position."""
        out = np.zeros(self.width, dtype=np.float64)
        at = 0
        for block, start, end in self.segments():
            if block:
                out[start] = coded[at]
                at += 1
            else:
                out[start:end] = coded[at : at + end - start]
                at += end - start
        return out

    def prepend(self, graph, input_name: str):
        """`graph` (over the coded matrix, its one input) behind nodes computing the codes from `input_name`, the
        plan's matrix: the same as `apply`, in ONNX (Slice, ArgMax, GatherElements, Where, Concat)."""
        from onnx import TensorProto, helper, numpy_helper

        inner = graph.graph.input[0].name
        nodes, constants, parts = [], [], []

        def constant(name: str, value) -> str:
            constants.append(numpy_helper.from_array(np.asarray(value), f"codes_{name}"))
            return f"codes_{name}"

        axis, nan, zero = constant("axis", [1]), constant("nan", np.float32(np.nan)), constant("zero", np.float32(0))
        for i, (block, start, end) in enumerate(self.segments()):
            piece = f"codes_slice{i}"
            bounds = constant(f"start{i}", [start]), constant(f"end{i}", [end])
            nodes.append(helper.make_node("Slice", [input_name, *bounds, axis], [piece]))
            if not block:
                parts.append(piece)
                continue
            nodes += [
                helper.make_node("ArgMax", [piece], [f"{piece}_at"], axis=1, keepdims=1),
                helper.make_node("Cast", [f"{piece}_at"], [f"{piece}_code"], to=TensorProto.FLOAT),
                # the value at the arg max, not ReduceMax: its axes moved from attribute to input in opset 18
                helper.make_node("GatherElements", [piece, f"{piece}_at"], [f"{piece}_max"], axis=1),
                helper.make_node("LessOrEqual", [f"{piece}_max", zero], [f"{piece}_none"]),
                helper.make_node("Where", [f"{piece}_none", nan, f"{piece}_code"], [f"{piece}_coded"]),
            ]
            parts.append(f"{piece}_coded")
        nodes.append(helper.make_node("Concat", parts, [inner], axis=1))
        old = list(graph.graph.node)
        del graph.graph.node[:]
        graph.graph.node.extend(nodes + old)
        graph.graph.initializer.extend(constants)
        del graph.graph.input[:]
        graph.graph.input.append(helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [None, self.width]))
        # The converters declare the lowest default-domain opset their graph needs, or none for a graph of
        # ai.onnx.ml operators only.
        default = [opset for opset in graph.opset_import if opset.domain in ("", "ai.onnx")]
        for opset in default:
            opset.version = max(opset.version, ONNX_OPSET)
        if not default:
            graph.opset_import.append(helper.make_opsetid("", ONNX_OPSET))
        return graph
