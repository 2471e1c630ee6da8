"""Comparing a model with a baseline on the same images: is NEW worse than OLD, and is the drop real?

``stats`` has the paired statistics (exact McNemar test, the difference's 95% interval),
``compare`` builds the comparison from both models' probabilities, ``markdown`` writes it for a
pull-request comment or ``$GITHUB_STEP_SUMMARY``.
"""

from .compare import compare
from .markdown import render

__all__ = ["compare", "render"]
