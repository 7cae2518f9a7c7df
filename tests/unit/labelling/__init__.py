"""Unit tests of millrace.labelling, one file per module."""
