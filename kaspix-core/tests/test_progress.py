"""Progress: plain log lines when the output is not a terminal (CI, job logs)."""

import logging

from kaspix.progress import track


def test_plain_progress_logs_a_final_line(caplog) -> None:
    logger = logging.getLogger("kaspix.test.progress")
    with caplog.at_level(logging.INFO, logger="kaspix.test.progress"):
        assert list(track(range(5), description="simulating", logger=logger, every_s=0.0)) == [0, 1, 2, 3, 4]
    messages = [r.getMessage() for r in caplog.records]
    assert "simulating: 1/5 (20%)" in messages
    assert messages[-1].startswith("simulating: done, 5/5 (100%) in ")
