"""docs/ci.md's script, run as written on small data: main's first run, then a branch gated
against main's model (the same config and seed: the same model, so the gate passes)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "ci.md"
#: Seconds the script may take at most on the small data; then it is killed and the test fails.
DEADLINE = 300


def ci_script() -> str:
    match = re.search(r"<!-- ci-script -->\n```bash\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert match, "docs/ci.md has no <!-- ci-script --> bash block"
    return match.group(1)


def run_script(workdir: Path, **env) -> subprocess.CompletedProcess:
    """Run the script in ``workdir`` with this Python's mlpcli first on PATH; killed at DEADLINE."""
    script = workdir / "train-and-gate.sh"
    script.write_text(ci_script())
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "CI": "1",
        **env,
    }
    try:
        return subprocess.run(
            ["bash", str(script)], cwd=workdir, env=environment, capture_output=True, text=True, timeout=DEADLINE
        )
    except subprocess.TimeoutExpired:  # subprocess.run has killed the script
        pytest.fail(f"docs/ci.md's script did not finish in {DEADLINE} s")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_ci_doc_script_trains_then_gates_against_mains_model(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(
        "seed: 0\ndata: {image_size: 16, val_fraction: 0.25}\nfeatures: [{name: hog, cell: 4}]\n"
        "model: {hidden: [16]}\ntrain: {epochs: 3, batch_size: 16, lr: 0.01}\n"
    )
    env = {
        "DATA": str(tmp_path / "data"),
        "CONFIG": str(config),
        "N_TRAIN": "12",
        "N_TEST": "10",
        "TRAIN_SET": f"--set data.cache_dir={tmp_path / 'cache'}",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    main = run_script(tmp_path, **env)
    assert main.returncode == 0, main.stderr
    assert "no baseline model" in main.stdout
    shutil.copytree(tmp_path / "runs" / "new", tmp_path / "baseline")
    branch = run_script(tmp_path, BASELINE=str(tmp_path / "baseline"), **env)
    assert branch.returncode == 0, branch.stderr
    comparison = json.loads((tmp_path / "comparison.json").read_text())
    assert comparison["gate"]["verdict"] == "ok" and comparison["new"]["n"] == 40
    assert "## mlpcli:" in (tmp_path / "summary.md").read_text()
