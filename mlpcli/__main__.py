"""``python -m mlpcli`` runs the command line."""

from .cli import main

main()
