"""Command-line privacy tasks: ``python -m handover retention|erase|redaction-cache``.

Each returns an exit code and prints what happened in Dutch, plainly: an erasure that did
not reach the chatbot's conversation says so (exit code 2), it is never reported as done.
"""

from __future__ import annotations

import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from . import audit, erasure, rasa_conversations, retention
from .db import make_engine, make_sessionmaker
from .models import utcnow
from .redaction import get_redactor
from .services.errors import CaseNotFound
from .settings import Settings
from .uow import UnitOfWork

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_PARTIAL = 2  # handover data erased, the chatbot's conversation not (tracker not configured)
EXIT_FAILED = 3  # the tracker store failed: nothing was erased (retention: the cases were done)


def _conversations_not_covered(settings: Settings) -> str | None:
    """Why chatbot conversations are outside the retention, or None when they are covered."""
    if not settings.tracker_db_url:
        return (
            "LET OP: gesprekken in de chatbot vallen NIET onder de bewaartermijn: "
            "HANDOVER_TRACKER_DB_URL is niet ingesteld. "
            "Ze blijven bewaard tot de inwoner ze laat verwijderen."
        )
    if not settings.retention_conversation_days:
        return (
            "LET OP: gesprekken in de chatbot hebben geen bewaartermijn "
            "(HANDOVER_RETENTION_CONVERSATION_DAYS=0). Ze blijven bewaard tot de inwoner ze laat verwijderen."
        )
    return None


async def _dry_run_conversations(url: str, days: int, sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    try:
        due = await rasa_conversations.expire_conversations(
            url, sessionmaker, days=days, now=utcnow(), dry_run=True
        )
    except rasa_conversations.TrackerStoreError as e:
        print(f"chatbotgesprekken: niet te tellen ({e})")
        return EXIT_FAILED
    print(f"chatbotgesprekken te verwijderen: {due.conversations} ({due.events} opgeslagen gebeurtenissen)")
    print(f"chatbotgesprekken bewaard vanwege een open of recent afgeronde zaak: {due.kept_for_case}")
    return EXIT_OK


async def retention_command(settings: Settings, *, dry_run: bool) -> int:
    """Exit code 0, or EXIT_FAILED when the tracker store could not be reached (cases are done)."""
    not_covered = _conversations_not_covered(settings)
    engine = make_engine(settings.database_url)
    try:
        sessionmaker = make_sessionmaker(engine)
        full_days, case_days = settings.retention_full_days, settings.retention_case_days
        if dry_run:
            purge, delete = await retention.count_due(
                sessionmaker, full_days=full_days, case_days=case_days, now=utcnow()
            )
            print(f"volledige tekst te verwijderen: {purge} zaken")
            print(f"zaken te verwijderen: {delete}")
            code = EXIT_OK
            if settings.tracker_db_url and not not_covered:
                code = await _dry_run_conversations(
                    settings.tracker_db_url, settings.retention_conversation_days, sessionmaker
                )
            if not_covered:
                print(not_covered)
            print("(--dry-run: er is niets veranderd)")
            return code
        result = await retention.run_retention(
            sessionmaker,
            get_redactor(settings.redaction_cache_dir),
            full_days=full_days,
            case_days=case_days,
            conversation_days=settings.retention_conversation_days,
            tracker_db_url=settings.tracker_db_url,
        )
    finally:
        await engine.dispose()
    if result.skipped:
        print("een andere instantie voert de bewaartermijnen nu uit; probeer het straks opnieuw")
    print(f"volledige tekst verwijderd: {len(result.full_texts_deleted)} zaken")
    print(f"zaken verwijderd: {len(result.cases_deleted)}")
    if not_covered:
        print(not_covered)
        return EXIT_OK
    if result.tracker_error:
        print(f"chatbotgesprekken: NIET verwijderd, fout in de tracker-database ({result.tracker_error})")
        return EXIT_FAILED
    done = result.conversations
    if done is not None:
        print(f"chatbotgesprekken verwijderd: {done.conversations} ({done.events} opgeslagen gebeurtenissen)")
        print(f"chatbotgesprekken bewaard vanwege een open of recent afgeronde zaak: {done.kept_for_case}")
    return EXIT_OK


async def erase_command(settings: Settings, reference: str) -> int:
    engine = make_engine(settings.database_url)
    try:
        sessionmaker = make_sessionmaker(engine)
        result = await erasure.erase_by_reference(
            reference,
            transaction=lambda: UnitOfWork(sessionmaker),
            tracker_db_url=settings.tracker_db_url,
            actor=audit.CLI,
        )
    except CaseNotFound as e:
        print(f"{e}; er is niets verwijderd")
        return EXIT_NOT_FOUND
    except erasure.TrackerEraseFailed as e:
        print(f"NIET verwijderd: het gesprek in de chatbot kon niet worden verwijderd ({e}).")
        print("In de werkplek is ook niets verwijderd; probeer het opnieuw.")
        return EXIT_FAILED
    finally:
        await engine.dispose()
    print(f"verwijderd in de werkplek: {len(result.references)} zaak/zaken ({', '.join(result.references)})")
    if result.complete:
        print(f"gesprek in de chatbot verwijderd: {result.tracker_events} opgeslagen gebeurtenissen")
        return EXIT_OK
    print("LET OP: het gesprek in de chatbot is NIET verwijderd: HANDOVER_TRACKER_DB_URL is niet ingesteld.")
    print("Vraag de beheerder van de chatbot om dit gesprek te verwijderen.")
    return EXIT_PARTIAL


def redaction_cache_command(settings: Settings) -> int:
    """Build deduce's names-only cache now (``make setup`` does), not at the first start."""
    started = time.monotonic()
    get_redactor(settings.redaction_cache_dir).load()
    print(f"deduce klaar in {time.monotonic() - started:.1f} s ({settings.redaction_cache_dir})")
    return EXIT_OK
