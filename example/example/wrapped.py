"""The Django WSGI app wrapped by a WSGI middleware, the way WhiteNoise or Sentry wrap it: the wrapper has no
`get_response`, so only a warmup through the WSGI protocol itself can warm it. It serves /static/* itself."""

from example.wsgi import application as django_application

FILES = {"/static/app.css": b"body { margin: 0 }\n"}


class StaticFiles:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        body = FILES.get(environ["PATH_INFO"])
        if body is None:
            return self.app(environ, start_response)
        # What a static-file middleware needs from a real environ: method, path, and a readable input.
        environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/css"), ("Content-Length", str(len(body)))])
        return [body]


application = StaticFiles(django_application)
