"""The console's desk: what an officer's record, queue and work item offer and say, decided without I/O.

Which actions a record offers now, who may see what (IM-1.1), the queues and readers of a subject, due times,
local time and the officer's words. Nothing here imports FastAPI, asyncpg, Jinja or the store
(``tests/console/test_console_shape.py`` keeps it so); its tests run in the fast tier."""
