"""Prefect flows: they wire the stages together and own nothing else."""
