"""The officers' pages as FastAPI routers (signing in, the queue, records, commands) sharing the dependencies of
:mod:`console.web.common`; :mod:`console.ui` assembles them."""
