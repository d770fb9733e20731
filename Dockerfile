# prod-entry's example image: the example Django project served by prod-entry (see README "Containers").
# Build: docker build -t prod-entry-example .      Run: docker run -p 8000:8000 prod-entry-example
# To package your own project, change the three lines marked "your project" (README shows how).

# The official slim image; machines that cannot pull it pass a compatible local image as BASE_IMAGE.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- build: wheels for prod-entry and every requirement, installed into a virtualenv ---------------------------
FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
# Projects with C extensions and no wheels install compilers here (apt-get install build-essential libpq-dev);
# they stay in this stage and never reach the runtime image.
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY entrypoint ./entrypoint
# your project: its requirements (prod-entry itself comes from this source tree; yours would list `prod-entry`).
COPY example/requirements.txt ./requirements.txt
# prod-entry's extras, comma-separated: `--build-arg PROD_ENTRY_EXTRAS=gevent` for gunicorn's gevent worker.
ARG PROD_ENTRY_EXTRAS=""
# pip and setuptools go once everything is installed: the runtime needs neither (and they are 25 MB).
RUN /opt/venv/bin/pip wheel --wheel-dir /wheels "prod-entry[${PROD_ENTRY_EXTRAS}] @ file:///src" -r requirements.txt \
 && /opt/venv/bin/pip install --no-index --find-links /wheels "prod-entry[${PROD_ENTRY_EXTRAS}]" -r requirements.txt \
 && /opt/venv/bin/pip uninstall --yes pip setuptools

# --- runtime: the virtualenv and the project, no compilers, no pip cache, a non-root user ---------------------
FROM ${BASE_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000 \
    DJANGO_SETTINGS_MODULE=example.settings
# Home is /tmp, the one directory that stays writable with a read-only root filesystem (gunicorn puts its
# control socket under $HOME).
# Group 10001 too, the group the image runs as (`--user-group` alone picks a free system gid such as 999, so
# the process's group had no name and files it made belonged to a group no one could name).
RUN groupadd --system --gid 10001 app \
    && useradd --system --no-log-init --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
    --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# your project: its source (owned by root, so the app cannot rewrite its own code).
COPY example/ ./
# Bytecode compiled once at build time: the root filesystem may be read-only at run time.
RUN python -m compileall -q /app
USER 10001:10001
EXPOSE 8000
# prod-entry is the init (PID 1): it forwards TERM to the server, reaps orphans and exits with its status.
STOPSIGNAL SIGTERM
# Probes the process the container was started with (`docker run image worker`: the worker's heartbeat; web:
# PROD_ENTRY_HEALTHCHECK_URL, default "/"). Docker's timeout is above prod-entry's own (PROD_ENTRY_HEALTHCHECK_TIMEOUT,
# 5 s), so a slow answer is reported in prod-entry's words, not as Docker's timeout.
HEALTHCHECK --interval=10s --timeout=10s --start-period=30s --retries=3 CMD ["prod-entry", "healthcheck"]
ENTRYPOINT ["prod-entry"]
# your project: the default process (`web` is gunicorn serving WSGI_APPLICATION on 0.0.0.0:$PORT).
CMD ["web"]
