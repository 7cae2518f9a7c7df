"""Unit tests of millrace.quality, one file per module."""
