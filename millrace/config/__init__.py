"""The params.yaml schema and the paths it declares."""
