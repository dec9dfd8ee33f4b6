"""The pure layout pipeline: no I/O, no starlette, no cachetools, no store."""
