"""The package's version: the one the .NET packages carry (Directory.Build.props), read from the
installed package's metadata."""
from __future__ import annotations

from importlib import metadata

try:
    __version__: str = metadata.version("aeterna")
except metadata.PackageNotFoundError:   # run from a source tree that was not installed
    __version__ = "0+unknown"
