"""``python -m locmap.cli`` is the ``locmap`` command."""

from locmap.cli import main

main()
