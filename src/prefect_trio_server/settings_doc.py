"""Render docs/settings.md from the Settings model (`make docs`)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import AliasChoices

from .settings import Settings

HEADER = """# Settings

Every setting is an environment variable. Where Prefect has a name for a setting, the
server uses Prefect's name, so an existing Prefect environment carries over; the
`PREFECT_TRIO_SERVER_*` names are this server's own. `prefect-trio-server start` also takes
`--host`, `--port`, `--workers`, `--certfile`, `--keyfile` and `--no-ui`, which override
the environment.

Three switches, read by `create_app`, force a kind of server whatever its arguments say
(as in Prefect): `PREFECT__SERVER_EPHEMERAL=1` (no UI, only the services an ephemeral server
needs; `SubprocessASGIServer` sets it for its child), `PREFECT__SERVER_WEBSERVER_ONLY=1` (no
background services) and `PREFECT__SERVER_FINAL=1` (no app cache).

This page is generated from `src/prefect_trio_server/settings.py`
(`python -m prefect_trio_server.settings_doc > docs/settings.md`); a test keeps it current.

| variable | default | description |
|---|---|---|
"""


def _default(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, list):
        return f"`{','.join(value)}`"
    return f"`{json.dumps(value) if isinstance(value, str) and not value else value}`"


def render() -> str:
    rows = []
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        assert isinstance(alias, AliasChoices)
        names = " / ".join(f"`{name}`" for name in alias.choices)
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| {names} | {_default(field.default)} | {description} |")
    return HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(render(), end="")
