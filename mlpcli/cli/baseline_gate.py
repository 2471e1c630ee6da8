"""``evaluate --baseline``: its options, and printing and gating the comparison."""

from __future__ import annotations

import click

from ..errors import GateFailed
from .options import emit_json


def baseline_options(command):
    """--baseline, --max-drop, --alpha and --report of ``evaluate``."""
    options = [
        click.option(
            "--baseline", type=click.Path(), help="Compare with this model (a run directory) on the same images."
        ),
        click.option(
            "--max-drop",
            type=click.FloatRange(min=0),
            default=0.5,
            show_default=True,
            help="Points (of --metric, in %) --model may lose against --baseline before the gate looks.",
        ),
        click.option(
            "--alpha",
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            default=0.05,
            show_default=True,
            help="Level of the McNemar test that says a drop is real.",
        ),
        click.option(
            "--report",
            "report_path",
            type=click.Path(dir_okay=False),
            help="Write the comparison as Markdown here (a PR comment, $GITHUB_STEP_SUMMARY).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def evaluate_against_baseline(
    model_dir,
    baseline,
    data_path,
    on_error,
    max_pixels,
    metric,
    max_drop,
    alpha,
    report_path,
    as_json,
    fail_under,
    save,
    tta=None,
) -> None:
    """Compare, write the Markdown report, print, and raise GateFailed (exit 3) on a real drop."""
    from ..commands.comparing import run_compare

    if fail_under is not None or save:
        raise click.UsageError("--baseline does not combine with --fail-under or --save; run them separately")
    comparison = run_compare(model_dir, baseline, data_path, on_error, max_pixels, metric, max_drop, alpha, tta)
    if report_path is not None:
        from ..baseline import render
        from ..fileio import write_text

        write_text(report_path, render(comparison, str(model_dir), str(baseline)))
        click.echo(f"wrote {report_path}", err=True)
    if as_json:
        emit_json(comparison)
    else:
        _print(comparison)
    gate = comparison["gate"]
    if not gate["passed"]:
        raise GateFailed(gate["reason"])
    click.echo(f"baseline gate {'passed' if gate['verdict'] == 'ok' else gate['verdict']}: {gate['reason']}", err=True)


def _print(comparison: dict) -> None:
    interval = comparison["paired"]["accuracy_difference"]
    click.echo(f"{'':<18}{'baseline':>10}{'new':>10}")
    for key in ("accuracy", "balanced_accuracy", "macro_f1"):
        click.echo(f"{key:<18}{comparison['old'][key]:>10.4f}{comparison['new'][key]:>10.4f}")
    if interval["difference"] is not None:
        click.echo(
            f"accuracy change   {100 * interval['difference']:+.2f} points "
            f"(95% interval {100 * interval['low']:+.2f} to {100 * interval['high']:+.2f})"
        )
    paired = comparison["paired"]
    click.echo(
        f"McNemar           p = {paired['p_value']:.3g} ({paired['worse']} only baseline right, "
        f"{paired['better']} only new right)"
    )
    flips = comparison["tta"]
    click.echo(f"test-time flips: new {flips['new']}, baseline {flips['old']}")
    click.echo(f"verdict           {comparison['gate']['verdict']}")
