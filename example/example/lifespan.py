"""An ASGI app with a lifespan, in front of Django's ASGI app (which has none): startup fills a resource that
/lifespan reports, so a request that arrives before startup ran answers 503. EXAMPLE_LIFESPAN_FAIL=1 makes
startup fail."""

import os

from example.asgi import application as django_application


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if os.environ.get("EXAMPLE_LIFESPAN_FAIL") == "1":
                    await send({"type": "lifespan.startup.failed", "message": "EXAMPLE_LIFESPAN_FAIL is set"})
                    return
                scope["state"]["resource"] = "ready"
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http" and scope["path"] == "/lifespan":
        ready = scope.get("state", {}).get("resource") == "ready"
        await send({"type": "http.response.start", "status": 200 if ready else 503,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"started\n" if ready else b"lifespan never ran\n"})
        return
    await django_application(scope, receive, send)


def create():
    """The same app from a factory, for `uvicorn --factory example.lifespan:create`."""
    return application
