"""File-system faults: folders that refuse writes, damaged cache entries.

Tests run as root, and root ignores permission bits, so a read-only or permission-less folder is
simulated by the ``refuse_writes`` fixture: the system calls that create things (``os.mkdir``,
``os.open`` with ``O_CREAT``, ``os.replace``, ``os.symlink``) fail inside the chosen folders with
the errno a real refusal gives. Where a real refusal is easy (a file where a folder is expected,
``/proc``) the tests use the real thing.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_config, write_image_folder

from mlpcli.cli import cli
from mlpcli.fileio import atomic_save_npy


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_clean_error(result, *fragments):
    """Exit 1, one ``error:`` line naming every fragment, and no traceback."""
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(error) == 1, result.stderr
    for fragment in fragments:
        assert str(fragment) in error[0], error[0]


@pytest.fixture
def refuse_writes(monkeypatch):
    """``refuse(folder, code=errno.EACCES)``: from now on nothing can be created or replaced in
    ``folder`` (or below it), as with a read-only mount (EROFS) or a folder without write
    permission (EACCES). Existing files stay readable."""
    refused: dict[str, int] = {}

    def check(path) -> None:
        path = os.path.abspath(os.fspath(path))
        for folder, code in refused.items():
            if path == folder or path.startswith(folder + os.sep):
                raise OSError(code, os.strerror(code), os.fspath(path))

    def wrap(real, creates=lambda *args: True):
        def refusing(path, *args, **kwargs):
            if creates(path, *args):
                check(path)
            return real(path, *args, **kwargs)

        return refusing

    monkeypatch.setattr(os, "mkdir", wrap(os.mkdir, lambda path, *a: not os.path.lexists(path)))
    writes = os.O_CREAT | os.O_WRONLY | os.O_RDWR
    monkeypatch.setattr(os, "open", wrap(os.open, lambda path, flags, *a: flags & writes))
    monkeypatch.setattr(os, "replace", lambda src, dst, *a, **k: (check(dst), _real_replace(src, dst, *a, **k)))
    monkeypatch.setattr(os, "symlink", lambda src, dst, *a, **k: (check(dst), _real_symlink(src, dst, *a, **k)))

    def refuse(folder, code: int = errno.EACCES) -> None:
        refused[os.path.abspath(folder)] = code

    return refuse


_real_replace, _real_symlink = os.replace, os.symlink


@pytest.fixture
def folder_config(tmp_path):
    """A config on a small image folder, so both caches (decoded images, features) are used."""
    images = write_image_folder(tmp_path / "images", n_per_class=6, size=(12, 12))
    return write_config(
        tmp_path / "config.yaml",
        data={"format": "folder", "path": str(images), "image_size": 12, "val_fraction": 0.3},
        train={"epochs": 2, "batch_size": 8, "lr": 0.05},
    )


# 12.2: unwritable places are exit 1 with the path and the reason


def test_an_output_dir_that_is_a_file_names_it(tmp_path, small_config):
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    result = run("train", "--config", small_config, "--set", f"output.dir={blocker}")
    assert_clean_error(
        result, f"cannot create run directory {blocker}/", "Not a directory", f"{blocker} is a file", "output.dir"
    )


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS])
def test_an_output_dir_without_write_permission_names_it(tmp_path, small_config, refuse_writes, code):
    """Simulated: os.mkdir in the output folder fails with EACCES or EROFS."""
    (tmp_path / "runs").mkdir()
    refuse_writes(tmp_path / "runs", code)
    result = run("train", "--config", small_config)
    assert_clean_error(result, f"cannot create run directory {tmp_path / 'runs'}/", os.strerror(code))


@pytest.mark.parametrize("command", [["train"], ["kfold", "--k", "2"]])
@pytest.mark.parametrize("out", [False, True])
def test_an_unwritable_output_is_found_before_any_image_is_decoded(
    tmp_path, folder_config, refuse_writes, monkeypatch, command, out
):
    """Issue 21 item 8: the refusal came only after decoding and extraction. Failed without
    ``check_new_run_dir`` (verified): the stand-in decoder below was reached."""
    from mlpcli.data import folder

    def decoded_pieces(*args, **kwargs):
        raise AssertionError("images decoded before the output folder was checked")

    # Every local decode of a data set goes through decoded_pieces (decode_all no longer did for
    # training, so its stand-in here was never reached whatever the order of the checks).
    monkeypatch.setattr(folder, "decoded_pieces", decoded_pieces)
    (tmp_path / "runs").mkdir()
    refuse_writes(tmp_path / "runs", errno.EROFS)
    where = ["--out", tmp_path / "runs" / "mine"] if out else []
    result = run(*command, "--config", folder_config, *where)
    assert_clean_error(result, f"cannot create run directory {tmp_path / 'runs'}", "Read-only file system")
    assert list((tmp_path / "runs").iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs a Linux /proc")
def test_out_in_proc_names_the_path_and_reason(small_config):
    """Real: the kernel refuses to create anything in /proc."""
    result = run("train", "--config", small_config, "--out", "/proc/mlpcli-run")
    assert_clean_error(result, "cannot create run directory /proc/mlpcli-run", "No such file or directory", "--out")


def test_a_run_folder_that_turns_read_only_during_training(tmp_path, small_config, refuse_writes, monkeypatch):
    """Simulated: the run folder refuses writes (EROFS) from the moment its config.yaml is written,
    so the first epoch's checkpoint cannot be saved."""
    from mlpcli.artifacts import records

    write_config_first = records.write_config

    def then_read_only(run_dir, *args, **kwargs):
        write_config_first(run_dir, *args, **kwargs)
        refuse_writes(run_dir, errno.EROFS)

    monkeypatch.setattr(records, "write_config", then_read_only)
    result = run("train", "--config", small_config, "--out", tmp_path / "run")
    assert_clean_error(result, f"cannot write {tmp_path / 'run' / 'checkpoint.npz'}", "Read-only file system")


def test_evaluate_save_on_a_read_only_run_names_the_folder(tmp_path, folder_config, refuse_writes):
    """Simulated: the run folder refuses writes (EACCES) after training."""
    assert run("train", "--config", folder_config, "--out", tmp_path / "run").exit_code == 0
    refuse_writes(tmp_path / "run")
    result = run("evaluate", "--model", tmp_path / "run", "--data", tmp_path / "images", "--save")
    assert_clean_error(result, f"{tmp_path / 'run' / 'evaluations'}", "Permission denied")


def test_show_and_evaluate_save_on_a_read_only_run_still_print_the_summary(tmp_path, folder_config, refuse_writes):
    """Issue 21 item 8: both printed nothing at all. Now the summary (report) is on stdout, the
    refusal names the folder and, for show, where the pictures could go with --out. Failed before
    (stdout empty), verified."""
    assert run("train", "--config", folder_config, "--out", tmp_path / "run").exit_code == 0
    refuse_writes(tmp_path / "run", errno.EROFS)
    shown = run("show", tmp_path / "run")
    assert_clean_error(shown, f"{tmp_path / 'run' / 'pictures'}", "Read-only file system", "--out DIR")
    assert "val" in shown.stdout and "accuracy" in shown.stdout
    elsewhere = run("show", tmp_path / "run", "--out", tmp_path / "pictures")
    assert elsewhere.exit_code == 0 and any((tmp_path / "pictures").iterdir())
    evaluated = run("evaluate", "--model", tmp_path / "run", "--data", tmp_path / "images", "--save")
    assert_clean_error(evaluated, f"{tmp_path / 'run' / 'evaluations'}", "Read-only file system")
    assert "accuracy" in evaluated.stdout


def test_a_refusal_no_module_words_still_names_path_and_reason(monkeypatch, tmp_path):
    """The CLI's last resort: any OSError becomes ``error: PATH: reason``, exit 1."""
    import mlpcli.commands

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", "/somewhere/pictures/x.png")

    monkeypatch.setattr(mlpcli.commands, "run_show", refuse)
    assert_clean_error(run("show", tmp_path), "/somewhere/pictures/x.png: Permission denied")


@pytest.mark.parametrize("command", [("train",), ("kfold", "--k", "2")])
def test_a_read_only_working_directory_only_costs_the_cache(
    tmp_path, folder_config, refuse_writes, monkeypatch, command
):
    """Simulated: the working directory (where the default ``.mlpcli-cache`` goes) refuses writes
    (EROFS); the run itself goes to a writable --out. Both caches are tried; one warning."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    refuse_writes(work, errno.EROFS)
    result = run(
        *command, "--config", folder_config, "--set", "data.cache_dir=.mlpcli-cache", "--out", tmp_path / "run"
    )
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "going on without the cache" in line]
    assert len(warnings) == 1, warnings
    assert ".mlpcli-cache" in warnings[0] and "Read-only file system" in warnings[0]
    assert (tmp_path / "run" / "model.json").is_file() and not (work / ".mlpcli-cache").exists()


def test_a_cache_dir_that_is_a_file_is_warned_about_and_skipped(tmp_path, folder_config):
    """Real: ``data.cache_dir`` names an existing file. The cache is optional, so the run goes on."""
    blocker = tmp_path / "cachefile"
    blocker.write_text("not a folder")
    result = run("train", "--config", folder_config, "--set", f"data.cache_dir={blocker}", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "going on without the cache" in line]
    assert len(warnings) == 1 and f"{blocker} is a file" in warnings[0], warnings
    assert blocker.read_text() == "not a folder"


# 12.3: a damaged cache entry is a miss: warned about, rebuilt, replaced


def _wrong_shape(path: Path) -> None:
    if path.suffix == ".json":  # a decoded shard's description, for another number of files
        path.write_text('{"kept": [true, false], "failures": []}')
        return
    with open(path, "wb") as handle:
        np.save(handle, np.zeros((3, 5), np.float32))


DAMAGE = {
    "empty": lambda path: path.write_bytes(b""),
    "truncated": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    "garbage": lambda path: path.write_bytes(np.random.default_rng(0).bytes(4096)),
    "wrong shape": _wrong_shape,
}


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("entry", ["features-*.npy", "images/*.npy", "images/*.json"])
def test_a_damaged_cache_entry_is_rebuilt_and_replaced(tmp_path, folder_config, entry, damage):
    assert run("train", "--config", folder_config, "--out", tmp_path / "first").exit_code == 0
    (path,) = (tmp_path / "cache").glob(entry)
    good = path.read_bytes()
    DAMAGE[damage](path)
    result = run("train", "--config", folder_config, "--out", tmp_path / "again")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert f"ignoring unreadable cache file {path}" in result.stderr
    assert path.read_bytes() == good  # rebuilt from scratch: the same bytes as the first time
    assert (tmp_path / "again" / "weights.npz").read_bytes() == (tmp_path / "first" / "weights.npz").read_bytes()
    assert not list((tmp_path / "cache").glob(".*.tmp"))


def test_an_unwritable_cache_folder_is_warned_about_once_per_process(tmp_path, refuse_writes, caplog):
    """Simulated: the cache folder refuses writes (EACCES); three stores, one warning."""
    from mlpcli import cache

    refuse_writes(tmp_path)
    with caplog.at_level(logging.WARNING, logger="mlpcli"):
        for name in ("a.npy", "b.npy", "c.npy"):
            cache.store(tmp_path / "cache" / name, lambda p: atomic_save_npy(p, np.zeros(2)), "features")
    assert len([r for r in caplog.records if "going on without the cache" in r.getMessage()]) == 1
    assert not (tmp_path / "cache").exists()
