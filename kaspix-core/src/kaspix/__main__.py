"""``python -m kaspix`` runs the CLI."""

from kaspix.cli import main

main()
