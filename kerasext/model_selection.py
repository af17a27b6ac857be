"""kerasext.model_selection: k-fold cross-validation of Keras models."""
