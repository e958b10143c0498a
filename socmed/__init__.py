"""socmed-pipeline: social-media metrics into a SQL warehouse."""

from socmed.allocators import configure as _configure_allocators

__version__ = "0.1.0"

_configure_allocators()  # before Polars or pyarrow is loaded: see socmed/allocators.py
