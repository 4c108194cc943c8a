"""Serving: Hypercorn configuration, the trio serve loop, signals, fixes to Hypercorn."""
