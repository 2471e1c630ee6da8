"""``evaluate --baseline``: a model against a baseline model on the same labelled images."""

from __future__ import annotations


def run_compare(
    model_dir,
    baseline_dir,
    data_path,
    on_error: str = "fail",
    max_pixels: int | None = None,
    metric: str = "accuracy",
    max_drop: float = 0.5,
    alpha: float = 0.05,
    tta: str | None = None,
) -> dict:
    """``baseline.compare`` of the model of ``model_dir`` (NEW) against ``baseline_dir`` (OLD),
    both scored on the images of ``data_path``, plus ``model``, ``baseline``, ``data``,
    ``skipped`` and ``tta`` ({"new", "old"}: the test-time augmentation each used: ``tta`` for
    both if given, else each model's recorded ``train.tta``). The models must have the same
    classes; each sees the images as it was trained (its size, resize policy and color)."""
    from ..artifacts import load_model
    from ..baseline import compare
    from ..errors import ArtifactError
    from .using import with_tta

    new, old = with_tta(load_model(model_dir), tta), with_tta(load_model(baseline_dir), tta)
    if list(new.class_names) != list(old.class_names):
        raise ArtifactError(
            f"{model_dir} and {baseline_dir} have different classes ({', '.join(new.class_names)} "
            f"vs {', '.join(old.class_names)}); a baseline must classify into the same classes"
        )
    labels, new_probabilities, dataset = _scored(new, data_path, on_error, max_pixels)
    if old.preprocess == new.preprocess:
        old_probabilities = old.predict_proba(dataset.images)
    else:
        old_labels, old_probabilities, old_dataset = _scored(old, data_path, on_error, max_pixels)
        if (old_labels != labels).any() or old_dataset.sources != dataset.sources:
            raise ArtifactError(f"{data_path}: the two models did not read the same images (skipped files differ)")
    sources = dataset.sources or [f"{data_path}#{i}" for i in range(len(labels))]
    result = compare(labels, new_probabilities, old_probabilities, new.class_names, sources, metric, max_drop, alpha)
    return {
        "model": str(model_dir),
        "baseline": str(baseline_dir),
        "data": str(data_path),
        **result,
        "skipped": dataset.skipped,
        "tta": {"new": new.tta, "old": old.tta},
    }


def _scored(model, data_path, on_error, max_pixels):
    """(labels, probabilities, dataset) of ``model`` on ``data_path``, decoded by the model's
    preprocessing (``shape.Preprocess``: size, resize policy, color), as ``evaluate`` does."""
    from ..data import DEFAULT_MAX_IMAGE_PIXELS, load_labelled, relabel

    dataset = load_labelled(data_path, model.preprocess, on_error, max_pixels or DEFAULT_MAX_IMAGE_PIXELS)
    labels = relabel(dataset, model.class_names, data_path)
    return labels, model.predict_proba(dataset.images), dataset
