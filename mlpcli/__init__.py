"""mlpcli: train image classifiers the way a lecture on neural networks explains them."""

__version__ = "0.1.0"
