"""The gate on a Dask cluster: the same report as a serial run, and no case lost when a worker
dies in the middle of a run. The cluster is a LocalCluster of two worker processes, started
here; skipped where dask.distributed is not installed (it is an optional extra)."""

import os
import signal
import threading
from pathlib import Path

import pytest

from verification import check
from verification.command_line.main import main

distributed = pytest.importorskip("distributed")

CASES = 200
STUDENT = Path(__file__).resolve().parents[2] / "examples" / "student_backprop.py"


def _without_timings(report) -> dict:
    data = report.to_dict()
    data.pop("seconds")
    return data


@pytest.fixture(scope="module")
def cluster():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield cluster, client


def test_a_run_on_the_cluster_reports_exactly_what_a_serial_run_reports(cluster) -> None:
    _, client = cluster
    on_cluster = check(None, cases=CASES, seed=5, executor=client.get_executor())
    serial = check(None, cases=CASES, seed=5)
    assert on_cluster.ok and on_cluster.cases == CASES
    assert _without_timings(on_cluster) == _without_timings(serial)


def test_a_failing_run_on_the_cluster_reports_what_a_serial_run_reports(cluster) -> None:
    _, client = cluster
    options = {"cases": 60, "seed": 1, "activations": "tanh", "shrink_failures": 1}
    impl = f"{STUDENT}:gradients"  # a student's network that forgot the 1/n of the mean
    on_cluster = check(impl, executor=client.get_executor(), **options)
    serial = check(impl, **options)
    assert not on_cluster.ok
    assert _without_timings(on_cluster) == _without_timings(serial)


def test_a_worker_killed_mid_run_loses_no_case(cluster) -> None:
    local, client = cluster
    started = threading.Event()

    def progress(done: int, total: int, failed: int) -> None:
        started.set()

    def kill_a_worker() -> None:
        started.wait(timeout=120)
        nanny = next(iter(local.workers.values()))
        os.kill(nanny.process.process.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_a_worker)
    killer.start()
    report = check(None, cases=400, seed=6, executor=client.get_executor(), progress=progress)
    killer.join()
    assert report.ok and report.cases == 400
    assert _without_timings(report) == _without_timings(check(None, cases=400, seed=6))


def test_a_scheduler_that_cannot_be_reached_is_status_2_with_one_line(capsys) -> None:
    assert main(["--scheduler", "tcp://127.0.0.1:9", "--cases", "1"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in line
