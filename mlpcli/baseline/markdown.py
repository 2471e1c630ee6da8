"""A comparison (``compare.compare``) as Markdown: for a pull-request comment or ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

VERDICT_MARK = {"ok": "passed", "worse": "FAILED", "cannot tell": "passed (cannot tell)"}


def _value(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def render(comparison: dict, new_name: str = "NEW", old_name: str = "OLD") -> str:
    """The whole report: verdict, metrics table, paired test, per-class and confusion changes,
    NEW's most confident mistakes."""
    parts = [
        _verdict(comparison, new_name, old_name),
        _metrics(comparison),
        _paired(comparison),
        _per_class(comparison),
        _confusion(comparison),
        _confident_wrong(comparison),
    ]
    return "\n\n".join(parts) + "\n"


def _verdict(comparison: dict, new_name: str, old_name: str) -> str:
    gate = comparison["gate"]
    return (
        f"## mlpcli: `{new_name}` against baseline `{old_name}`: {VERDICT_MARK[gate['verdict']]}\n\n{gate['reason']}."
    )


def _metrics(comparison: dict) -> str:
    rows = ["| metric | baseline | new | change |", "|---|---:|---:|---:|"]
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "log_loss"):
        old, new = comparison["old"][key], comparison["new"][key]
        change = "n/a" if old is None or new is None else f"{new - old:+.4f}"
        rows.append(f"| {key} | {_value(old)} | {_value(new)} | {change} |")
    rows.append(f"| images | {comparison['old']['n']} | {comparison['new']['n']} | |")
    flips = comparison.get("tta") or {"new": "none", "old": "none"}
    return "\n".join(rows) + f"\n\nTest-time flips: new {flips['new']}, baseline {flips['old']}."


def _paired(comparison: dict) -> str:
    paired = comparison["paired"]
    interval = paired["accuracy_difference"]
    shown = (
        "n/a"
        if interval["difference"] is None
        else f"{100 * interval['difference']:+.2f} points "
        f"(95% interval {100 * interval['low']:+.2f} to {100 * interval['high']:+.2f})"
    )
    return (
        f"Accuracy change: {shown}. Images only the baseline got right: {paired['worse']}; only the new "
        f"model: {paired['better']}; exact McNemar p = {paired['p_value']:.3g}."
    )


def _per_class(comparison: dict) -> str:
    rows = [
        "### Per class",
        "",
        "| class | images | baseline recall | new recall | change |",
        "|---|---:|---:|---:|---:|",
    ]
    rows += [
        f"| {row['class']} | {row['support']} | {row['old_recall']:.3f} | {row['new_recall']:.3f} | "
        f"{row['recall_change']:+.3f} |"
        for row in comparison["per_class"]
    ]
    return "\n".join(rows)


def _confusion(comparison: dict) -> str:
    changes = [c for c in comparison["confusion_changes"] if c["true"] != c["predicted"]]
    if not changes:
        return "### Confusion changes\n\nnone: the models make the same kinds of mistakes"
    rows = [
        "### Confusion changes",
        "",
        "| true | predicted as | baseline | new | change |",
        "|---|---|---:|---:|---:|",
    ]
    rows += [f"| {c['true']} | {c['predicted']} | {c['old']} | {c['new']} | {c['change']:+d} |" for c in changes[:10]]
    return "\n".join(rows)


def _confident_wrong(comparison: dict) -> str:
    wrong = comparison["confident_wrong"]
    if not wrong:
        return "### Most confidently wrong\n\nnone: the new model got every image right"
    rows = [
        "### Most confidently wrong (new model)",
        "",
        "| image | true | predicted | probability | baseline said |",
        "|---|---|---|---:|---|",
    ]
    rows += [
        f"| `{w['path']}` | {w['true_label']} | {w['predicted_label']} | {w['probability']:.3f} | {w['old_label']} |"
        for w in wrong
    ]
    return "\n".join(rows)
