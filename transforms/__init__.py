"""Pure Polars transforms: raw pages -> frames of the common schema."""

import socmed  # noqa: F401  first: it tunes the memory allocators before Polars loads
