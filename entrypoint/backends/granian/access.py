"""granian's access records with PROD_ENTRY_LOG_FORMAT=json: granian logs each request as
`access_logger.info(fmt, fields)`, the fields a dict; the filter in log_config.json turns them into jsonlog's
access fields (and the message into `GET /path 200`). The user agent and request id are headers granian
collects only when the format names them: ACCESS_FORMAT does, as its first and second header."""

from __future__ import annotations

import logging

ACCESS_FORMAT = '%(method)s %(path)s %(status)d "%(header{user-agent})s" %(header{x-request-id})s'
_AS_SENT = '%(method)s %(path)s %(status)d "%(_h0)s" %(_h1)s'  # ACCESS_FORMAT once granian numbered its headers


def _header(value: object) -> str | None:
    return None if value in (None, "-") else str(value)


class AccessFields(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.args
        if not isinstance(fields, dict) or "method" not in fields:
            return True
        path = str(fields["path"]) + (f"?{fields['query_string']}" if fields.get("query_string") else "")
        ours = record.msg == _AS_SENT  # a format of the user's has other headers, or none
        record.access = {"method": fields["method"], "path": path, "status": fields.get("status"),
                         "duration_ms": round(float(fields.get("dt_ms", 0.0)), 3), "remote": fields.get("addr"),
                         "user_agent": _header(fields.get("_h0")) if ours else None,
                         "request_id": _header(fields.get("_h1")) if ours else None}
        record.msg, record.args = "%s %s %s", (fields["method"], path, fields.get("status"))
        return True
