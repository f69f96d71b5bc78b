"""Builds the compiled ngspice callbacks (``src/kaspix_spice/_ngspice_feed.c``, see ``feed.py``).

Everything else about the package is in ``pyproject.toml``.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[Extension("kaspix_spice._ngspice_feed", ["src/kaspix_spice/_ngspice_feed.c"], extra_compile_args=["-O2"])],
)
