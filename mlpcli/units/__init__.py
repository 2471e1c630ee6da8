"""Units of work and where they run: the executor interface (``executor``), local worker processes
(``local``), a Dask cluster (``cluster``) and the unit that trains one network (``training``).

Below ``kfold`` and ``search``, which both run their units here. Nothing is imported here, so
``import mlpcli.units.training`` does not load the executors.
"""
