"""Prefect flows: they wire the stages together and own nothing else."""

import socmed  # noqa: F401  first: it tunes the memory allocators before Polars loads
