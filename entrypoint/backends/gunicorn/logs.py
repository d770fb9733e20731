"""gunicorn's logger class with PROD_ENTRY_LOG_FORMAT=json (hook.py sets `logger_class` to it): gunicorn's error
and access logs in jsonlog.py's schema, access records with their fields (not an Apache line), and the root
logger of the master and each worker on stderr as JSON too."""

from __future__ import annotations

from typing import Any

from gunicorn import glogging

from entrypoint.logs import jsonlog, options


class JsonLogger(glogging.Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)  # gunicorn's handlers (stderr, stdout, --error-logfile, --access-logfile, its logconfig)
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                handler.setFormatter(jsonlog.JsonFormatter())
        jsonlog.configure()

    def _compute_access_log_enabled(self) -> bool:  # gunicorn >= 25 asks this before it builds an access record
        return options.access_enabled() and bool(super()._compute_access_log_enabled())

    def access(self, resp: Any, req: Any, environ: dict, request_time: Any) -> None:
        if not (options.access_enabled() and (self.cfg.accesslog or self.cfg.logconfig_dict or self.cfg.logconfig)):
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        try:
            jsonlog.log_access(
                self.access_log, environ.get("REQUEST_METHOD", "-"), environ.get("RAW_URI") or
                environ.get("PATH_INFO", ""), int(status) if str(status).isdigit() else None,
                request_time.total_seconds() * 1000, environ.get("REMOTE_ADDR"), environ.get("HTTP_USER_AGENT"),
                environ.get("HTTP_X_REQUEST_ID"))
        except Exception:
            self.exception("prod-entry: cannot write the access record")  # as gunicorn's own access() does
