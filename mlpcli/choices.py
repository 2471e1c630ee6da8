"""Values that both the library and ``--help`` need, in a module free of NumPy so that ``cli``
can show them without slowing ``--help`` or loading BLAS before ``--threads`` applies.
``data`` re-exports ``DEFAULT_MAX_IMAGE_PIXELS``; import it from there in library code."""

#: Pillow's own default for ``Image.MAX_IMAGE_PIXELS`` (about a quarter gigabyte of RGB pixels);
#: larger images are refused as possible decompression bombs unless ``data.max_image_pixels`` or
#: ``--max-pixels`` says otherwise.
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485

#: The metrics ``evaluate --fail-under`` can gate on (``--metric``).
GATE_METRICS = ("accuracy", "balanced_accuracy", "macro_f1")

#: Test-time augmentation (``train.tta``, ``predict/evaluate --tta``): none, or flip (the mean of
#: the probabilities of each image and its left-right mirror).
TTA_MODES = ("none", "flip")
