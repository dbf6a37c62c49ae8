"""Spawned worker processes that never re-run the caller's main script.

A spawned worker (polars runs threads, so the project never forks) imports the parent's `__main__`
module again unless told not to. Under the CLI that is harmless, but under a test runner or a
Streamlit AppTest `__main__` can be a page script, which the worker would run and die on. The jobs
need only `pipelines` (their function is pickled by name), so `main_hidden()` hides the main module's
file and spec while workers start: callers need no `if __name__ == "__main__"` guard.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def main_hidden() -> Iterator[None]:
    main = sys.modules.get("__main__")
    saved_file = getattr(main, "__file__", None)
    saved_spec = getattr(main, "__spec__", None)
    try:
        if main is not None:
            if saved_file is not None:
                del main.__file__
            main.__spec__ = None
        yield
    finally:
        if main is not None:
            if saved_file is not None:
                main.__file__ = saved_file
            main.__spec__ = saved_spec
