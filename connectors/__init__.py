"""httpx connectors, one module per platform; they yield raw responses and never write files."""
