"""The catalogue of model families, their builders, and the trained model on disk."""
