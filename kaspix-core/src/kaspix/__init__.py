"""kaspix: the plugin contract and plumbing for physics-grounded neural modelling of analog systems.

Plugin authors need only what this module exports::

    from kaspix import Config, KaspixError, Pipeline, RegisterPart, RunContext, Step, hookimpl, lazy_factory

plus :mod:`kaspix.training` (``fit``) and :mod:`kaspix.testing` (``plugin_host``, ``run_pipeline``,
``invoke``). Everything else is internal and may change.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kaspix-core")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

from kaspix.config import Config
from kaspix.context import RunContext
from kaspix.errors import KaspixError
from kaspix.hookspecs import RegisterCommand, RegisterPart, RegisterPipeline, hookimpl
from kaspix.lazy import lazy_factory
from kaspix.pipeline import Pipeline, Step

__all__ = [
    "Config",
    "KaspixError",
    "Pipeline",
    "RegisterCommand",
    "RegisterPart",
    "RegisterPipeline",
    "RunContext",
    "Step",
    "__version__",
    "hookimpl",
    "lazy_factory",
]
