"""k-fold cross-validation: how good a configuration really is, and which weights to keep.

``folds`` splits rows and summarizes fold scores, ``run`` plans and trains every fold (here, or as
units on ``units``' executors), ``select`` scores the folds and keeps the best fold or the
ensemble of all folds. A grid is expanded by ``config.grid_configs``.
"""
