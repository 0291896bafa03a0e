"""Keep secrets out of log lines that client libraries write.

keystoneauth (under openstacksdk, ironicclient and zunclient alike) logs every
request at DEBUG as a curl command line, body included, and every response
body.  Those bodies carry user data, config-drive contents and injected files
(and Nova returns ``OS-EXT-SRV-ATTR:user_data`` to admins).  ``install()``
puts a filter on keystoneauth's loggers that keeps the request line and drops
the bodies; it is called whenever a driver makes an OpenStack session.
"""

from __future__ import annotations

import logging
import re
import threading

REDACTED = "<redacted by amphora-compute>"
_CURL_BODY = re.compile(r"-d '.*'\s*$", re.DOTALL)
#: keystoneauth's loggers: one when split_loggers is off, four when it is on.
HTTP_LOGGERS = ("keystoneauth.session", "keystoneauth.session.request",
                "keystoneauth.session.response", "keystoneauth.session.body")
_installed = False
_lock = threading.Lock()


class HttpBodyFilter(logging.Filter):
    """Rewrites request lines without their ``-d '...'`` body and response bodies away."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix
            return True
        if "curl " in message and "-d '" in message:
            record.msg, record.args = _CURL_BODY.sub(f"-d '{REDACTED}'", message), ()
        elif message.startswith("RESP BODY:") or record.name.endswith(".body"):
            record.msg, record.args = f"RESP BODY: {REDACTED}", ()
        return True


def install() -> None:
    """Attach the filter to keystoneauth's loggers once per process."""
    global _installed
    with _lock:
        if _installed:
            return
        body_filter = HttpBodyFilter()
        for name in HTTP_LOGGERS:
            logging.getLogger(name).addFilter(body_filter)
        _installed = True
