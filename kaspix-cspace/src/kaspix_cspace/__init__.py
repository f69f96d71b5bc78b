"""kaspix-cspace: oscillator (S4-style) embeddings, holographic loss, similarity search and neural codec."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kaspix-cspace")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
