"""The server's own exception tree, flat and small.

Use cases raise these; ``app.errors`` maps them to responses at one boundary. Foreign
exceptions (SQLAlchemy, the DB drivers) are mapped there too, through
``is_client_retryable_exception``.
"""

from __future__ import annotations


class ServerError(Exception):
    """Base of every error the server raises on purpose."""


class ObjectNotFoundError(ServerError):
    """A referenced object does not exist (404)."""


class ObjectAlreadyExistsError(ServerError):
    """The object would collide with one that exists (409)."""


class InvalidRequestError(ServerError):
    """The request is well-formed but cannot be acted on (422 unless ``status`` says)."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


class ServiceUnavailableError(ServerError):
    """The server cannot answer now; the client should retry after ``retry_after`` (503)."""

    def __init__(self, message: str = "Service Unavailable", *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConfigurationError(ServerError):
    """A setting is wrong; the message names the environment variable to fix."""
