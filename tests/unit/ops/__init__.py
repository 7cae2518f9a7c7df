"""Unit tests of millrace.ops, one file per module."""
