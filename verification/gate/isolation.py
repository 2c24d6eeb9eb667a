"""The implementation runs in a child process, under limits; the gate only reads its answers.

`Isolated(spec, limits)` starts a child (verification.gate.child) that imports the
implementation, and calls it there, case after case, reusing the child for speed. The gate's
process keeps everything that decides the verdict: it draws the cases, writes each call's
arguments into a shared file, reads the answer as plain data (verification.gate.protocol: JSON
and raw arrays of the expected shapes, never pickle), compares the arguments in the shared file
with the case as drawn, bit for bit, and consults the oracles only after the answer is in.

Whatever the child does is a failed case, never the end of the run:

    timeout   the call took longer than its limit: the child is killed and replaced;
    crash     the child ended during the call (an exit, a signal such as SIGSEGV, a broken
              protocol): replaced; the report names the exit status or the signal and quotes
              the last lines of what the child wrote to stderr;
    memory    the child's resident memory passed the limit (a watchdog reads it while the gate
              waits), or the implementation raised MemoryError (its address space is capped
              at the limit plus ADDRESS_SPACE_HEADROOM).

The child runs in a session of its own (so a signal it sends to its process group stays
there), with no core files, a cap on the files it writes (its stdout and stderr go to a file of
the gate's), and a parent-death signal. At the end the gate kills its process group.

What the child can still do, as any process of the same user can: read and write the user's
files, use the network where there is one, spend CPU time up to the time limit, signal other
processes of the user (the gate's included), and escape the process-group kill by starting a
session of its own. The gate does not defend against code that attacks the operating system.
"""

import contextlib
import itertools
import mmap
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from verification.cases import Case
from verification.gate import protocol
from verification.gate.loading import OWN_ROOT, ImplementationError
from verification.judge.call import Outcome, same_bits
from verification.judge.findings import Finding
from verification.judge.returned import max_entries

BASE_TIMEOUT = 5.0
"""Seconds a call may take, at least: a NumPy backprop of the gate's largest default case takes
about a millisecond, so 5 s leaves room for a slow language binding and a loaded machine."""

SECONDS_PER_MULTIPLY_ADD = 1e-8
"""Added to BASE_TIMEOUT per multiply-add of the case's forward and backward pass: 1 s per 1e8,
a hundred times slower than NumPy's BLAS on one core."""

FIRST_CALL_EXTRA = 60.0
"""Seconds added to the first call of each child: an implementation may import its framework
(torch, JAX: a few seconds) lazily, on its first call."""

IMPORT_TIMEOUT = 60.0
"""Seconds the child may take to import the implementation, by default."""

IMPORT_FLOOR = 5.0
"""Seconds the import may always take, whatever --timeout says: the child itself needs up to a
second or so to start Python and import NumPy on a loaded machine."""

DEFAULT_MEMORY = 4 << 30
"""Bytes of resident memory the child may use: 4 GiB (torch takes about 0.3 GiB to import)."""

ADDRESS_SPACE_HEADROOM = 4 << 30
"""The child's address space is capped at its memory limit plus this: libraries reserve far more
address space than they use (torch about 0.6 GiB at import, glibc 64 MiB per thread arena)."""

CHILD_FILE_SIZE = 64 << 20
"""Bytes any file the child writes may reach, its stdout and stderr included."""

STDERR_LINES = 5  # lines of the child's stderr quoted in a crash's report
EXIT_GRACE = 0.5  # seconds a child whose pipe closed is given to end, before it is killed


@dataclass(frozen=True)
class Limits:
    """What a call may take: `timeout` seconds (None: default_timeout of the case), `memory`
    bytes of resident memory, and `import_timeout` seconds for the import."""

    timeout: float | None = None
    memory: int = DEFAULT_MEMORY
    import_timeout: float = IMPORT_TIMEOUT


def default_timeout(case: Case) -> float:
    """BASE_TIMEOUT plus SECONDS_PER_MULTIPLY_ADD per multiply-add of backprop on the case."""
    sizes, n = case.arch.sizes, case.n
    multiply_adds = 3 * n * sum(a * b for a, b in itertools.pairwise(sizes))
    return BASE_TIMEOUT + SECONDS_PER_MULTIPLY_ADD * multiply_adds


class Arguments:
    """The shared file through which each call's arguments reach the child.

    The gate writes W^1, b^1, ..., W^L, b^L, x, y into it before a call and reads them back
    after: the implementation is handed views of this memory, so any change it makes to its
    arguments is seen here, bit for bit, whatever the child reports.
    """

    ALIGN = 64

    def __init__(self) -> None:
        folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
        fd, self.path = tempfile.mkstemp(prefix="backprop-gate-", dir=folder)
        os.close(fd)
        self.map: mmap.mmap | None = None
        self.size = 0

    def write(self, case: Case) -> tuple[int, list]:
        """Write the case's arrays; returns the file's size and their layout
        [(offset, shape, dtype)] for the request."""
        arrays = [a for pair in case.params for a in pair] + [case.x, case.y]
        layout, offset = [], 0
        for a in arrays:
            layout.append((offset, list(a.shape), a.dtype.str))
            offset += -(-a.nbytes // self.ALIGN) * self.ALIGN
        if offset > self.size:
            self._grow(max(offset, 2 * self.size, 1 << 16))
        for a, (start, _, _) in zip(arrays, layout, strict=True):
            self.map[start : start + a.nbytes] = np.ascontiguousarray(a).tobytes()  # type: ignore[index]
        return self.size, layout

    def _grow(self, size: int) -> None:
        with open(self.path, "r+b") as f:
            f.truncate(size)
            self.map, self.size = mmap.mmap(f.fileno(), size), size

    def changed(self, case: Case, layout: list) -> tuple[str, ...]:
        """The arguments whose bits in the shared file differ from the case as drawn."""
        names = [f"layer {l}: {s}" for l in range(1, case.L + 1) for s in ("W", "b")] + ["x", "y"]
        arrays = [a for pair in case.params for a in pair] + [case.x, case.y]
        changed = []
        for name, a, (start, _, _) in zip(names, arrays, layout, strict=True):
            now = np.frombuffer(self.map, dtype=a.dtype, count=a.size, offset=start)  # type: ignore[arg-type]
            if not same_bits(now.reshape(a.shape), a):
                changed.append(name)
        return tuple(changed)

    def close(self) -> None:
        if self.map is not None:
            self.map.close()
        Path(self.path).unlink(missing_ok=True)


class _OverMemoryError(Exception):
    def __init__(self, resident: int) -> None:
        self.resident = resident


BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from verification.gate.child import main; main()"
)


class Isolated:
    """Calls the implementation named by `spec` in a child process, under `limits`.

    Raises ImplementationError (one line) if the implementation cannot be imported, exits or
    hangs at import. After a crash or a timeout the next call starts a new child.
    """

    isolated = True

    def __init__(
        self, spec: str, limits: Limits = Limits(), own: bool = False, start: bool = True
    ) -> None:
        """Start the child now (an ImplementationError says why it cannot), or, with start
        False, at the first call, where a child that cannot start is a failed case (`crash`),
        as when it is started again after a crash: for a run whose import has been proven."""
        self.spec, self.limits, self.own_spec = spec, limits, own
        self.arguments = Arguments()
        self.process: subprocess.Popen | None = None
        self.seq = 0
        if start:
            self._start()

    # --- the child's life --------------------------------------------------------------------

    def _start(self) -> None:
        requests_read, self.requests = os.pipe()
        self.answers, answers_write = os.pipe()
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-c",
                BOOTSTRAP,
                str(OWN_ROOT),
                str(requests_read),
                str(answers_write),
            ],
            pass_fds=(requests_read, answers_write),
            stdin=subprocess.DEVNULL,
            stdout=self.stderr,
            stderr=self.stderr,
            start_new_session=True,
            cwd=os.getcwd(),
        )
        os.close(requests_read)
        os.close(answers_write)
        self.calls = 0
        limits = self.limits
        protocol.write_message(
            self.requests,
            {
                "spec": self.spec,
                "own": self.own_spec,
                "sys_path": [p for p in sys.path if p],
                "arguments": self.arguments.path,
                "address_space": limits.memory + ADDRESS_SPACE_HEADROOM,
                "file_size": CHILD_FILE_SIZE,
            },
        )
        deadline = time.monotonic() + limits.import_timeout
        try:
            answer = protocol.read_header(self.answers, deadline, self._watch)
        except protocol.DeadlineError:
            self._kill()
            raise ImplementationError(
                f"--impl {self.spec}: importing it did not finish within "
                f"{limits.import_timeout:g} s"
            ) from None
        except protocol.ClosedError:
            status = self._reap()
            raise ImplementationError(
                f"--impl {self.spec}: the process ended while importing it ({status})"
                + self._stderr_note()
            ) from None
        except (protocol.ProtocolError, _OverMemoryError) as exc:
            self._kill()
            raise ImplementationError(f"--impl {self.spec}: importing it failed: {exc}") from None
        if answer.get("status") == "import_failed":
            self._kill()
            raise ImplementationError(str(answer.get("message", "could not be imported"))[:2000])
        if answer.get("status") != "ready":
            self._kill()
            raise ImplementationError(f"--impl {self.spec}: the child answered {answer!r:.100}")

    def _watch(self) -> None:
        """Between reads: stop if the child's resident memory passed the limit."""
        resident = _resident_bytes(self.process.pid)  # type: ignore[union-attr]
        if resident > self.limits.memory:
            raise _OverMemoryError(resident)

    def _kill(self) -> None:
        """Kill the child's whole process group and reap the child."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._forget()

    def _reap(self) -> str:
        """Wait for a child whose pipe closed; say how it ended."""
        try:
            code = self.process.wait(timeout=EXIT_GRACE)  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:
            self._kill()
            return "it closed its pipe to the gate and was killed"
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
        self._forget()
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"killed by {name}{_SIGNAL_MEANING.get(name, '')}"
        return f"exit status {code}"

    def _forget(self) -> None:
        for fd in (self.requests, self.answers):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.process = None

    def _stderr_note(self) -> str:
        """The last lines the child wrote to stdout and stderr, for a report."""
        self.stderr.seek(0, os.SEEK_END)
        size = self.stderr.tell()
        self.stderr.seek(max(0, size - 4096))
        lines = self.stderr.read().decode("utf-8", "replace").splitlines()[-STDERR_LINES:]
        self.stderr.seek(0)
        self.stderr.truncate()
        if not lines:
            return ""
        return "; its last output: " + " | ".join(line.strip() for line in lines)

    def close(self) -> None:
        """Kill the child's process group at once (a child asked to exit would run the
        implementation's atexit hooks, after the gate's report), remove the shared file."""
        self._kill()
        self.arguments.close()
        self.stderr.close()

    # --- a call ------------------------------------------------------------------------------

    def __call__(self, case: Case) -> Outcome:
        if self.process is None:
            try:
                self._start()
            except ImplementationError as exc:
                return Outcome(
                    failure=Finding(
                        "crash", f"could not start the implementation's process again: {exc}"
                    )
                )
        size, layout = self.arguments.write(case)
        self.seq += 1
        timeout = self.limits.timeout if self.limits.timeout is not None else default_timeout(case)
        if self.calls == 0 and self.limits.timeout is None:
            timeout += FIRST_CALL_EXTRA
        self.calls += 1
        request = {
            "op": "call",
            "seq": self.seq,
            "sizes": list(case.arch.sizes),
            "activations": list(case.arch.activations),
            "loss": case.arch.loss,
            "size": size,
            "layout": layout,
        }
        start = time.monotonic()
        try:
            protocol.write_message(self.requests, request)
            outcome = self._answer(case, start + timeout)
        except protocol.DeadlineError:
            self._kill()
            return Outcome(
                failure=Finding("timeout", f"the call did not return within {timeout:g} s"),
                mutated=self.arguments.changed(case, layout),
            )
        except (protocol.ClosedError, BrokenPipeError):
            how = self._reap()
            return Outcome(
                failure=Finding(
                    "crash",
                    f"the implementation's process ended during the call ({how})"
                    + self._stderr_note(),
                ),
                mutated=self.arguments.changed(case, layout),
            )
        except protocol.ProtocolError as exc:
            self._kill()
            return Outcome(
                failure=Finding(
                    "crash", f"the implementation's process broke the gate's protocol: {exc}"
                ),
            )
        except _OverMemoryError as exc:
            self._kill()
            return Outcome(
                failure=Finding(
                    "memory",
                    f"the call used {exc.resident / 2**20:,.0f} MiB of memory, more than the "
                    f"limit of {self.limits.memory / 2**20:,.0f} MiB",
                )
            )
        changed = self.arguments.changed(case, layout)
        return Outcome(
            returned=outcome.returned,
            raised=outcome.raised,
            failure=outcome.failure,
            mutated=changed + outcome.mutated,
            seconds=time.monotonic() - start,
        )

    def _answer(self, case: Case, deadline: float) -> Outcome:
        """Read and check the child's answer to the request just sent."""
        header = protocol.read_header(self.answers, deadline, self._watch)
        if header.get("seq") != self.seq:
            raise protocol.ProtocolError(f"an answer to request {header.get('seq')!r:.20}")
        arch = ("arch",) if header.get("arch_changed") is True else ()
        status = header.get("status")
        if status == "raised":
            raised = protocol.decode_raised(header, case.L)
            if raised.type_name == "MemoryError":
                return Outcome(
                    failure=Finding(
                        "memory",
                        f"the call ran out of memory (the limit is "
                        f"{self.limits.memory / 2**20:,.0f} MiB): raised MemoryError: "
                        f"{raised.message}{raised.where}",
                        raised.layer,
                    ),
                    mutated=arch,
                )
            return Outcome(raised=raised, mutated=arch)
        if status != "returned":
            raise protocol.ProtocolError(f"status {status!r:.20}")
        returned, wanted = protocol.decode_returned(
            header, case.L, max_entries(case.n, case.arch.sizes)
        )
        payload = protocol.read_exact(
            self.answers, protocol.payload_size(wanted), deadline, self._watch
        )
        return Outcome(returned=protocol.with_arrays(returned, wanted, payload), mutated=arch)


_SIGNAL_MEANING = {
    "SIGSEGV": " (a segmentation fault: an invalid memory access, e.g. in compiled code)",
    "SIGBUS": " (a bus error: an invalid memory access)",
    "SIGABRT": " (an abort: a failed assertion in compiled code?)",
    "SIGKILL": " (killed from outside: the system's out-of-memory killer?)",
    "SIGFPE": " (a floating-point exception trapped in compiled code)",
    "SIGXFSZ": " (it wrote more than the file-size limit)",
    "SIGXCPU": " (it used more than the CPU-time limit)",
}

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _resident_bytes(pid: int) -> int:
    """The resident memory of process `pid` (Linux /proc; 0 where it cannot be read)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0
