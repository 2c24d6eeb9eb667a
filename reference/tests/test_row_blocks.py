"""The elementwise steps done in blocks of rows (and in threads) give the plain formula's values.

The worker threads are observed from outside, through reference.activate: which threads run the
blocks (one per core this process may use, row_blocks.usable_cores, the same ones call after
call), that the caller's np.errstate holds in them, and that a forked child still gets its
blocks done. A process allowed fewer cores is started afresh, before it makes its threads.
"""

import json
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

import reference
from reference import network, row_blocks
from reference.activations import ACTIVATIONS

# above PARALLEL_MIN_ENTRIES, so the blocks run in worker threads; 37 columns make the last
# block a partial one
LARGE = (row_blocks.PARALLEL_MIN_ENTRIES // 37 + 5, 37)
MEDIUM = (row_blocks.ROW_BLOCK_ENTRIES // 37 + 5, 37)  # blocked, in the calling thread


@pytest.mark.parametrize("shape", [LARGE, MEDIUM], ids=["threads", "blocks"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activate_in_blocks_equals_phi_on_the_whole_array(name: str, shape) -> None:
    z = np.random.default_rng(0).standard_normal(shape) * 10
    phi = ACTIVATIONS[name].phi
    np.testing.assert_array_equal(network.activate(z, phi), phi(z), err_msg=name)


@pytest.mark.parametrize("shape", [LARGE, MEDIUM], ids=["threads", "blocks"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_hidden_delta_in_blocks_equals_the_formula(name: str, shape) -> None:
    rng = np.random.default_rng(1)
    n, width = shape
    delta_next, W_next = rng.standard_normal((n, 3)), rng.standard_normal((width, 3))
    z = rng.standard_normal(shape) * 10
    dphi = ACTIVATIONS[name].dphi
    expected = dphi(z) * (delta_next @ W_next.T)
    got = network.hidden_delta(delta_next, W_next, z, dphi)
    np.testing.assert_array_equal(got, expected, err_msg=name)


def test_activate_in_blocks_keeps_complex_steps() -> None:
    z = np.random.default_rng(2).standard_normal(LARGE) + 1e-20j
    phi = ACTIVATIONS["tanh"].phi
    np.testing.assert_array_equal(network.activate(z, phi), phi(z))


def test_an_error_in_a_worker_block_reaches_the_caller() -> None:
    def bad_phi(z):
        if z.shape[0] < LARGE[0]:  # only in blocks, never on the whole array
            raise FloatingPointError("planted")
        return z

    with pytest.raises(FloatingPointError, match="planted"):
        network.activate(np.zeros(LARGE), bad_phi)


def test_a_wrong_block_is_caught_by_the_whole_array_check() -> None:
    """The checks above can fail: a phi that differs on one block only is seen."""
    z = np.random.default_rng(3).standard_normal(LARGE)

    def phi_off_on_the_last_block(zb):
        out = np.tanh(zb)
        if zb.shape[0] < LARGE[0] and zb.base is z and zb[-1, -1] == z[-1, -1]:
            out *= 1 + 2**-50
        return out

    with pytest.raises(AssertionError):
        np.testing.assert_array_equal(network.activate(z, phi_off_on_the_last_block), np.tanh(z))


def test_large_gradients_equal_backprop_grads_bitwise() -> None:
    arch = reference.Architecture(
        sizes=(64, 600, 600, 3), activations=("tanh", "relu", "identity"), loss="squared_error"
    )
    rng = np.random.default_rng(4)
    params = reference.init_params(arch, rng)
    x, y = rng.standard_normal((500, 64)), rng.standard_normal((500, 3))
    bp = reference.backprop(arch, params, x, y)
    for l, (grad_W, grad_b) in enumerate(reference.gradients(arch, params, x, y), start=1):
        np.testing.assert_array_equal(grad_W, bp.grad_W[l], err_msg=f"layer {l}: dE/dW")
        np.testing.assert_array_equal(grad_b, bp.grad_b[l], err_msg=f"layer {l}: dE/db")


# --- the worker threads ------------------------------------------------------------------------


def _cores_of_this_process() -> int:
    """What row_blocks.usable_cores should say here, found without it."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def worker_thread_names(threads: int) -> list[str]:
    """The names of the threads that run the blocks of three calls of reference.activate on an
    array of 8 blocks.

    The first `threads` blocks wait for each other at a barrier: with fewer worker threads they
    cannot all run at once, and the barrier breaks after its timeout (BrokenBarrierError).
    """
    names, lock, started = set(), threading.Lock(), [0]
    barrier = threading.Barrier(threads, timeout=10)

    def phi(z: np.ndarray) -> np.ndarray:
        with lock:
            started[0] += 1
            first = started[0] <= threads
            names.add(threading.current_thread().name)
        if first:
            barrier.wait()
        return np.tanh(z)

    z = np.zeros((row_blocks.ROW_BLOCK_ENTRIES, 8))  # 8 blocks
    assert z.size >= row_blocks.PARALLEL_MIN_ENTRIES  # so that they run in the worker threads
    for _ in range(3):
        np.testing.assert_array_equal(reference.activate(z, phi), np.tanh(z))
    return sorted(names)


def test_blocks_run_in_one_thread_per_usable_core_the_same_threads_every_call() -> None:
    """A pool made anew on some call would show new thread names in the calls after it."""
    names = worker_thread_names(_cores_of_this_process())
    assert len(names) == _cores_of_this_process() and "MainThread" not in names, names


def test_usable_cores_is_the_cpu_affinity_where_there_is_one(monkeypatch) -> None:
    """A container may allow fewer cores than the machine has."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert row_blocks.usable_cores() == 1


@pytest.mark.parametrize(("cpu_count", "cores"), [(3, 3), (None, 1)])
def test_without_affinity_usable_cores_is_cpu_count_or_one(monkeypatch, cpu_count, cores) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: cpu_count)
    assert row_blocks.usable_cores() == cores


# A fresh interpreter, allowed one core before its first call of reference.activate, prints the
# names of the threads that ran the blocks.
ONE_CORE = """
import json, os
from reference.tests.test_row_blocks import worker_thread_names

os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
print(json.dumps(worker_thread_names(1)))
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
@pytest.mark.skipif(_cores_of_this_process() < 2, reason="needs a second core to leave out")
def test_a_process_allowed_one_core_runs_its_blocks_in_one_thread() -> None:
    done = subprocess.run(
        [sys.executable, "-c", ONE_CORE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 1, done.stdout


def test_the_callers_errstate_holds_in_the_worker_threads() -> None:
    """np.errstate is per thread (a context variable): each block runs in a copy of the
    caller's context, so an overflow the caller asked to raise raises from a worker too."""
    z = np.zeros((row_blocks.PARALLEL_MIN_ENTRIES // 8, 8))
    z[-1, -1] = 1000.0
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        reference.activate(z, np.exp)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_gets_its_blocks_done() -> None:
    """A fork copies none of the parent's worker threads: the child must start its own rather
    than wait for threads that do not exist (an alarm ends a child that waits)."""
    z = np.random.default_rng(0).standard_normal((2 * row_blocks.PARALLEL_MIN_ENTRIES // 8, 8))
    np.testing.assert_array_equal(reference.activate(z, np.tanh), np.tanh(z))  # threads now
    pid = os.fork()
    if pid == 0:  # the child: no pytest here, only an exit status
        try:
            signal.alarm(30)
            os._exit(0 if np.array_equal(reference.activate(z, np.tanh), np.tanh(z)) else 3)
        finally:
            os._exit(4)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"the child ended with {status}"
