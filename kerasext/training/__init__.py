"""kerasext.training."""
