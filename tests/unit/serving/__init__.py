"""Unit tests of millrace.serving, one file per module."""
