"""The pieces of a Lightning training run: system, datamodule, callbacks, logger, resuming."""
