"""Unit tests of the seven stages, one file per stage."""
