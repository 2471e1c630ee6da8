"""Without a terminal (CI, a pipe) long work still says how far it got, every few seconds."""

import logging

from mlpcli import progress


def test_without_a_terminal_long_work_logs_a_line_every_few_seconds(monkeypatch, caplog):
    monkeypatch.setenv("CI", "1")
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)  # every update is "a few seconds later"
    with caplog.at_level(logging.INFO, logger="mlpcli"), progress.bar(200, "decode", unit="img") as bar:
        bar.update(50)
        bar.update(150)
    assert [r.getMessage() for r in caplog.records] == ["decode: 50/200 img (25%)", "decode: 200/200 img (100%)"]


def test_short_work_and_unnamed_bars_stay_silent(monkeypatch, caplog):
    monkeypatch.setenv("CI", "1")
    with caplog.at_level(logging.INFO, logger="mlpcli"):
        with progress.bar(10, "decode") as bar:
            bar.update(10)  # well within LINE_SECONDS
        monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)
        with progress.bar(0, "") as bar:
            bar.update(5)
    assert not caplog.records
