"""Hyperparameter search: drawing trials (``space``), successive halving (``halving``), the plan
(``plan``), running its units rung by rung (``run``), ranking them (``results``) and the live
table (``table``). The section itself is parsed in ``config.search``; units run on ``units``.
"""
