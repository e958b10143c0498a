"""The throughput and memory benchmark: ``make bench`` (see docs/performance.md)."""
