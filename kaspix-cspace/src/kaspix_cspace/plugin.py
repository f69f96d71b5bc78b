"""The ``cspace`` kaspix plugin: oscillator embeddings, holographic loss, similarity search, codec.

Its parts are registered by hook implementations in this module as they are built; until
then the plugin is discovered and listed with no parts.
"""
