"""kerasext.callbacks."""
