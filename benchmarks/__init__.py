"""Side-by-side ratio benchmarks of kerasext against Keras built-ins (`make bench`)."""
