"""One Chroma server, several deployments: each deployment's collections carry their own manifest, and
a rebuild cleans up only what that deployment owns. KOMPAS_CHROMA_URL is checked with a Dutch message.

Most tests use an on-disk chromadb client as a stand-in for the server (the same API); the last one
starts a real `chroma run` server on 127.0.0.1 when the chromadb package provides it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from bot.config import Settings
from bot.knowledge.chroma import ChromaConfigError, check_deployment_name, chroma_endpoint, connect_chroma
from bot.knowledge.index import IndexStore

ITEM = """---
soort: interventie
titel: "Proefinterventie {titel}"
themas: [eenzaamheid]
doelgroep: "eenzame buurtbewoners"
stappen: [3]
beoordeling: "onbekend"
bron: "https://example.org/{slug}"
bijgewerkt: 2026-11-23
---
In de {titel} werken buurtbewoners samen en ontmoeten ze elkaar.
"""


def _folder(path: Path, *titles: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for titel in titles:
        slug = titel.lower()
        (path / f"{slug}.md").write_text(ITEM.format(titel=titel, slug=slug), encoding="utf-8")
    return path


def _store(tmp: Path, deployment: str | None, client: Any, *, server: bool = True) -> IndexStore:
    """An index of one bot process (its own KOMPAS_HOME) on the shared `client`."""
    extra: dict[str, Any] = {"chroma_url": "http://chroma.example:8000"} if server else {}
    if deployment is not None:
        extra["chroma_collection"] = deployment
    home = tmp / f"home-{deployment}-{len(list(tmp.glob('home-*')))}"
    folder = _folder(tmp / f"kennis-{deployment}", "Zonnebloemtuin", "Buurtkamer")
    store = IndexStore(Settings(home=home, **extra), DeterministicFakeEmbedding(size=8), folders=[folder])
    store._client = client  # the stand-in for the server
    return store


@pytest.fixture
def server(tmp_path: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(path=str(tmp_path / "server"), settings=ChromaSettings(anonymized_telemetry=False))


def _names(client: Any) -> set[str]:
    return {c.name for c in client.list_collections()}


def test_two_deployments_on_one_server_clean_up_only_their_own(tmp_path: Path, server: Any) -> None:
    lelystad = _store(tmp_path, "lelystad", server)
    almere = _store(tmp_path, "almere", server)
    lelystad.build()
    almere.build()
    theirs = almere.read_manifest()["collection"]  # type: ignore[index]
    assert theirs.startswith("almere-") and lelystad.read_manifest()["collection"].startswith("lelystad-")  # type: ignore[index]
    server.create_collection("lelystad-notities")  # not a generation, no manifest: not ours to remove

    for _ in range(3):
        lelystad.build()
    mine = [name for name, _ in lelystad.deployment_collections()]
    assert len(mine) == 2  # the current one, and the previous one for instances still using it
    assert mine[-1] == lelystad.read_manifest()["collection"]  # type: ignore[index]
    assert theirs in _names(server) and "lelystad-notities" in _names(server)
    assert almere.load() is not None and almere.load().vectors is not None  # type: ignore[union-attr]
    hits = almere.load().vectors.similarity_search("moestuin", k=1)  # type: ignore[union-attr]
    assert hits and "Proefinterventie" in hits[0].page_content


def test_the_manifest_is_on_the_server_and_shared_by_the_deployments_processes(tmp_path: Path, server: Any) -> None:
    one = _store(tmp_path, "lelystad", server)
    two = _store(tmp_path, "lelystad", server)  # another process (another machine) of the same deployment
    one.build()
    shared = two.current_on_server()
    assert shared is not None
    assert shared["name"] == one.read_manifest()["collection"]  # type: ignore[index]
    assert shared["kompas_deployment"] == "lelystad" and shared["kompas_complete"] is True
    assert shared["kompas_chunks"] == 2 and shared["kompas_embeddings"] == one.read_manifest()["embeddings"]  # type: ignore[index]

    # The second process rebuilds: the first one's collection stays (it may still search it) ...
    two.build()
    assert one.read_manifest()["collection"] in _names(server)  # type: ignore[index]
    assert one.load() is not None and one.load().vectors is not None  # type: ignore[union-attr]
    assert two.current_on_server()["name"] == two.read_manifest()["collection"]  # type: ignore[index]
    # ... and an incomplete leftover (a build that crashed while filling) goes with the next build.
    server.create_collection("lelystad-20990101T000000-abcdef", metadata={"kompas_deployment": "lelystad"})
    one.build()
    assert "lelystad-20990101T000000-abcdef" not in _names(server)


def test_the_default_deployment_keeps_todays_names_and_adopts_old_collections(tmp_path: Path, server: Any) -> None:
    old = server.create_collection("kompas-20260101T090000-a1b2c3")  # made by a version before manifests
    other = server.create_collection("kompas-lelystad-20260101T090000-a1b2c3", metadata={"kompas_deployment": "x"})
    local = _store(tmp_path, None, server, server=False)
    assert local.deployment == "kompas"
    local.build()
    names = _names(server)
    assert local.read_manifest()["collection"].startswith("kompas-")  # type: ignore[index]
    assert old.name not in names  # an own leftover: removed (on disk there are no other processes)
    assert other.name in names  # another deployment's, even with a look-alike name: kept
    assert len([n for n in names if n.startswith("kompas-2")]) == 1


def test_deployment_names_and_urls_are_checked_in_dutch() -> None:
    assert check_deployment_name(" kompas-lelystad ") == "kompas-lelystad"
    for bad in ("", "a", "-kompas", "kompas-", "gemeente lelystad", "x" * 50):
        with pytest.raises(ChromaConfigError, match="KOMPAS_CHROMA_COLLECTION"):
            check_deployment_name(bad)
    assert chroma_endpoint("http://localhost:8000") == ("localhost", 8000, False)
    assert chroma_endpoint("https://chroma.gemeente.nl") == ("chroma.gemeente.nl", 443, True)
    for bad in ("localhost:8000", "chroma.gemeente.nl", "ftp://chroma", "http://"):
        with pytest.raises(ChromaConfigError, match="http:// of https://"):
            chroma_endpoint(bad)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_server_is_said_not_silently_ignored(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(ChromaConfigError, match="niet bereiken"):
        connect_chroma(url)
    store = IndexStore(Settings(home=tmp_path, chroma_url=url), DeterministicFakeEmbedding(size=8), folders=[])
    with pytest.raises(ChromaConfigError, match="niet bereiken"):
        store.client()


async def test_kompas_telegram_refuses_to_start_without_its_chroma_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bot.telegram.runner import TelegramBot
    from bot.telegram.settings import TelegramConfigError, TelegramOptions

    from .telegram_fake import TOKEN, FakeBotApi

    api = await FakeBotApi().start()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", api.base_url)
    try:
        for url, expected in (
            ("localhost:8000", "http:// of https://"),
            (f"http://127.0.0.1:{_closed_port()}", "niet bereiken"),
        ):
            with pytest.raises(TelegramConfigError, match=expected):
                await TelegramBot.open(Settings(home=tmp_path, chroma_url=url), TelegramOptions(rate_limit=False))
    finally:
        await api.stop()


# ---- a real `chroma run` server ----------------------------------------------------------------


def _chroma_command() -> list[str] | None:
    beside = Path(sys.executable).with_name("chroma")
    found = str(beside) if beside.exists() else shutil.which("chroma")
    return [found] if found else None


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    command = _chroma_command()
    if command is None:
        pytest.skip("the chromadb package provides no 'chroma' command here")
    port = _closed_port()
    log = (tmp_path / "chroma.log").open("wb")
    process = subprocess.Popen(
        [*command, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(tmp_path / "chroma-data")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a guard against a server that never comes up, not a speed check
        while True:
            if process.poll() is not None:
                pytest.skip(f"'chroma run' did not start: {(tmp_path / 'chroma.log').read_text()[-500:]}")
            try:
                connect_chroma(url)
                break
            except ChromaConfigError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_two_deployments_on_a_real_chroma_server(tmp_path: Path, chroma_server: str) -> None:
    def process(deployment: str) -> IndexStore:
        home = tmp_path / f"home-{deployment}-{len(list(tmp_path.glob('home-*')))}"
        folder = _folder(tmp_path / f"kennis-{deployment}", "Zonnebloemtuin", "Buurtkamer")
        settings = Settings(home=home, chroma_url=chroma_server, chroma_collection=deployment)
        return IndexStore(settings, DeterministicFakeEmbedding(size=8), folders=[folder])

    lelystad, almere, lelystad_too = process("lelystad"), process("almere"), process("lelystad")
    almere.build()
    for _ in range(3):
        lelystad.build()
    lelystad_too.build()
    client = connect_chroma(chroma_server)
    names = {c.name for c in client.list_collections()}
    assert almere.read_manifest()["collection"] in names  # type: ignore[index]
    assert len([n for n in names if n.startswith("lelystad-")]) == 2
    assert lelystad.read_manifest()["collection"] in names  # type: ignore[index]
    assert lelystad.current_on_server()["name"] == lelystad_too.read_manifest()["collection"]  # type: ignore[index]
    loaded = almere.load()
    assert loaded is not None and loaded.vectors is not None
    assert loaded.vectors.similarity_search("moestuin", k=1)
