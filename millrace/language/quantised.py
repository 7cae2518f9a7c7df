"""A language model's dynamic int8 variant for CPU serving: the weights of its Linear layers held in int8,
activations quantised as they come (torch's dynamic quantisation; embeddings and norms stay float).

It is made from the float weights whenever it is needed, the same way each time, so the server runs exactly the
model deploy measured. Deploy keeps it only if the validation perplexity rises by at most
`deploy.perplexity_tolerance`.
"""

from __future__ import annotations

import warnings


def int8(model):
    """A copy of `model` with int8 Linear layers (the float model is left as it was)."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch 2.13 marks its quantised tensor types deprecated; they still run
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*torch.ao.quantization.*deprecated.*")
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=False)
