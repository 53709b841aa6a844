"""``python -m handover``: ensure the demo casemanager exists, then serve.

Run ``alembic upgrade head`` first (``make run`` does). ``python -m handover create-user``
adds a casemanager from the command line; ``retention [--dry-run]``, ``erase <REFERENCE>``
and ``redaction-cache`` are the privacy tasks (privacy_cli.py).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import logging
import os
import sys

from aiohttp import web
from privacy.logs import install_log_redaction
from sqlalchemy import select

from . import privacy_cli
from .auth import create_user, hash_password
from .db import make_engine, make_private, make_sessionmaker
from .models import Role, User
from .settings import Settings, generate_secret

DEMO_USERNAME = "demo"


def configure_logging(level: str) -> None:
    """Log to stderr, with personal data redacted from every record (privacy/ at the repo root)."""
    install_log_redaction()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


async def ensure_demo_user(settings: Settings, password: str) -> None:
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            user = await session.scalar(select(User).where(User.username == DEMO_USERNAME))
            if user is None:
                await create_user(
                    session,
                    username=DEMO_USERNAME,
                    password=password,
                    display_name="Demo Casemanager",
                    first_name="Sanne",
                    role=Role.TEAMLEIDER,
                    teams=[],
                )
            else:  # keep the printed password valid
                user.password_hash = hash_password(password)
    finally:
        await engine.dispose()


async def add_user(settings: Settings, args: argparse.Namespace) -> None:
    password = getpass.getpass("Wachtwoord: ")
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await create_user(
                session,
                username=args.username,
                password=password,
                display_name=args.display_name,
                first_name=args.first_name,
                role=Role(args.role),
                teams=args.teams,
            )
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    # Before anything is created: the SQLite database, its journal and any file this process
    # writes hold citizens' data, so they are for this user only (0600, directories 0700).
    os.umask(0o077)
    parser = argparse.ArgumentParser(prog="python -m handover")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="start the service (default)")
    cu = sub.add_parser("create-user", help="add a casemanager")
    cu.add_argument("username")
    cu.add_argument("--display-name", required=True)
    cu.add_argument("--first-name", required=True)
    cu.add_argument("--role", choices=[r.value for r in Role], default=Role.CASEMANAGER.value)
    cu.add_argument("--teams", nargs="*", default=[])
    rt = sub.add_parser("retention", help="apply the retention periods now (prints counts)")
    rt.add_argument("--dry-run", action="store_true", help="only count what is due")
    er = sub.add_parser("erase", help="erase a conversation by case reference (also in Rasa's tracker)")
    er.add_argument("reference")
    sub.add_parser("redaction-cache", help="build deduce's names-only cache (make setup does this)")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    if args.command == "create-user":
        asyncio.run(add_user(settings, args))
        return
    if args.command == "retention":
        raise SystemExit(asyncio.run(privacy_cli.retention_command(settings, dry_run=args.dry_run)))
    if args.command == "erase":
        raise SystemExit(asyncio.run(privacy_cli.erase_command(settings, args.reference)))
    if args.command == "redaction-cache":
        raise SystemExit(privacy_cli.redaction_cache_command(settings))

    if not settings.shared_secret:
        settings = dataclasses.replace(settings, shared_secret=generate_secret())
        print(f"HANDOVER_SHARED_SECRET was not set; generated for this run: {settings.shared_secret}")
    password = settings.demo_password or generate_secret()
    make_private(settings.database_url)
    asyncio.run(ensure_demo_user(settings, password))
    print(f"Werkplek: http://{settings.host}:{settings.port}/wachtrij")
    print(f"Demo-login: gebruikersnaam {DEMO_USERNAME!r}, wachtwoord {password!r}")
    sys.stdout.flush()

    from .app import PrivacyAccessLogger, create_app  # after logging is configured

    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        print=None,
        access_log_class=PrivacyAccessLogger,
    )


if __name__ == "__main__":
    main()
