"""Events the server itself emits (as opposed to storing what clients send)."""

from __future__ import annotations

from .flow_run_events import flow_run_state_event

__all__ = ["flow_run_state_event"]
