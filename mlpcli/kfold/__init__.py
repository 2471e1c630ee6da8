"""k-fold cross-validation: how good a configuration really is, and which weights to keep.

``folds`` splits rows and expands grids, ``run`` plans and trains every fold (here or in worker
processes), ``select`` scores the folds and keeps the best fold or the ensemble of all folds.
"""
