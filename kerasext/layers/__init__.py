"""kerasext.layers."""
