"""LoRA on MiniLM saves only the adapters and the head, and loads back to the same outputs."""

import pandas as pd
import torch

from millrace.models import network, trained_model
from tests.helpers.models import HEAD, build_minilm

LORA = 6 * 2 * (8 * 384 + 384 * 8)  # 6 layers × query, value × (A + B) at r = 8


def test_lora_saves_only_adapters_and_head_and_loads_back_to_the_same_outputs(text_plan, tmp_path):
    model, spec = build_minilm(text_plan, "lora")
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_()  # as if trained: B starts at zero
    meta = {"family": "text_minilm", "task": "classification", "model": spec, "classes": list("abcd")}
    network.save(tmp_path, model, meta, text_plan)
    from safetensors.torch import load_file

    saved = load_file(str(tmp_path / network.WEIGHTS))
    assert all("lora_" in k or k.startswith("head.") for k in saved)
    assert sum(v.numel() for v in saved.values()) == LORA + HEAD
    frame = pd.DataFrame({"text": ["where is my parcel", "I was charged twice"]})
    inputs = [torch.from_numpy(text_plan.encode(frame)[n]) for n in text_plan.input_names]
    loaded = trained_model.load(tmp_path)
    with torch.no_grad():
        torch.testing.assert_close(loaded.backbone(*inputs), model.eval()(*inputs))
        merged = loaded.backbone.for_export()(*inputs)
    torch.testing.assert_close(merged, model(*inputs), atol=1e-5, rtol=1e-4)
