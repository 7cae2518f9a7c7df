"""Unit tests of millrace.inputs, one file per module."""
