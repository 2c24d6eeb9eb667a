"""The child process in which an implementation runs, isolated from the gate.

Started by verification.gate.isolation with two pipes (requests in, answers out), it sets its
own limits, imports the implementation named by the spec, answers "ready", then serves calls:
for each request it maps the arguments from the shared file, builds `arch`, calls the
implementation, and answers with what came back (judge.returned.describe), or the exception it
raised, through verification.gate.protocol. The gate trusts none of it: it checks every answer,
the arguments themselves (in the shared file), the time and the memory.

This module imports NumPy, the reference and the light parts of verification only; never
torch, never the oracles.
"""

import ctypes
import mmap
import os
import resource
import signal
import sys
import time

import numpy as np

from reference import Architecture
from verification.gate import protocol
from verification.gate.loading import ImplementationError, load_implementation
from verification.judge.call import describe_exception
from verification.judge.returned import describe, max_entries

CHILD_ENVIRONMENT = "BACKPROP_GATE_CHILD"
"""Set in the child's environment, so that the gate refuses to run inside its own child (a
script that calls verification.check at import, without `if __name__ == "__main__":`)."""

PR_SET_PDEATHSIG = 1  # prctl(2): the signal the child gets when its parent dies


def _limit(which: int, value: int) -> None:
    """Soft and hard limit `which` to `value` (never above a hard limit already lower)."""
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def _die_with_parent() -> None:
    """Ask Linux to kill this process when the gate's process dies (elsewhere a no-op: the
    closed request pipe ends the loop instead, between calls)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class _Requests:
    """The request pipe, read blocking: the gate is trusted by the child."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def next(self) -> dict | None:
        try:
            return protocol.read_header(self.fd, deadline=float("inf"))
        except protocol.ClosedError:
            return None


class _Arguments:
    """The shared file holding each call's arguments, mapped here as in the gate."""

    def __init__(self, path: str) -> None:
        self.path, self.map, self.size = path, None, 0

    def arrays(self, size: int, layout: list) -> list[np.ndarray]:
        if size != self.size:
            with open(self.path, "r+b") as f:
                self.map, self.size = mmap.mmap(f.fileno(), size), size
        return [
            np.frombuffer(self.map, dtype=dtype, count=int(np.prod(shape)), offset=offset).reshape(
                shape
            )
            for offset, shape, dtype in layout
        ]


def main() -> None:
    """Serve one gate, then end the process at once: os._exit, so that no atexit hook or
    finaliser of the implementation's runs after the gate is done with it."""
    try:
        _serve_gate()
    finally:
        os._exit(0)


def _serve_gate() -> None:
    """argv holds the fds of the request and answer pipes."""
    requests, answers = _Requests(int(sys.argv[1])), int(sys.argv[2])
    os.environ[CHILD_ENVIRONMENT] = "1"
    _die_with_parent()
    init = requests.next()
    if init is None:
        return
    _limit(resource.RLIMIT_CORE, 0)  # a crash leaves no core file behind
    _limit(resource.RLIMIT_AS, init["address_space"])
    _limit(resource.RLIMIT_FSIZE, init["file_size"])
    sys.path[:] = list(dict.fromkeys([os.getcwd(), *init["sys_path"]]))
    try:
        impl = load_implementation(init["spec"], isolated=True, own=init["own"])
    except ImplementationError as exc:
        protocol.write_message(answers, {"status": "import_failed", "message": str(exc)})
        return
    except BaseException as exc:  # e.g. MemoryError, or a module that raises KeyboardInterrupt
        message = f"--impl {init['spec']}: importing it raised {type(exc).__name__}: {exc}"
        protocol.write_message(answers, {"status": "import_failed", "message": message[:2000]})
        return
    protocol.write_message(answers, {"status": "ready"})
    arguments = _Arguments(init["arguments"])
    while (request := requests.next()) is not None and request.get("op") == "call":
        _serve(impl, request, arguments, answers)


def _serve(impl, request: dict, arguments: _Arguments, answers: int) -> None:
    """One call, answered with what came back or what was raised."""
    sizes, activations, loss = request["sizes"], request["activations"], request["loss"]
    arch = Architecture(tuple(sizes), tuple(activations), loss)
    drawn = Architecture(tuple(sizes), tuple(activations), loss)
    arrays = arguments.arrays(request["size"], request["layout"])
    L = arch.L
    params = [(arrays[2 * k], arrays[2 * k + 1]) for k in range(L)]
    x, y = arrays[2 * L], arrays[2 * L + 1]
    expected = [(tuple(W.shape), tuple(b.shape)) for W, b in params]
    limit = max_entries(x.shape[0], sizes)
    header: dict = {"seq": request["seq"]}
    payload = b""
    start = time.perf_counter()
    try:
        result = impl(arch, params, x, y)
    except BaseException as exc:  # whatever the implementation raises is its answer
        header |= {"status": "raised", **protocol.encode_raised(describe_exception(exc, L))}
    else:
        header["seconds"] = time.perf_counter() - start
        try:
            described, payload = protocol.encode_returned(describe(result, expected, limit))
            header |= {"status": "returned", **described}
        except BaseException as exc:
            raised = describe_exception(exc, L)
            header |= {"status": "raised", **protocol.encode_raised(raised)}
            payload = b""
    header["arch_changed"] = arch != drawn
    protocol.write_message(answers, header, payload)


if __name__ == "__main__":
    main()
