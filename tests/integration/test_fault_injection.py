"""Fault injection: each step of the flow killed (SIGKILL, as a lost machine) at a point
drawn from a seed, then run again as an operator would. The final state must equal that
of a clean run: nothing lost, nothing duplicated, nothing half-visible; a re-run that
finds the work already done says so and changes nothing.

Steps: split at the provider, receipt of File 1 at the TTP, linkage, receipt of File 2
and File 3 at the databank, load, provisioning (tests/lib/faultsteps.py). One seed per
step runs in the fast suite; more seeds are ``slow``.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fjdp.errors import RefusedError
from lib.faultsteps import DATASET, STEPS, states_before_each_step, summary

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tests" / "lib" / "faultsteps.py"
PEOPLE = 4_000


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The state just before each step: a world, the zones, and every earlier step done."""
    return states_before_each_step(tmp_path_factory.mktemp("faults"), people=PEOPLE)


def _child(step: str, root: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests") + os.pathsep + str(ROOT / "src")}
    return subprocess.Popen(
        [sys.executable, str(RUNNER), step, str(root)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _clean(step: str, before: dict[str, Path], tmp: Path) -> tuple[float, dict[str, Any]]:
    root = tmp / "clean"
    shutil.copytree(before[step], root, symlinks=True)
    t = time.monotonic()
    proc = _child(step, root)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    return time.monotonic() - t, summary(step, root)


def _kill_and_rerun(step: str, before: dict[str, Path], tmp: Path, seed: int) -> None:
    seconds, want = _clean(step, before, tmp)
    root = tmp / f"killed-{seed}"
    shutil.copytree(before[step], root, symlinks=True)
    delay = random.Random(f"{step}-{seed}").uniform(0.2, 1.0) * seconds
    proc = _child(step, root)
    try:
        proc.communicate(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()  # reap it and close its pipe
    if proc.returncode != 0:  # killed (or failed): the operator runs the step again
        again = _child(step, root)
        _, err = again.communicate(timeout=300)
        message = err.decode().strip()
        # Finding the work already done is a clear refusal, not a failure.
        assert again.returncode in (0, RefusedError.exit_code), message
        if again.returncode != 0:
            assert "already" in message, message
    assert summary(step, root) == want, (step, seed, f"killed after {delay:.2f} s")


@pytest.mark.parametrize("step", STEPS)
def test_a_step_killed_and_run_again_ends_as_a_clean_run(
    step: str, before: dict[str, Path], tmp_path: Path
) -> None:
    _kill_and_rerun(step, before, tmp_path, seed=1)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 3, 4, 5])
@pytest.mark.parametrize("step", STEPS)
def test_more_kill_points(step: str, seed: int, before: dict[str, Path], tmp_path: Path) -> None:
    _kill_and_rerun(step, before, tmp_path, seed)


def test_the_summary_sees_the_dataset(before: dict[str, Path]) -> None:
    assert DATASET in {d for _, d in summary("receive_ttp", before["link"])["received"]}
