"""Deadlines as messages: the scheduler that fires due timers, isolated like records."""
