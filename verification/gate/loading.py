"""Loading the implementation under test: MODULE:FUNCTION or PATH/TO/FILE.py:FUNCTION.

The same spec resolves the same way from `python -m verification`, from `backprop-gate` and
from `verification.check`: the current folder comes first on the path. The gate's own packages
are called `reference` and `verification`, and a user's module may have either name: in the
isolated child (the default) the user's module is imported in place of the gate's, whose
modules the child no longer needs by then; in the gate's own process (--in-process) that is
impossible, and the run stops with one line saying what was found where.
"""

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

OWN_PACKAGES = ("reference", "verification")
OWN_ROOT = Path(__file__).resolve().parents[2]
"""The folder that holds this project's packages (a checkout, or site-packages)."""


class ImplementationError(Exception):
    """The implementation could not be loaded: the command line exits with status 2."""


@dataclass(frozen=True)
class Spec:
    """A parsed spec: the module (a name, or the path of a .py file) and the attribute."""

    text: str
    module: str
    attr: str
    is_path: bool


def parse_spec(spec: str) -> Spec:
    """Split MODULE:FUNCTION or PATH/TO/FILE.py:FUNCTION; ImplementationError if it is neither."""
    module, sep, attr = spec.rpartition(":")
    if not sep or not module or not attr:
        raise ImplementationError(
            f"--impl {spec!r} should be MODULE:FUNCTION or PATH/TO/FILE.py:FUNCTION"
        )
    is_path = module.endswith(".py") or "/" in module or "\\" in module
    return Spec(spec, module, attr, is_path)


def is_own(path: str | None) -> bool:
    """Whether a module file is this project's own reference (reference/, not its tests)."""
    if not path:
        return False
    resolved = Path(path).resolve()
    own = OWN_ROOT / "reference"
    return resolved.is_relative_to(own) and not resolved.is_relative_to(own / "tests")


def module_file(spec: str) -> str | None:
    """The file that the spec's module would be loaded from (the current folder first on the
    path, as in the child), found without running any of its code; None if there is none.
    The gate decides from it, and not from what the child says, whether the implementation
    is its own reference (the report's label)."""
    parsed = parse_spec(spec)
    if parsed.is_path:
        return str(Path(parsed.module).resolve())
    cwd = os.getcwd()
    path: list[str] | None = [cwd, *(p for p in sys.path if p not in (cwd, ""))]
    found = None
    for part in parsed.module.split("."):
        if path is None:  # the module before this part is not a package
            return None
        name = part if found is None else f"{found.name}.{part}"
        try:
            found = importlib.machinery.PathFinder.find_spec(name, path)
            if found is None and name == part:  # an editable install's finder, say
                found = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None
        if found is None:
            return None
        path = found.submodule_search_locations
    return found.origin if found is not None else None


def _purge(top: str) -> None:
    """Forget the imported modules of package `top`, so that a user's module of that name can be
    imported (in the child only: the gate's code that needs them has already bound them)."""
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]


def load_implementation(spec: str, *, isolated: bool, own: bool = False) -> Callable:
    """The callable named by `spec`; ImplementationError with a one-line reason if it cannot
    be loaded.

    `isolated` is True in the child process: there a user's module named like one of the
    gate's packages, anywhere on the path before the gate's, replaces the gate's (unless `own`:
    the spec names the gate's own reference, as found by module_file). In the gate's own
    process that is refused.
    """
    parsed = parse_spec(spec)
    cwd = os.getcwd()
    sys.path[:] = [cwd, *(p for p in sys.path if p not in (cwd, ""))]
    for top in OWN_PACKAGES:
        shadow = _shadowing(top)
        if shadow is None or own:
            continue
        if isolated:
            _purge(top)
        else:  # the implementation, or what it imports, would get the gate's module instead
            raise ImplementationError(
                f"--impl {spec}: {shadow} has the name of this project's own package "
                f"{top!r}, which the gate's process already uses: run the gate isolated "
                "(without --in-process) to judge it, or rename it"
            )
    module = _load_file(parsed) if parsed.is_path else _import(parsed)
    impl = module
    for part in parsed.attr.split("."):
        try:
            impl = getattr(impl, part)
        except AttributeError:
            raise ImplementationError(
                f"--impl {spec}: {parsed.module!r} has no attribute {parsed.attr!r}"
            ) from None
    if not callable(impl):
        raise ImplementationError(
            f"--impl {spec}: {parsed.attr!r} is a {type(impl).__name__}, not a callable"
        )
    return impl


def _shadowing(top: str) -> str | None:
    """Where a fresh `import top` would now find a module that is not the gate's own package,
    if the gate's is loaded and something else comes first on the path."""
    if top not in sys.modules:
        return None
    found = importlib.machinery.PathFinder.find_spec(top, sys.path)
    origin = found.origin if found is not None else None
    if origin is None or Path(origin).resolve().is_relative_to(OWN_ROOT / top):
        return None
    return origin


def _import(parsed: Spec) -> object:
    try:
        return importlib.import_module(parsed.module)
    except SystemExit as exc:
        raise ImplementationError(
            f"--impl {parsed.text}: importing {parsed.module!r} exited (status {exc.code})"
        ) from None
    except Exception as exc:
        raise ImplementationError(
            f"--impl {parsed.text}: cannot import {parsed.module!r}: {type(exc).__name__}: {exc}"
        ) from None


def _load_file(parsed: Spec) -> object:
    path = Path(parsed.module)
    if not path.is_file():
        raise ImplementationError(f"--impl {parsed.text}: no file {str(path)!r}")
    name = f"_backprop_impl_{abs(hash(str(path.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ImplementationError(f"--impl {parsed.text}: {str(path)!r} is not a Python file")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # so that the module's own imports of itself find it
    # the file's own folder comes first on the path, as when it is run as a script
    sys.path.insert(0, str(path.resolve().parent))
    try:
        module_spec.loader.exec_module(module)
    except SystemExit as exc:
        raise ImplementationError(
            f"--impl {parsed.text}: importing {str(path)!r} exited (status {exc.code})"
        ) from None
    except Exception as exc:
        raise ImplementationError(
            f"--impl {parsed.text}: importing {str(path)!r} raised {type(exc).__name__}: {exc}"
        ) from None
    return module


def spec_of(impl: Callable) -> str | None:
    """A spec that names `impl` in a fresh process, or None if there is none.

    A function or class is named by its module and qualified name; an object (e.g. an
    instance with __call__) by the module attribute that holds it. A callable of a script run
    as __main__ is named by the script's path (its `if __name__ == "__main__":` part does not
    run in the child). Lambdas, closures, bound methods and partials have no such name.
    """
    module_name = getattr(impl, "__module__", None)
    qualname = getattr(impl, "__qualname__", None)
    if module_name is None and not isinstance(impl, type):
        module_name = type(impl).__module__
    module = sys.modules.get(module_name or "")
    if module is None:
        return None
    if isinstance(qualname, str) and "<" not in qualname and _resolves(module, qualname, impl):
        attr = qualname
    else:
        attr = next((k for k, v in vars(module).items() if v is impl), None)
        if attr is None:
            return None
    if module_name == "__main__":
        path = getattr(module, "__file__", None)
        return f"{path}:{attr}" if path else None
    return f"{module_name}:{attr}"


def _resolves(module: object, qualname: str, impl: object) -> bool:
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj is impl
