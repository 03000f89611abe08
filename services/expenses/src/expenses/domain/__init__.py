"""The procedure's rules, pure: no I/O, no clock (``now`` is passed in)."""
