"""kerasext.models."""
