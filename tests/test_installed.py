"""The installed ``mlpcli`` console script works away from the source tree, so a packaging
mistake (a sub-package or data file left out of the wheel, a wrong entry point) fails the suite.

The rest of the suite imports the checkout (``python -m pytest`` puts it on sys.path); this test
runs the script pip installed, from an empty folder, where only the installed package is found.
"""

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def installed_script() -> Path:
    try:
        importlib.metadata.distribution("mlpcli")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("mlpcli is not installed (the README's test line installs it)")
    script = Path(sys.executable).parent / "mlpcli"
    assert script.is_file(), f"mlpcli is installed but its console script {script} is missing"
    return script


def test_the_installed_console_script_trains_and_predicts(tmp_path):
    script = installed_script()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(CI="1", OPENBLAS_NUM_THREADS="1")

    def run(*args):
        result = subprocess.run(
            [str(script), *map(str, args)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert run("--version").strip().endswith(importlib.metadata.version("mlpcli"))
    config = tmp_path / "c.yaml"
    config.write_text(
        "data: {format: synthetic, n_per_class: 20, image_size: 12}\nmodel: {hidden: [8]}\ntrain: {epochs: 1}\n"
    )
    trained = json.loads(run("train", "--config", config, "--json", "-q"))
    run("data", "synth", "--out", tmp_path / "shapes", "--n-per-class", "1", "--size", "12")
    predictions = json.loads(run("predict", tmp_path / "shapes", "--model", trained["run_dir"], "--json"))
    assert len(predictions["predictions"]) == 4
    assert "## `data`" in run("config", "reference")


def test_the_plain_install_brings_what_the_byte_promise_needs():
    """Same bytes across --jobs and --cluster needs threadpoolctl (``units.runtime.unit_threads``): a
    dependency of ``pip install .`` itself, not of an extra. Fails if it moves back to an extra."""
    installed_script()
    plain = [
        requirement for requirement in importlib.metadata.requires("mlpcli") or [] if "extra ==" not in requirement
    ]
    assert any(requirement.startswith("threadpoolctl") for requirement in plain), plain
