"""Benchmarks: scripts that print one figure per line beside a baseline measured in the same run."""
