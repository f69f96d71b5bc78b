"""Example kaspix plugin: fit the time constant of an RC low-pass from its step response."""
