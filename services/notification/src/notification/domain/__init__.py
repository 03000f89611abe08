"""The procedure's rules, pure: no I/O, no clock."""
