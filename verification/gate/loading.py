"""Loading the implementation under test: MODULE:FUNCTION or PATH/TO/FILE.py:FUNCTION."""

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path


class ImplementationError(Exception):
    """The implementation could not be loaded: the command line exits with status 2."""


def load_implementation(spec: str) -> Callable:
    """The callable named by `spec`; raises ImplementationError with a one-line reason."""
    module_part, sep, attr = spec.rpartition(":")
    if not sep or not module_part or not attr:
        raise ImplementationError(
            f"--impl {spec!r} should be MODULE:FUNCTION or PATH/TO/FILE.py:FUNCTION"
        )
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        path = Path(module_part)
        if not path.is_file():
            raise ImplementationError(f"--impl {spec!r}: no file {str(path)!r}")
        name = f"_backprop_impl_{abs(hash(str(path.resolve())))}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ImplementationError(f"--impl {spec!r}: {str(path)!r} is not a Python file")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module  # so that workers and pickling can find it
        # the file's own folder comes first on the path, as when it is run as a script
        sys.path.insert(0, str(path.resolve().parent))
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            raise ImplementationError(
                f"--impl {spec!r}: importing {str(path)!r} raised {type(exc).__name__}: {exc}"
            ) from exc
    else:
        try:
            module = importlib.import_module(module_part)
        except Exception as exc:
            raise ImplementationError(
                f"--impl {spec!r}: cannot import {module_part!r}: {type(exc).__name__}: {exc}"
            ) from exc
    try:
        impl = getattr(module, attr)
    except AttributeError:
        raise ImplementationError(
            f"--impl {spec!r}: {module_part!r} has no attribute {attr!r}"
        ) from None
    if not callable(impl):
        raise ImplementationError(
            f"--impl {spec!r}: {attr!r} is a {type(impl).__name__}, not a callable"
        )
    return impl


def spec_of(impl: object) -> str | None:
    """ "MODULE:NAME" that loads `impl` itself (a module-level function, or a module-level name
    bound to the object), or None: a lambda, a nested function, a bound method or a
    functools.partial that no module-level name holds, anything defined in __main__."""
    module_name = getattr(impl, "__module__", None)
    if not isinstance(module_name, str) or module_name == "__main__":
        return None
    module = sys.modules.get(module_name)
    if module is None:
        return None
    name = getattr(impl, "__qualname__", None)
    if isinstance(name, str) and name.isidentifier() and getattr(module, name, None) is impl:
        return f"{module_name}:{name}"
    for attr, value in vars(module).items():
        if value is impl and attr.isidentifier() and not attr.startswith("_"):
            return f"{module_name}:{attr}"
    return None
