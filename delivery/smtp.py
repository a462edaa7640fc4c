"""Sending a message through an SMTP server (aiosmtplib), and telling which failures are worth
another try.

A failure is **transient** (retried by the scheduler, with back-off) when the message surely
did not go out and the cause may pass: the server cannot be reached or does not answer in
time while connecting, or it answers with a 4xx reply ("try again later"). A 5xx reply, a
refused login and a TLS problem are **permanent**: retrying would only repeat them.

A connection that breaks or times out *during* the mail transaction is neither: the server
may have accepted the message just before. Such a failure is reported as ``uncertain`` and is
never retried, because a subscription's run is sent at most once (docs/subscriptions.md).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Final, Literal

import aiosmtplib
import msgspec

#: How the connection is protected: STARTTLS on a plain connection (port 587), TLS from the
#: first byte (port 465), or nothing (a relay on localhost, a test server).
Security = Literal["starttls", "ssl", "none"]
SECURITIES: Final[tuple[Security, ...]] = ("starttls", "ssl", "none")


class SmtpSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Where and how subscription emails are sent (``LOUPE_SMTP_*``, docs/subscriptions.md)."""

    host: str = "localhost"
    port: int = 587
    username: str | None = None
    password: str | None = None
    security: Security = "starttls"
    #: The envelope sender and From address.
    from_address: str = "loupe@localhost"
    #: The From display name.
    from_name: str = "Loupe"
    #: Seconds for connecting and for each reply of the server.
    timeout: float = 30.0
    #: Check the server's TLS certificate (turn off only for a self-signed test server).
    validate_certs: bool = True

    @property
    def from_domain(self) -> str:
        """The domain of the From address (Message-IDs are made under it)."""
        return self.from_address.rpartition("@")[2] or "localhost"


class Sent(msgspec.Struct, frozen=True, kw_only=True):
    """The server took the message for these recipients."""

    accepted: tuple[str, ...]
    #: Recipients the server refused while accepting the others → its reply.
    refused: dict[str, str]
    #: The server's reply to the message ("250 OK queued as ...").
    reply: str


class SendFailed(Exception):
    """The message was not sent (or may not have been: ``uncertain``)."""

    def __init__(
        self,
        detail: str,
        *,
        transient: bool,
        uncertain: bool = False,
        refused: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.transient = transient
        self.uncertain = uncertain
        self.refused = refused or {}


class SmtpMailer:
    """Sends messages with one connection per message (runs are minutes apart)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def _client(self) -> aiosmtplib.SMTP:
        settings = self.settings
        return aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            username=settings.username,
            password=settings.password,
            timeout=settings.timeout,
            use_tls=settings.security == "ssl",
            start_tls=settings.security == "starttls",
            validate_certs=settings.validate_certs,
        )

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> Sent:
        """Send ``message`` to ``recipients`` (the envelope; the headers say what people see).

        Raises `SendFailed` when no recipient got it."""
        client = self._client()
        try:
            await self._connect(client)
            refused, reply = await _transact(
                client, message, self.settings.from_address, recipients
            )
        finally:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                if client.is_connected:
                    await client.quit()
            client.close()
        refused_text = {address: _reply(response) for address, response in refused.items()}
        accepted = tuple(address for address in recipients if address not in refused_text)
        return Sent(accepted=accepted, refused=refused_text, reply=reply)

    async def _connect(self, client: aiosmtplib.SMTP) -> None:
        """Connect, greet, secure and log in: nothing is sent yet, so failing here is safe."""
        try:
            await client.connect()
        except ssl.SSLError as error:
            raise SendFailed(f"TLS with the mail server failed: {error}", transient=False) from None
        except aiosmtplib.SMTPAuthenticationError as error:
            raise SendFailed(
                f"the mail server refused the login: {_reply(error)}",
                transient=_temporary(error.code),
            ) from error
        except aiosmtplib.SMTPResponseException as error:
            raise SendFailed(
                f"the mail server refused the connection: {_reply(error)}",
                transient=_temporary(error.code),
            ) from error
        except aiosmtplib.SMTPNotSupported as error:
            raise SendFailed(
                f"the mail server does not support what the settings ask: {error}",
                transient=False,
            ) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            if isinstance(error.__cause__, ssl.SSLError):  # aiosmtplib wraps TLS failures
                raise SendFailed(
                    f"TLS with the mail server failed: {error.__cause__}", transient=False
                ) from error
            raise SendFailed(
                f"could not reach the mail server at {self.settings.host}:{self.settings.port}: "
                f"{error or type(error).__name__}",
                transient=True,
            ) from error


async def _transact(
    client: aiosmtplib.SMTP, message: EmailMessage, sender: str, recipients: Sequence[str]
) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
    """MAIL, RCPT, DATA: (refused recipients, the server's reply)."""
    try:
        return await client.send_message(message, sender=sender, recipients=list(recipients))
    except aiosmtplib.SMTPRecipientsRefused as error:
        replies = {r.recipient: _reply(r) for r in error.recipients}
        raise SendFailed(
            "the mail server refused every recipient: "
            + "; ".join(f"{address}: {text}" for address, text in replies.items()),
            transient=all(_temporary(r.code) for r in error.recipients),
            refused=replies,
        ) from error
    except aiosmtplib.SMTPResponseException as error:
        raise SendFailed(
            f"the mail server refused the message: {_reply(error)}",
            transient=_temporary(error.code),
        ) from error
    except (aiosmtplib.SMTPException, OSError) as error:
        raise SendFailed(
            "the connection to the mail server broke while sending "
            f"({error or type(error).__name__}); the message may or may not have been "
            "delivered, so it is not sent again",
            transient=False,
            uncertain=True,
        ) from error


def _temporary(code: int) -> bool:
    """A 4xx reply: the server asks to try again later."""
    return 400 <= code < 500  # noqa: PLR2004 - SMTP reply classes


def _reply(response: aiosmtplib.SMTPResponseException | aiosmtplib.SMTPResponse) -> str:
    return f"{response.code} {response.message}".strip()
