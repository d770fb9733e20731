"""A WSGI app without Django, for warmup of non-Django apps."""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"plain {environ['PATH_INFO']} on {environ['HTTP_HOST']}\n".encode()]
