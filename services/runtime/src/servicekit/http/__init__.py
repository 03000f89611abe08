"""HTTP: the bearer guard, the operational endpoints, and the APIs' FastAPI base."""
