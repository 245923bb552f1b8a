"""The package version, in a module of its own so that any module can read it without importing
the ``forecast`` package itself (``forecast/__init__.py`` imports most of the package)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("carbon-forecast")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
