"""Pure Polars transforms: raw pages -> frames of the common schema."""
