"""The platform's OAuth 2.0 authorization server: client-credentials tokens for the APIs.

Mount :func:`token_router` in a platform service (the catalog serves it); every
context's API verifies the tokens with ``shared_kernel.interfaces.auth``. See
docs/access-control.md.
"""

from dpmesh.auth.tokens import (
    CLIENT_CREDENTIALS,
    DEMO_CLIENTS,
    TOKEN_PATH,
    issue_token,
    resolve_clients,
    token_router,
)

__all__ = [
    "CLIENT_CREDENTIALS",
    "DEMO_CLIENTS",
    "TOKEN_PATH",
    "issue_token",
    "resolve_clients",
    "token_router",
]
