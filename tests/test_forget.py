"""After `/vergeet ja` nothing of that person is left: not in the state, the outbox, the exports or the file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import exports_remover
from bot.compass import Chat, Suggestion
from bot.config import Settings
from bot.engine import Engine
from bot.events import Actor, Text
from bot.service import KompasService
from bot.store import EventKey, Store

ANNA = Actor("11", "Annabel")
BRAM = Actor("12", "Bram")
SECRET = "Mijn buurvrouw Truus zit elke avond alleen"


async def test_forget_reaches_outbox_exports_proposals_and_the_file(tmp_path: Path, engine: Engine) -> None:
    settings = Settings(home=tmp_path)
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'kompas.db'}")
    service = KompasService(engine, store, on_erase=exports_remover(settings))
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    async def say(actor: Actor, text: str, event: int) -> None:
        nonlocal at
        at += timedelta(seconds=1)
        async with service.locks.hold("-1"):
            await service.turn(
                "-1",
                Text(actor, text, at, ref=str(event)),
                is_group=True,
                marker=EventKey("telegram", event),
                plan=lambda outcome: "|".join(
                    r.text for r in outcome.replies
                ),  # the replies, as a transport keeps them
            )

    try:
        await say(BRAM, "/kompas eenzaamheid", 1)
        await say(ANNA, SECRET, 2)  # its acknowledgement waits in the outbox, undelivered
        chat = await service.load("-1")
        assert chat.session is not None
        # A model's proposal built from her words, and a search, are on screen.
        chat.offered = [Suggestion(nummer=1, titel=f"Voorstel: {SECRET}", bron="taalmodel", soort="voorstel")]
        chat.last_query = SECRET
        await store.save_chat(chat)
        service.forget_cached("-1")
        exports = tmp_path / "exports"
        exports.mkdir()
        (exports / f"{chat.session.id}-2026-12-01.pdf").write_text(SECRET, encoding="utf-8")
        (exports / "ander-kompas-2026-12-01.pdf").write_text("iets anders", encoding="utf-8")

        await say(ANNA, "/vergeet ja", 3)
        await service.flush()
        after = await store.load_chat("-1")
        assert after is not None and SECRET not in after.model_dump_json() and "Annabel" not in after.model_dump_json()
        assert [e.marker for e in await store.undelivered("telegram")] == [EventKey("telegram", 3)]
        assert not (exports / f"{chat.session.id}-2026-12-01.pdf").exists()
        assert (exports / "ander-kompas-2026-12-01.pdf").exists()
    finally:
        service.close()
        await store.close()
    raw = b"".join(path.read_bytes() for path in sorted(tmp_path.glob("kompas.db*")))
    assert SECRET.encode() not in raw and b"Annabel" not in raw


async def test_forget_clears_drafts_and_history(engine: Engine) -> None:
    chat = Chat(id="-1", is_group=True)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    for actor, text in [(BRAM, "/kompas eenzaamheid"), (BRAM, "/stap 3"), (ANNA, "Buurtkamer"), (ANNA, "/wijzig 1 X")]:
        chat = engine.handle(chat, Text(actor, text, at)).chat
    chat = engine.handle(chat, Text(ANNA, "/vergeet ja", at)).chat
    assert chat.session is not None and chat.session.drafts == []
    assert all(not c.history and not c.text for c in chat.session.contributions)
