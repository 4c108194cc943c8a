"""``python -m prefect_trio_server``: the command line (``start`` by default)."""

from .cli import main

raise SystemExit(main())
