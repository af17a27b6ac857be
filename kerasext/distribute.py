"""kerasext.distribute: Keras 3 under MultiWorkerMirroredStrategy."""
