"""keystoneauth's DEBUG lines lose their bodies (user data, files) but keep the request."""

from __future__ import annotations

import logging

import pytest

from amphora_compute import redact

SECRET = "c2VjcmV0LXVzZXItZGF0YQ=="


def test_request_and_response_bodies_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    redact.install()
    redact.install()  # twice is harmless
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("keystoneauth.session")
    log.debug("REQ: curl -g -i -X POST http://127.0.0.1:1/v2.1/servers "
              "-H \"Content-Type: application/json\" -d '{\"server\": {\"user_data\": \"%s\"}}'",
              SECRET)
    log.debug("RESP BODY: %s", f'{{"OS-EXT-SRV-ATTR:user_data": "{SECRET}"}}')
    logging.getLogger("keystoneauth.session.body").debug("%s", SECRET)
    log.debug("RESP: [202] Location: http://127.0.0.1:1/v2.1/servers/x")
    assert SECRET not in caplog.text
    assert "-X POST http://127.0.0.1:1/v2.1/servers" in caplog.text
    assert "RESP: [202]" in caplog.text
    assert caplog.text.count(redact.REDACTED) == 3
