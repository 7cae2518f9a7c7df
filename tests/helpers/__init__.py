"""Helpers the tests share: the end-to-end harness, a loopback HTTP server, the import graph of the source."""
