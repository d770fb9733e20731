"""The warmup: the plan and the child, the handover to the server's process, the per-worker replay, the in-memory client, the WSGI/ASGI wrappers."""
