"""Adapters backed by Redis: state shared by every server process (rate limits, ...)."""
