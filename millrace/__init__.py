"""millrace, the library: everything the seven stages (stages/), the Prefect flows (flows/) and the `millrace`
command use, in packages by concern. docs/ARCHITECTURE.md maps what lives where."""

__version__ = "0.1.0"
