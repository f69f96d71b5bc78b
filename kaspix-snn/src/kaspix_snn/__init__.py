"""kaspix-snn: spiking-network experiment pipeline on norse."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kaspix-snn")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
