"""The deployed model behind HTTP and in batch: the app, the bundle, its guards, logs and telemetry."""
