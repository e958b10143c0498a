"""socmed-pipeline: social-media metrics into a SQL warehouse."""

__version__ = "0.1.0"
