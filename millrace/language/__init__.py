"""Causal language models: the pretrained base and its tokenizer, and chat examples as training tokens."""
