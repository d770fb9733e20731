"""Custom backends for the dotted-path tests."""

from entrypoint.backends import WEB, Launch, Word


def words(process, env, extra):
    return ["myprog", "--name", process.name, *extra]


def launch(process, env, extra):
    return Launch([Word("myserver", "custom"), Word(process.app or "none", "custom")], WEB, process.app, "wsgi",
                  ("127.0.0.1", 9000))


def bad(process, env, extra):
    return 42


NOT_CALLABLE = "just a string"
