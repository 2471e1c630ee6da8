"""An end-to-end extractor too deep for ``data.image_size`` is a config error at load (exit 2), in
every command that builds the network, not a traceback after the data is read (issue 21, item 4).
Without the load-time check, train/kfold/gradcheck raised ValueError from build_extractor (exit 1,
traceback): checked by removing ``_check_extractor_fits`` and watching these fail."""

import pytest
from click.testing import CliRunner
from conftest import write_config

from mlpcli.cli import cli
from mlpcli.config import from_dict
from mlpcli.errors import ConfigError
from mlpcli.nn.extractor import build_extractor, extractor_output_size

_TOO_DEEP = {"blocks": [{"filters": 2, "kernel": 3, "pool": 4}] * 3}


def test_too_deep_extractor_is_refused_at_load_naming_the_key_and_image_size():
    with pytest.raises(
        ConfigError,
        match=r"extractor.blocks: extractor block 3 .* smaller than its pool 4"
        r".*data.image_size is 32x32",
    ):
        from_dict({"mode": "end_to_end", "extractor": _TOO_DEEP, "data": {"image_size": 32}})
    assert from_dict({"mode": "end_to_end", "extractor": _TOO_DEEP, "data": {"image_size": 64}})


@pytest.mark.parametrize(
    "size, blocks",
    [((32, 32), _TOO_DEEP["blocks"][:2]), ((20, 28), [{"filters": 2, "kernel": 5, "pool": 2, "padding": 0}] * 2)],
)
def test_output_size_without_layers_matches_the_built_extractor(size, blocks):
    layers, n_features = build_extractor(blocks, (*size, 3))
    height, width = extractor_output_size(blocks, size)
    assert n_features == height * width * 2


@pytest.mark.parametrize("command", [["train"], ["kfold", "--k", "2"], ["gradcheck"]])
def test_commands_exit_2_without_traceback(tmp_path, command):
    config = write_config(tmp_path / "c.yaml", mode="end_to_end", extractor=_TOO_DEEP, data={"image_size": 32})
    result = CliRunner().invoke(cli, [*command, "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr and "extractor.blocks" in result.stderr
    assert not (tmp_path / "runs").exists()  # refused before a run folder was made
