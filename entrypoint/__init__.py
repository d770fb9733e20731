"""prod-entry: the container entrypoint for Django and any WSGI/ASGI application.

Kept empty on purpose: the console script imports this package first, and a PID-1 supervisor must not pay
for anything it does not use.
"""

__version__ = "0.1.0"
