"""Unit tests of millrace.training, one file per module."""
