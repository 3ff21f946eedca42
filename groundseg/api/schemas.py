"""Request bodies of the operator API: strict, bounded, unknown fields refused.

Each model is the whole of what a request may say; pydantic answers a wrong type, an
out-of-range number or an unknown field with 422 naming the field."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Answer",
    "Argument",
    "Empty",
    "Login",
    "PollAnswer",
    "Reason",
    "RecyclePoint",
    "Revoke",
    "Shelve",
    "StartRequest",
    "Strict",
]

Text = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Empty(Strict):
    """No fields."""


class Login(Strict):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class Reason(Strict):
    reason: Text


class StartRequest(Strict):
    window_s: Annotated[float | None, Field(gt=0, le=7 * 86400)] = None
    """Seconds from now until the launch window closes; default: the pad's window after the
    planned T-0."""


class RecyclePoint(Strict):
    to_t_s: Annotated[float, Field(ge=-7 * 86400, le=0)]


class PollAnswer(Strict):
    go: bool
    no_go: Annotated[list[Text], Field(max_length=50)] = []


class Argument(Strict):
    argument: Annotated[float | None, Field(ge=-1e9, le=1e9)] = None


class Shelve(Strict):
    for_s: Annotated[float, Field(gt=0, le=8 * 3600)]


class Revoke(Strict):
    username: Annotated[str, Field(min_length=1, max_length=64)]


class Answer(BaseModel):
    """What a successful request says."""

    ok: bool = True
    detail: str = ""
