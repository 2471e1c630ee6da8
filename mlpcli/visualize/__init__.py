"""See what a run learned: summaries, Pillow image tiles and (optional) matplotlib plots.

- ``run_pictures``: what `mlpcli show` draws for a run (weights, curves, confusion, k-fold).
- ``tiles``: Pillow-only helpers that scale arrays to pixels and lay them out in labelled grids.
- ``weights``: class templates, first-layer units and first-convolution filters as tiles.
- ``strokes`` and ``features_picture``: HOG cells as oriented strokes and color histograms as bars.
- ``plots``: learning curves, confusion heatmap and k-fold bars; needs matplotlib, the ``plot``
  extra (``pip install "mlpcli[plot]"``), checked with ``plots.available()``.

The commands that draw them are `show` and `features show` in ``mlpcli.commands``.
"""
