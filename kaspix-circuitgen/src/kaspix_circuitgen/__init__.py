"""kaspix-circuitgen: circuit encoder with a set-based / analytic pole-zero decoder."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kaspix-circuitgen")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
