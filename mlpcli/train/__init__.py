"""Training: the minibatch loop (``loop``), config -> trained model (``fit``), checkpoints,
augmentation, and the graceful stop on Ctrl-C (``stop``)."""
