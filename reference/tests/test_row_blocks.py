"""The elementwise steps done in blocks of rows (and in threads) give the plain formula's values.

The worker threads are observed from outside, through reference.activate: which threads run the
blocks (one per core this process may use, the same ones call after call), that the caller's
np.errstate holds in them, and that a forked child still gets its blocks done. What depends on
the state of a process (its cores, a fork) runs in a fresh interpreter.
"""

import json
import os
import subprocess
import sys

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


def _in_a_fresh_process(code: str, *args: str) -> str:
    """Run `code` with `args` in a new interpreter (no worker thread exists there yet); its
    stdout."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# Three calls of reference.activate on an array of 8 blocks; prints the names of the threads
# that ran the blocks. argv: the number of threads expected, and code run before the first call.
# The first blocks, as many as threads are expected, wait for each other at a barrier: with
# fewer worker threads they cannot all run at once, and the barrier breaks after its timeout.
WORKER_THREADS = """
import json, os, sys, threading
import numpy as np
import reference
from reference.row_blocks import PARALLEL_MIN_ENTRIES, ROW_BLOCK_ENTRIES

threads, setup = int(sys.argv[1]), sys.argv[2]
exec(setup)
names, lock, started = set(), threading.Lock(), [0]
barrier = threading.Barrier(threads, timeout=10)


def phi(z):
    with lock:
        started[0] += 1
        first = started[0] <= threads
        names.add(threading.current_thread().name)
    if first:
        barrier.wait()
    return np.tanh(z)


z = np.zeros((ROW_BLOCK_ENTRIES, 8))  # 8 blocks
assert z.size >= PARALLEL_MIN_ENTRIES  # so that the blocks run in the worker threads
for _ in range(3):
    reference.activate(z, phi)
print(json.dumps(sorted(names)))
"""


def _worker_threads(threads: int, setup: str = "") -> list[str]:
    return json.loads(_in_a_fresh_process(WORKER_THREADS, str(threads), setup))


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def test_blocks_run_in_one_thread_per_usable_core_the_same_threads_every_call() -> None:
    """A pool made anew on each call would show new thread names in the second call."""
    names = _worker_threads(_usable_cores())
    assert len(names) == _usable_cores() and "MainThread" not in names, names


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
@pytest.mark.skipif(_usable_cores() < 2, reason="needs a second core to leave out")
def test_a_process_allowed_one_core_runs_its_blocks_in_one_thread() -> None:
    """A container may allow fewer cores than the machine has: the count is the affinity's."""
    names = _worker_threads(1, "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})")
    assert len(names) == 1, names


@pytest.mark.parametrize(("cpu_count", "threads"), [(3, 3), (None, 1)])
def test_without_affinity_the_thread_count_is_cpu_count_or_one(cpu_count, threads) -> None:
    """Where the platform has no affinity: os.cpu_count(), or one thread if that is unknown."""
    setup = (
        "if hasattr(os, 'sched_getaffinity'):\n    del os.sched_getaffinity\n"
        f"os.cpu_count = lambda: {cpu_count}"
    )
    names = _worker_threads(threads, setup)
    assert len(names) == threads, names


def test_the_callers_errstate_holds_in_the_worker_threads() -> None:
    """np.errstate is per thread (a context variable): each block runs in a copy of the
    caller's context, so an overflow the caller asked to raise raises from a worker too."""
    z = np.zeros((row_blocks.PARALLEL_MIN_ENTRIES // 8, 8))
    z[-1, -1] = 1000.0
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        reference.activate(z, np.exp)


# The parent runs blocks in its worker threads, then forks; the child does the same work.
FORKED_CHILD = """
import os, signal
import numpy as np
import reference
from reference.row_blocks import PARALLEL_MIN_ENTRIES

z = np.random.default_rng(0).standard_normal((2 * PARALLEL_MIN_ENTRIES // 8, 8))
parent_ok = bool((reference.activate(z, np.tanh) == np.tanh(z)).all())
pid = os.fork()
if pid == 0:
    signal.alarm(30)  # a child waiting for threads that a fork did not copy is ended here
    os._exit(0 if (reference.activate(z, np.tanh) == np.tanh(z)).all() else 3)
_, status = os.waitpid(pid, 0)
print(parent_ok, os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_gets_its_blocks_done() -> None:
    """A fork copies none of the parent's worker threads: the child must start its own rather
    than wait for threads that do not exist."""
    assert _in_a_fresh_process(FORKED_CHILD).split() == ["True", "0"]
