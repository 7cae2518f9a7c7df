"""Unit tests of millrace.models, one file per module."""
