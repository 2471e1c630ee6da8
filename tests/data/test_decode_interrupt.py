"""Ctrl-C while ``predict`` decodes a large folder in worker processes (issue 21 item 3): the
signal sent as CI sends it, to the process group without a terminal, once or twice, five times."""

from __future__ import annotations

import os

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_config
from PIL import Image
from processes import Child, mlpcli_args, session_members, wait_until

from mlpcli.cli import cli
from mlpcli.data.folder import PARALLEL_MIN


@pytest.fixture(scope="module")
def model_and_folder(tmp_path_factory):
    """A small trained model and a folder of PARALLEL_MIN + 100 large images (hard links to one
    2000x2000 PNG: no disk space, and each one slow to decode, so decoding is still going on
    when the signal arrives)."""
    root = tmp_path_factory.mktemp("decode")
    config = write_config(root / "config.yaml", data={"image_size": 12})
    result = CliRunner().invoke(cli, ["-q", "train", "--config", str(config), "--out", str(root / "run")])
    assert result.exit_code == 0, result.stderr
    folder = root / "photos"
    folder.mkdir()
    Image.fromarray(np.full((2000, 2000, 3), 90, np.uint8)).save(folder / "0000.png")
    for i in range(1, PARALLEL_MIN + 100):
        os.link(folder / "0000.png", folder / f"{i:04d}.png")
    return root / "run", folder


def test_ctrl_c_while_decoding_exits_130_and_leaves_no_worker(model_and_folder):
    """The parent hung in 2 of 5 tries waiting on a decode worker, and a second Ctrl-C printed a
    traceback and left the workers running; now the workers ignore SIGINT and the parent stops them."""
    run_dir, folder = model_and_folder
    for attempt in range(5):
        # --threads 2: two decode processes whatever the BLAS limit of the tests' environment.
        with Child(mlpcli_args("--threads", "2", "predict", folder, "--model", run_dir)) as child:
            # The decode workers run once the session holds more than the parent.
            wait_until(lambda: len(session_members(child.sid)) >= 3, 120, "decode workers", child)
            child.interrupt()
            if attempt % 2:
                child.interrupt()  # the impatient user's second Ctrl-C
            code = child.finish()
            assert code == 130 and child.leftovers() == [], child.stderr
        assert "Traceback" not in child.stderr and child.stdout == "", child.stderr
