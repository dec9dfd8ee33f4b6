"""HTTP edge: Starlette routes, the pure-ASGI layout fast path, console, health, metrics."""
