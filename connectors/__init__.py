"""httpx connectors, one module per platform; they yield raw responses and never write files."""

import socmed  # noqa: F401  first: it tunes the memory allocators before Polars loads
