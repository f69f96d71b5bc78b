"""kaspix-spice: NGSpice dataset factory and FiLM-conditioned circuit emulators (the ``spice`` plugin)."""
