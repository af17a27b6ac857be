"""kerasext.metrics."""
