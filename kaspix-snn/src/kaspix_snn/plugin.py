"""The ``snn`` kaspix plugin: config-driven spiking-network experiments on norse.

Its parts (data sources, models, pipeline) are registered by hook implementations in this
module as they are built; until then the plugin is discovered and listed with no parts.
"""
