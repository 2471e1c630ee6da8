"""Results as text for people: aligned tables and ``label  value`` lines (``--json`` is for scripts)."""

from __future__ import annotations

import unicodedata

import click


def fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def print_kfold(result) -> None:
    from ..search.table import format_params

    click.echo(f"run directory  {result['run_dir']}  (final model: {result['select']})")
    if "grid" in result:
        click.echo("\nmean_acc  std     oof_acc  params")
        for row in result["grid"]:
            params = format_params(row["params"], digits=None)
            click.echo(f"{row['mean_accuracy']:.4f}    {row['std_accuracy']:.4f}  {row['oof_accuracy']:.4f}   {params}")
        click.echo(f"\nbest: {format_params(result['best_params'], digits=None)}")
    click.echo("\nfold  val_acc  val_loss")
    for fold, (acc, loss) in enumerate(zip(result["fold_accuracies"], result["fold_losses"]), start=1):
        marker = "  <- best" if fold == result["best_fold"] else ""
        click.echo(f"{fold:<4}  {acc:.4f}   {loss:.4f}{marker}")
    click.echo(f"mean  {result['mean_accuracy']:.4f} +/- {result['std_accuracy']:.4f}")
    click.echo(f"out-of-fold accuracy  {result['oof_accuracy']:.4f}")
    if result["holdout"]:
        holdout = result["holdout"]
        click.echo(
            f"held-out ({holdout['n']} samples): ensemble {holdout['ensemble_accuracy']:.4f}, "
            f"best fold {holdout['best_fold_accuracy']:.4f}"
        )


def print_report(report) -> None:
    flips = " (with test-time flips)" if report.get("tta") == "flip" else ""
    click.echo(f"accuracy           {report['accuracy']:.4f}  on {report['n']} images{flips}")
    click.echo(f"balanced accuracy  {report['balanced_accuracy']:.4f}")
    click.echo(f"macro F1           {report['macro_f1']:.4f}")
    click.echo(f"log-loss           {report['log_loss']:.4f}\n")
    width = max(display_width(name) for name in [*report["class_names"], "class"])
    click.echo(f"{pad('class', width)}  precision  recall  f1      support")
    for row in report["per_class"]:
        click.echo(
            f"{pad(row['class'], width)}  {row['precision']:.4f}     {row['recall']:.4f}  "
            f"{row['f1']:.4f}  {row['support']}"
        )
    click.echo("\nconfusion matrix (rows: true class, columns: predicted)")
    for name, row in zip(report["class_names"], report["confusion"]):
        click.echo(f"{pad(name, width)}  " + " ".join(f"{count:5d}" for count in row))


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: wide and full-width (East Asian) characters take two,
    combining marks none; ``len`` would misalign a table of class names like 猫 or ｃａｔ."""
    return sum(
        0 if unicodedata.combining(char) else 2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text
    )


def pad(text: str, width: int) -> str:
    """``text`` left-aligned in ``width`` terminal columns (see ``display_width``)."""
    return text + " " * max(0, width - display_width(text))


def print_search(result) -> None:
    from ..search.table import format_params

    click.echo(
        f"run directory  {result['run_dir']}  ({result['strategy']}, {result['n_trials']} trials, "
        f"{result['k']} folds, on {result['executor']}, {result['wall_seconds']:.1f}s)"
    )
    click.echo(f"\n{'rank':>4}  {'trial':>5}  {'epochs':>6}  mean_acc  std     oof_acc  params")
    for row in result["trials"]:
        click.echo(
            f"{row['rank']:>4}  {row['trial']:>5}  {row['epochs']:>6}  {fmt(row['mean_accuracy'])}    "
            f"{fmt(row['std_accuracy'])}  {fmt(row['oof_accuracy'])}   {format_params(row['params'])}"
        )
    best = result["best"]
    click.echo(
        f"\nbest: trial {result['trials'][0]['trial']}, mean {best['mean_accuracy']:.4f} +/- "
        f"{best['std_accuracy']:.4f}, oof {best['oof_accuracy']:.4f}, final model: {best['select']}"
    )
    click.echo(f"units: {result['units_trained']} trained, {result['units_reused']} reused from disk")


def print_show(summary) -> None:
    config = summary["config"] or {}
    _line("run", summary["run_dir"])
    _line("kind", f"{summary['kind']}" + (f"  (mode {config['mode']})" if "mode" in config else ""))
    if summary.get("config_from"):
        _line("config", summary["config_from"])
    for section in ("data", "features", "extractor", "model", "train"):
        if section in config:
            _line(section, _plain_text(config[section]))
    _show_status(summary)
    for split, values in (summary.get("metrics") or {}).items():
        if isinstance(values, dict) and values.get("accuracy") is not None:
            n = (summary.get("n") or {}).get(split)
            _line(f"{split} set", f"accuracy {values['accuracy']:.4f}  loss {values['loss']:.4f}  n {n}")
    if summary.get("search"):
        _show_search(summary["search"])
    if summary.get("kfold"):
        _show_kfold(summary["kfold"])
    if summary.get("epochs") is not None:
        _line("epochs", f"{_plain_text(summary['epochs'])}  ({summary.get('seconds') or 0:.1f}s)")
    evaluation = summary.get("evaluation")
    if evaluation:
        saved = f" (saved {evaluation['saved_at']})" if evaluation.get("saved_at") else ""
        _line(
            "evaluation",
            f"accuracy {evaluation['accuracy']:.4f} on {evaluation.get('n')} images ({evaluation.get('data')}){saved}",
        )
    for note in summary.get("notes", []):
        _line("note", note)
    for picture in summary.get("pictures", []):
        _line("picture", picture)


def _show_status(summary) -> None:
    """Why a run has no model: interrupted (and how to resume it) or diverged."""
    interrupted = summary.get("interrupted")
    if interrupted:
        where = (
            f"epoch {interrupted['epoch']}, sample {interrupted['sample']}"
            if interrupted["command"] == "train"
            else f"{interrupted['units_finished']} unit(s) finished"
            if interrupted["command"] == "search"
            else f"{interrupted['folds_finished']} fold(s) finished"
        )
        _line("status", f"interrupted at {where}; resume with: {interrupted['resume']}")
    diverged = summary.get("diverged")
    if diverged:
        # Runs written before units returned the epoch say "epoch": null.
        at = "" if diverged.get("epoch") is None else f" at epoch {diverged['epoch']}"
        _line("status", f"diverged{at}: {diverged['message']}")


def _show_kfold(fold) -> None:
    _line(
        "k-fold",
        f"{fold['k']} folds, mean {fold['mean_accuracy']:.4f} +/- {fold['std_accuracy']:.4f}, "
        f"oof {fold['oof_accuracy']:.4f}, final model: {fold.get('select')}",
    )
    from ..search.table import format_params

    for row in fold.get("grid") or []:
        params = format_params(row["params"], digits=None)
        chosen = "  <- chosen" if row["params"] == fold.get("best_params") else ""
        _line("grid", f"mean {row['mean_accuracy']:.4f} +/- {row['std_accuracy']:.4f}  {params}{chosen}")


def _show_search(search) -> None:
    from ..search.table import format_params

    _line(
        "search",
        f"{search['strategy']}, {search['n_trials']} trials, {search['k']} folds, on "
        f"{search.get('executor')}, {search.get('wall_seconds') or 0:.1f}s; units: "
        f"{search.get('units_trained')} trained, {search.get('units_reused')} reused",
    )
    for row in search["trials"]:
        _line(
            f"trial {row['trial']}",
            f"rank {row['rank']}  epochs {row['epochs']}  mean "
            f"{fmt(row['mean_accuracy'])} +/- {fmt(row['std_accuracy'])}  oof "
            f"{fmt(row['oof_accuracy'])}  {format_params(row['params'])}",
        )


def _line(label: str, text) -> None:
    click.echo(f"{label:<11}{text}")


def _plain_text(value) -> str:
    """A config section or list as ``key value, key value`` text instead of a Python repr."""
    if isinstance(value, dict):
        return ", ".join(f"{key} {_plain_text(item)}" for key, item in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(_plain_text(item) for item in value) + "]"
    return "null" if value is None else str(value)
