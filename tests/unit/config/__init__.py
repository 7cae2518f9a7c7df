"""Unit tests of millrace.config, one file per module."""
