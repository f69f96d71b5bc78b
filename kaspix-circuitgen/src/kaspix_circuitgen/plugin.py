"""The ``circuitgen`` kaspix plugin: a circuit encoder with a set-based / analytic pole-zero decoder.

Its parts are registered by hook implementations in this module as they are built; until
then the plugin is discovered and listed with no parts.
"""
