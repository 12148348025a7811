"""Pure domain rules: no I/O, property-tested."""
