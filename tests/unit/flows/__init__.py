"""Unit tests of flows/, one file per module."""
