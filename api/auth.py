"""Who is calling. Until the identity issue lands, only the development identity exists.

With ``LOUPE_DEV_AUTH=1`` a request names its user in the ``X-Loupe-Dev-User`` header (or, for a
browser WebSocket, which cannot set headers, the ``dev_user`` query parameter). The user id is
derived from that name, so the same name is the same user across restarts. It trusts the caller
completely: never enable it on a server others can reach.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from commands.authorization import Actor

DEV_USER_HEADER = "X-Loupe-Dev-User"
DEV_USER_QUERY = "dev_user"
_DEV_NAMESPACE = uuid.UUID("6d0c1f0e-6b1e-4f43-9c1a-2f1e0a7d5b11")
_MAX_NAME = 200

#: Routes anyone may call.
PUBLIC_PATHS = {"/health", "/metrics", "/schema"}


def dev_actor(name: str) -> Actor:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > _MAX_NAME or not cleaned.isprintable():
        raise NotAuthorizedException(
            f"{DEV_USER_HEADER} must be 1..{_MAX_NAME} printable characters"
        )
    return Actor(id=uuid.uuid5(_DEV_NAMESPACE, cleaned.lower()), name=cleaned)


class DevAuthMiddleware(AbstractAuthenticationMiddleware):
    def __init__(self, app: Any, *, enabled: bool, **kwargs: Any) -> None:
        super().__init__(app, exclude=[f"^{path}" for path in PUBLIC_PATHS], **kwargs)
        self.enabled = enabled

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        if not self.enabled:
            raise NotAuthorizedException(
                "Loupe has no identity provider yet. For development, start it with "
                f"LOUPE_DEV_AUTH=1 and send {DEV_USER_HEADER}: <your name>."
            )
        name = connection.headers.get(DEV_USER_HEADER) or connection.query_params.get(
            DEV_USER_QUERY
        )
        if not name:
            raise NotAuthorizedException(
                f"Send {DEV_USER_HEADER}: <your name> (or ?{DEV_USER_QUERY}= on a WebSocket)."
            )
        actor = dev_actor(name)
        services = getattr(connection.app.state, "services", None)
        if services is not None:
            await services.users.ensure(actor, services.clock.next())
        return AuthenticationResult(user=actor, auth=None)
