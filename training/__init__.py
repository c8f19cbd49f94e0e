"""Offline training and evaluation: intent models (and, alongside, other models and workflows)."""
