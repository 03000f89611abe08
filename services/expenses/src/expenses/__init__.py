"""expenses: the undelivered Income Management expenses procedure (103-01050060)."""
