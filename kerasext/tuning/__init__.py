"""kerasext.tuning."""
