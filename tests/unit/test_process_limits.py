"""The open-file limit ``kubegate serve`` and ``kubegate proxy`` raise at start-up, checked in
a child interpreter whose soft RLIMIT_NOFILE is lowered first (this process's is left alone)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import pytest

from kubegate.cli.process_limits import OpenFileLimit

CHILD = """
import json, resource
from kubegate.cli.process_limits import raise_open_file_limit
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, hard))
limit = raise_open_file_limit()
print(json.dumps([limit.before, limit.soft, limit.hard, *resource.getrlimit(resource.RLIMIT_NOFILE)]))
"""


def in_child(soft: int) -> list[int]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(soft=soft)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(done.stdout)


HARD = resource.getrlimit(resource.RLIMIT_NOFILE)[1]


@pytest.mark.skipif(HARD < 512, reason="the hard open-file limit is below 512")
def test_soft_limit_is_raised_to_the_hard_limit():
    """A process started with a soft limit of 256 runs with the hard limit, and says so."""
    before, soft, hard, actual_soft, actual_hard = in_child(256)
    assert (before, soft, hard) == (256, HARD, HARD)
    assert (actual_soft, actual_hard) == (HARD, HARD)  # the hard limit itself is untouched


def test_limit_already_at_the_hard_limit_is_left_alone():
    """Nothing to raise: the limits are reported as they are."""
    before, soft, hard, *_ = in_child(HARD)
    assert before == soft == hard == HARD


@pytest.mark.parametrize(
    ("limit", "line"),
    [
        (
            OpenFileLimit(1024, 20000, 20000),
            "open-file limit 20000 (hard limit 20000, raised from 1024)",
        ),
        (OpenFileLimit(20000, 20000, 20000), "open-file limit 20000 (hard limit 20000)"),
    ],
)
def test_the_log_line_says_what_the_process_runs_with(limit: OpenFileLimit, line: str):
    """The start-up line names the limit in force and where it came from."""
    assert limit.describe() == line
