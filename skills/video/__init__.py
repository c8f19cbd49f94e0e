"""Video moderation: frame sampling with PyAV and the timeline of labels the vision skill gives."""
