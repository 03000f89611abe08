"""Pure rules of the work items: no I/O, ``now`` passed in."""
