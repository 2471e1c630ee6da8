"""One ``run_*`` function per command: composition of the packages, no logic of its own.

``cli`` parses and prints; these take plain values, return plain data and are what tests and
scripts call. Heavy modules are imported inside the functions so ``--help`` stays fast.
"""

from .tools import GRADCHECK_TOLERANCE, run_gradcheck, run_lr_find, run_synth
from .training import run_kfold, run_search, run_train
from .using import run_evaluate, run_features_show, run_predict, run_show

__all__ = [
    "GRADCHECK_TOLERANCE",
    "run_evaluate",
    "run_features_show",
    "run_gradcheck",
    "run_kfold",
    "run_lr_find",
    "run_predict",
    "run_search",
    "run_show",
    "run_synth",
    "run_train",
]
