"""Adapters that speak plain HTTP to the outside world, the same on every backend."""
