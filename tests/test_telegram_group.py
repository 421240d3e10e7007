"""A group of three answering the same question at once, over the real polling loop.

Each member completes the follow-up questions of their own item by replying to the prompt meant
for them (a selective ForceReply, or buttons, in reply to their message); nothing anyone types is
lost or attributed to someone else. Then `/overzicht` shows every item once, under its author.
"""

from __future__ import annotations

from typing import Any

from .telegram_fake import group, user
from .telegram_harness import StartBot, texts_of

FATIMA = user(2001, "Fatima")
PIETER = user(2002, "Pieter")
DEWI = user(2003, "Dewi")
TEAM = group(-6001, "Werksessie")

# Each member's activity, then the answers to its follow-up questions in the order the bot asks them.
ANSWERS: dict[int, list[str]] = {
    FATIMA["id"]: [
        "Schuldhulp aan huis",
        "Team schuldhulp",
        "formeel",
        "nieuw",
        "-",
        "als we thuis komen dan durven mensen hulp te vragen",
    ],
    PIETER["id"]: [
        "Budgetcafé in de wijk",
        "Stichting Buurtwerk",
        "allebei",
        "bestaand",
        "-",
        "als buren elkaar helpen dan komt hulp sneller",
    ],
    DEWI["id"]: [
        "Maatje voor de administratie",
        "Humanitas",
        "informeel",
        "uitbreiding",
        "-",
        "als iemand meekijkt dan blijft de post niet liggen",
    ],
}


async def _answer_own_prompt(h: Any, person: dict[str, Any], text: str) -> int:
    """Answer the prompt meant for this person: press the matching button, or reply in its input field."""
    prompt = h.api.own_prompt(TEAM["id"], person["id"])
    assert prompt is not None, f"no prompt for {person['first_name']}"
    keyboard = (prompt.get("_markup") or {}).get("inline_keyboard")
    if keyboard and text != "-":
        data = h.api.button(prompt, text)
        return int(h.api.press(TEAM, person, prompt["message_id"], data))
    if text == "-":
        text = "/overslaan"
    return int(h.api.text(TEAM, person, text, reply_to=prompt["message_id"]))


async def test_three_members_answer_an_items_question_at_once(start_bot: StartBot) -> None:
    h = await start_bot()
    api = h.api
    for person, role in [(FATIMA, "gemeente"), (PIETER, "aanbieder"), (DEWI, "doelgroep")]:
        await h.say(TEAM, person, f"/rol@kompas_testbot {role}")
    await h.say(TEAM, FATIMA, "/kompas armoede")
    await h.say(TEAM, FATIMA, "/stap 3")

    # All three answer the question at the same moment: one batch of updates.
    last = 0
    for person in (FATIMA, PIETER, DEWI):
        last = api.reply(TEAM, person, ANSWERS[person["id"]][0])
    await h.deliver(last)
    for person in (FATIMA, PIETER, DEWI):
        prompt = api.own_prompt(TEAM["id"], person["id"])
        assert prompt is not None and "Wie voert" in prompt["text"]
        assert prompt["_markup"]["force_reply"] is True and prompt["_markup"]["selective"] is True

    # Then they answer their own follow-up questions, interleaved, each round in one batch.
    for step in range(1, 6):
        for person in (DEWI, FATIMA, PIETER):
            last = await _answer_own_prompt(h, person, ANSWERS[person["id"]][step])
        await h.deliver(last)

    state = await h.chat(TEAM)
    assert state.session is not None
    items = state.session.live("activiteiten")
    assert sorted((i.author_id, i.text) for i in items) == sorted(
        (str(pid), answers[0]) for pid, answers in ANSWERS.items()
    )
    for item in items:
        answers = ANSWERS[int(item.author_id)]
        assert item.fields == {
            "wie": answers[1],
            "vorm": answers[2],
            "bestaand": answers[3],
            "verwachting": answers[5],
        }
    assert state.session.drafts == []

    overview = texts_of(await h.say(TEAM, FATIMA, "/overzicht"))
    for person in (FATIMA, PIETER, DEWI):
        text = ANSWERS[person["id"]][0]
        assert overview.count(text) == 1
        assert f"{text} <i>(" in overview and f"— {person['first_name']}" in overview


async def test_others_are_heard_while_the_facilitator_chooses_and_during_a_poll(start_bot: StartBot) -> None:
    h = await start_bot()
    await h.say(TEAM, FATIMA, "/kompas eenzaamheid")
    await h.answer(TEAM, PIETER, "Je alleen voelen")
    await h.answer(TEAM, DEWI, "Niemand hebben om mee te praten")
    await h.say(TEAM, FATIMA, "/volgende")
    assert (await h.where(TEAM))[2] == "kiezen"
    await h.answer(TEAM, DEWI, "Geen contact hebben terwijl je dat wel wilt")
    state = await h.chat(TEAM)
    assert state.session is not None
    assert "Geen contact hebben terwijl je dat wel wilt" in [c.text for c in state.session.live("betekenis")]

    await h.say(TEAM, FATIMA, "/stap 1")
    for _ in range(3):
        await h.say(TEAM, FATIMA, "/volgende")
    await h.answer(TEAM, PIETER, "We willen dat ouderen elkaar kennen")
    await h.answer(TEAM, DEWI, "We willen dat niemand er alleen voor staat")
    polled = await h.say(TEAM, FATIMA, "/volgende")
    assert any(c.method == "sendPoll" for c in polled)
    await h.answer(TEAM, PIETER, "We willen dat jongeren een eigen plek hebben")
    state = await h.chat(TEAM)
    assert state.session is not None and state.session.phase == "stemmen"
    assert "We willen dat jongeren een eigen plek hebben" in [c.text for c in state.session.live("ambities")]
