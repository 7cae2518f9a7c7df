"""The one output every millrace ONNX graph ends in, for the graphs the tree and linear converters make.

The converters give a classifier two outputs (label, probabilities) and a regressor values of shape N × 1; serving
reads one output, named as every millrace graph names it (`probabilities`, or `prediction` of shape N).
"""

from __future__ import annotations

import numpy as np

ONNX_OPSET = 15  # the highest onnxmltools 1.16 converts to; skl2onnx is held to the same


def single_output(graph, name: str, task: str):
    """Keep only the output serving reads, named as every millrace graph names it; regression values flat."""
    from onnx import helper, numpy_helper

    outputs = list(graph.graph.output)
    chosen = outputs[-1] if task == "classification" else outputs[0]  # [label, probabilities] / [variable]
    del graph.graph.output[:]
    if task == "classification" and chosen.name == name:
        graph.graph.output.append(chosen)
        return graph
    if task == "classification":
        node = helper.make_node("Identity", [chosen.name], [name])
        shape = [None, None]
    else:
        graph.graph.initializer.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat_shape"))
        node = helper.make_node("Reshape", [chosen.name, "flat_shape"], [name])
        shape = [None]
    graph.graph.node.append(node)
    graph.graph.output.append(helper.make_tensor_value_info(name, 1, shape))  # 1: float
    return graph
