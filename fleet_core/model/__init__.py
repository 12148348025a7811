"""Entities and value objects as the core sees them; no wire or storage concerns here."""
