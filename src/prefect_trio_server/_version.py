"""Versions the server reports."""

from __future__ import annotations

# Our own package version.
__version__ = "0.1.0"

# The Prefect release whose REST API we serve. Clients compare its major version with their
# own and refuse to work on a mismatch, so it must stay 3.x.
PREFECT_VERSION = "3.9.1"

# The REST API version of Prefect 3 (the X-PREFECT-API-VERSION header and GET /version).
SERVER_API_VERSION = "0.8.4"

# Clients sending an X-PREFECT-API-VERSION below this get 400.
MINIMUM_API_VERSION = (0, 8, 0)
