"""The replies of a turn as stored in the outbox (JSON), so they survive a crash before delivery.

What is kept: every planned action Telegram must still receive (texts with their keyboards,
reactions, polls, closing polls, private messages, documents). What is not: toasts (the answer to
a button press, useless once the press has expired) and model requests (`AskModel`: the model's
work runs detached as before, and is not repeated after a restart). A document is kept as its
format only: it is rendered again when replayed, from the chat as stored at that moment.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from telegram import ForceReply, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter

from bot.telegram.translate import (
    Action,
    React,
    ReplyMarkup,
    SendExport,
    SendPoll,
    SendPrivate,
    SendText,
    StopPoll,
)

LASTING = (SendText, React, SendPoll, StopPoll, SendExport, SendPrivate)
_KINDS: dict[str, type[Any]] = {kind.__name__: kind for kind in LASTING}


def lasting(actions: Sequence[Action]) -> list[Action]:
    """The actions that go into the outbox, in order."""
    return [action for action in actions if isinstance(action, LASTING)]


def dump_actions(actions: Sequence[Action]) -> str | None:
    """The outbox text of a turn's actions; None if nothing in them needs delivering."""
    kept = [_encode(action) for action in lasting(actions)]
    return json.dumps(kept, ensure_ascii=False) if kept else None


def load_actions(text: str) -> list[Action]:
    return [_decode(data) for data in json.loads(text)]


def is_transient(error: BaseException) -> bool:
    """A delivery error worth trying again later (the network, a flood limit); anything else
    (403: the bot was removed, 400: Telegram refuses the request as it is) will not get better."""
    return isinstance(error, NetworkError | RetryAfter) and not isinstance(error, BadRequest)


def _encode(action: Action) -> dict[str, Any]:
    data: dict[str, Any] = {field.name: getattr(action, field.name) for field in fields(action)}
    if isinstance(action, SendText) and action.markup is not None:
        data["markup"] = action.markup.to_dict()
    return {"kind": type(action).__name__, **data}


def _decode(data: dict[str, Any]) -> Action:
    values = dict(data)
    kind = _KINDS[values.pop("kind")]
    if kind is SendText and values.get("markup") is not None:
        values["markup"] = _markup(values["markup"])
    if kind is SendPoll:
        values["options"] = tuple(values["options"])
    action: Action = kind(**values)
    return action


def _markup(data: dict[str, Any]) -> ReplyMarkup:
    if "inline_keyboard" in data:
        return InlineKeyboardMarkup.de_json(data, None)
    return ForceReply.de_json(data, None)
