"""kaspix: the plugin contract and plumbing for physics-grounded neural modelling of analog systems.

Plugin authors need only what this module exports::

    from kaspix import Config, Pipeline, RunContext, Step, hookimpl
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kaspix-core")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

from kaspix.config import Config
from kaspix.context import RunContext
from kaspix.errors import KaspixError
from kaspix.hookspecs import hookimpl
from kaspix.pipeline import Pipeline, Step

__all__ = ["Config", "KaspixError", "Pipeline", "RunContext", "Step", "__version__", "hookimpl"]
