"""A token or secret in a URL never reaches a log line."""

from __future__ import annotations

import io
import logging

from shared_kernel.infrastructure.logging import RedactSecrets, configure_logging


def access_record(path: str) -> logging.LogRecord:
    """A record as uvicorn's access logger makes it."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 401),
        None,
    )


def test_secret_query_values_are_redacted_and_the_rest_kept() -> None:
    record = access_record("/api/v1/products/alerts?limit=5&access_token=eyJ.secret.sig&x=1")
    assert RedactSecrets().filter(record)
    message = record.getMessage()
    assert "eyJ.secret.sig" not in message
    assert "access_token=[redacted]" in message
    assert "limit=5" in message
    assert "&x=1" in message


def test_the_configured_handler_redacts() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", json=True)
        stream = io.StringIO()
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        # The handler the process logs through (uvicorn's loggers propagate to it when
        # run by dpmesh, log_config=None), fed directly: other tests reconfigure them.
        handler.handle(access_record("/oauth/token?client_secret=s3cr3t"))
        assert "s3cr3t" not in stream.getvalue()
        assert "client_secret=[redacted]" in stream.getvalue()
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
