"""Unit tests of millrace.evaluation, one file per module."""
