"""Domain errors. Each carries the HTTP status the API answers with, and a message an
operator can act on (what was refused and why)."""


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotAllowed(DomainError):
    """The actor's role or token scope may not do this."""

    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    """The request clashes with the current state (which the message names)."""

    status_code = 409


class InvalidInput(DomainError):
    status_code = 422


class TransitionNotAllowed(Conflict):
    pass
