"""Hyperparameter search: search spaces (``space``), successive halving (``halving``) and the unit
scheduler that runs work on local processes or a Dask cluster (``scheduler``).

Nothing is imported here, so ``import mlpcli.search.space`` does not load the scheduler.
"""
