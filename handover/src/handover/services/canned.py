"""Standard texts (standaardteksten): teamleiders manage them, casemanagers insert one into a
reply and edit it before sending."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import CannedResponse, User, utcnow
from ..uow import UnitOfWork
from .errors import DomainError, InvalidInput

MAX_TITLE = 80
MAX_CANNED_TEXT = 2000


class CannedResponseNotFound(DomainError):
    def __init__(self, canned_id: int) -> None:
        super().__init__(f"Standaardtekst {canned_id} bestaat niet")


async def canned_responses(session: AsyncSession) -> list[CannedResponse]:
    return list(
        await session.scalars(select(CannedResponse).order_by(CannedResponse.title, CannedResponse.id))
    )


def _clean(title: str, text: str) -> tuple[str, str]:
    title, text = " ".join(title.split()), text.strip()
    if not title or not text:
        raise InvalidInput("Vul een titel en een tekst in")
    if len(title) > MAX_TITLE or len(text) > MAX_CANNED_TEXT:
        raise InvalidInput(f"De titel mag {MAX_TITLE} tekens hebben, de tekst {MAX_CANNED_TEXT}")
    return title, text


async def save_canned_response(
    uow: UnitOfWork, user: User, title: str, text: str, canned_id: int | None = None
) -> CannedResponse:
    """Add a standard text, or change one (``canned_id``)."""
    title, text = _clean(title, text)
    if canned_id is None:
        canned = CannedResponse(title=title, text=text)
        uow.session.add(canned)
    else:
        found = await uow.session.get(CannedResponse, canned_id)
        if found is None:
            raise CannedResponseNotFound(canned_id)
        canned = found
        canned.title, canned.text = title, text
    canned.updated_by_id, canned.updated_at = user.id, utcnow()
    return canned


async def delete_canned_response(uow: UnitOfWork, canned_id: int) -> None:
    found = await uow.session.get(CannedResponse, canned_id)
    if found is None:
        raise CannedResponseNotFound(canned_id)
    await uow.session.delete(found)
