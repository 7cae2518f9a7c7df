"""Unit tests of millrace.release, one file per module."""
