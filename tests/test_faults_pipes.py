"""A closed stdout (``mlpcli predict DIR | head -1``): exit 141 silently, and nothing saved is lost.

These run the real command in a subprocess with stdout a pipe whose read end the test closes,
because only a real pipe gives the EPIPE that a reader going away causes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_image_folder
from processes import reaped

from mlpcli.artifacts import load_model
from mlpcli.cli import cli

REPO = Path(__file__).resolve().parents[1]
PIPE_PAGE = 4096
F_SETPIPE_SZ = 1031  # Linux's fcntl command to resize a pipe (fcntl.F_SETPIPE_SZ from Python 3.10 on)


def mlpcli(*args) -> subprocess.Popen:
    env = {
        **os.environ,
        "CI": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "mlpcli", *map(str, args)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


@pytest.fixture
def trained(tmp_path):
    images = write_image_folder(tmp_path / "images", n_per_class=25, size=(12, 12))  # 5 per class to validate
    config = tmp_path / "config.yaml"
    config.write_text(
        f"seed: 1\ndata: {{format: folder, path: {images}, image_size: 12, "
        f"cache_dir: {tmp_path}/cache}}\nmodel: {{hidden: [8]}}\n"
        f"train: {{epochs: 2, batch_size: 8}}\noutput: {{dir: {tmp_path}/runs}}\n"
    )
    result = CliRunner().invoke(cli, ["-q", "train", "--config", str(config), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.stderr
    return tmp_path / "run", images, config


def test_predict_into_a_pipe_closed_after_the_first_line_exits_141_silently(trained):
    """The pipe is shrunk to one page and the output is several pages long, so the command is
    still writing when the reader goes away (with a roomy pipe it could finish first and exit 0)."""
    import fcntl

    run, images, _ = trained
    with reaped(mlpcli("predict", *[images] * 12, "--model", run)) as process:
        try:
            fcntl.fcntl(process.stdout.fileno(), getattr(fcntl, "F_SETPIPE_SZ", F_SETPIPE_SZ), PIPE_PAGE)
        except OSError:
            pytest.skip("cannot resize a pipe here")
        first = process.stdout.readline()
        process.stdout.close()
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 141, stderr
    assert first.decode().startswith("path\tlabel") and stderr == b""


def test_predict_json_into_a_closed_pipe_exits_141_silently(trained):
    run, images, _ = trained
    with reaped(mlpcli("predict", images, "--model", run, "--json")) as process:
        process.stdout.close()  # before the command writes anything: its first write fails
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 141 and stderr == b"", stderr


def test_train_into_a_closed_pipe_exits_141_and_keeps_a_loadable_model(trained, tmp_path):
    _, images, config = trained
    with reaped(mlpcli("-q", "train", "--config", config, "--out", tmp_path / "again")) as process:
        process.stdout.close()
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 141 and stderr == b"", stderr
    model = load_model(tmp_path / "again")
    reference = load_model(tmp_path / "run")
    assert model.class_names == reference.class_names
    assert (tmp_path / "again" / "weights.npz").read_bytes() == (tmp_path / "run" / "weights.npz").read_bytes()
    assert not list((tmp_path / "again").glob(".*.tmp"))
