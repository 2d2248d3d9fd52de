"""Importing this module makes this process behave as if torch were not installed: every finder on
``sys.meta_path`` is wrapped so that it does not find ``torch`` (``importlib.util.find_spec``
returns None, ``import torch`` raises ModuleNotFoundError), exactly as on an install without the
extra. For subprocesses (``python -c "import tests.without_torch; ..."``) that must not have
imported torch yet; nothing in the code under test knows about it.
"""

from __future__ import annotations

import sys

if "torch" in sys.modules:
    raise RuntimeError("tests.without_torch must be imported before torch is")


class _WithoutTorch:
    """A meta path finder that finds what ``finder`` finds, except torch."""

    def __init__(self, finder) -> None:
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            return None
        find = getattr(self.finder, "find_spec", None)
        return None if find is None else find(name, path, target)

    def __getattr__(self, attr):
        return getattr(self.finder, attr)


sys.meta_path[:] = [_WithoutTorch(finder) for finder in sys.meta_path]
