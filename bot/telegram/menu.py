"""The command menus Telegram shows, per scope, with the Dutch descriptions from teksten.yaml."""

from __future__ import annotations

import logging
import re

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)
from telegram.error import TelegramError

from bot.flows import Texts

log = logging.getLogger(__name__)

# Roles and "who said what" mean nothing when you work alone.
NOT_IN_PRIVATE = ("rol", "wie")


def menus(texts: Texts, steering: frozenset[str]) -> list[tuple[BotCommandScope, list[BotCommand]]]:
    """`steering`: the commands only facilitators use (`Engine.steering_commands`)."""
    commands = [
        BotCommand(name, description[:256])
        for name, description in texts.commandos.items()
        if re.fullmatch(r"[a-z0-9_]{1,32}", name) and len(description) >= 3
    ]
    return [
        (BotCommandScopeAllPrivateChats(), [c for c in commands if c.command not in NOT_IN_PRIVATE]),
        # Everyone in a group sees what everyone may do; administrators also see the steering commands.
        (BotCommandScopeAllGroupChats(), [c for c in commands if c.command not in steering]),
        (BotCommandScopeAllChatAdministrators(), commands),
    ]


async def set_commands(bot: Bot, texts: Texts, steering: frozenset[str]) -> None:
    """Publish the menus; a failure is logged, the bot works without a menu too."""
    for scope, commands in menus(texts, steering):
        try:
            await bot.set_my_commands(commands, scope=scope)
        except TelegramError as exc:
            log.warning("Commandomenu (%s) niet ingesteld: %s", scope.type, exc.__class__.__name__)
