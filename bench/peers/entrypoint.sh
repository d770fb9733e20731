#!/bin/sh
# Figure 7's peer: the gates a careful user writes by hand before gunicorn today. Wait for the database
# (Django's own check with its database checks, retried), refuse unapplied migrations, then exec the server.
# $PYTHON and $GUNICORN name the interpreter and gunicorn of the virtualenv being measured.
set -eu
tries=0
until "$PYTHON" manage.py check --database default >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -lt 30 ] || exec "$PYTHON" manage.py check --database default
    sleep 1
done
"$PYTHON" manage.py migrate --check >/dev/null
exec "$GUNICORN" "$@"
