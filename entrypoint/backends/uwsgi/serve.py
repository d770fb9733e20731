"""`python -m entrypoint.backends.uwsgi.serve [uWSGI options]`: pyuwsgi's `uwsgi` program (the wheel's script is
`sys.exit(pyuwsgi.run())`), with the warmup prod-entry handed over run first, in this interpreter.

uWSGI binds its sockets before it loads the app (uwsgi_start: uwsgi_bind_sockets, then uwsgi_init_all_apps), so
no uWSGI hook runs early enough: a warmup there would leave the port bound, taking connections into its backlog,
until a broken app made it exit. Here it runs before pyuwsgi.run(), when nothing is bound. pyuwsgi runs uWSGI in
this very interpreter ("Python VM already initialized"), and its first app runs in the main interpreter: its
--module import finds the app the warmup loaded in sys.modules, and the workers fork from the master with it.
A reload (HUP) re-execs this same command line; the plan is taken once, so it does not warm up again.
"""

from __future__ import annotations

import sys


def main() -> int:
    from entrypoint.warmup import handover

    handover.here("uWSGI's master")
    import pyuwsgi

    return pyuwsgi.run(sys.argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
