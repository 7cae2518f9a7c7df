"""Benchmarks: each measures millrace beside a reference in one run and prints the ratio."""
