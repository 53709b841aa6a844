"""Redaction of personal data in case texts: deduce for person names, privacy.pii for the rest.

``privacy.pii`` (repo root, shared with the bot) finds the validated patterns: BSN with the
elfproef, IBAN with mod-97, phone numbers, e-mail, postcode + house number, dates of birth and
names after a cue ("mijn naam is ..."). deduce, the Dutch de-identification library, adds
person names without a cue ("Kees Bakker zegt ...") and street + house number. Names found
anywhere in a case are then redacted in every text of that case, so a first name that the
citizen introduced once does not survive on its own later on.

deduce's lookup tables take 1.2 GB of memory and 7-10 s to load (and 1-2 minutes to build
once after installing). Only the name tables are needed, so the first load writes a
names-only copy of its cache (about 1 MB, loads in well under a second) to
``HANDOVER_REDACTION_CACHE_DIR``. Nothing is loaded at import: the service warms the
redactor in a thread at start-up (app.redaction_context) and a call that comes earlier waits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import re
import threading
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from privacy.pii import PLACEHOLDERS, find_pii

from .settings import DEFAULT_REDACTION_CACHE_DIR

log = logging.getLogger(__name__)

# deduce tables for things that are not the citizen's identity (hospitals, institutions,
# diseases, place and street names): dropped from the cache. Streets with a house number are
# still found by deduce's street pattern.
_DROPPED_TABLES = ("street", "placename", "hospital", "healthcare_institution", "eponymous_disease")
_CACHE_FILE = Path("cache") / "lookup_structs.pickle"  # where deduce looks inside cache_path
_VERSION_FILE = "deduce-version"
_NAME_TAGS = {"persoon", "patient"}
# A title before a name stays readable ("mevrouw [NAAM]") and is not itself a name.
_TITLE = re.compile(
    r"^(?:mevrouw|meneer|mevr\.?|mw\.?|dhr\.?|hr\.?|de heer|dokter|dr\.?|drs\.?|ir\.?|mr\.?|prof\.?)\s+",
    re.IGNORECASE,
)


# Ordinary words that deduce's surname tables also hold ("Burger", "Klant" ...): in a chat with
# the gemeente they are roles, not names. Only when such a word is the whole finding.
_ORDINARY_WORDS = frozenset(
    """burger burgers inwoner inwoners klant klanten client cliënt cliente medewerker medewerkers
    casemanager collega collega's teamleider gemeente partner zoon dochter moeder vader
    buurman buurvrouw huisarts bewindvoerder""".split()
)


def _is_ordinary(name: str) -> bool:
    """A deduce "name" that is an ordinary word: a role word, or only lowercase words (names
    without a cue are capitalised; a cued name is found by privacy.pii whatever its case)."""
    words = [w for w in name.split() if w.lower() not in _TUSSENVOEGSELS]
    return (
        not words
        or all(w[:1].islower() for w in words)
        or (len(words) == 1 and words[0].lower() in _ORDINARY_WORDS)
    )


def _kept(name: str, keep: frozenset[str]) -> bool:
    """A name made only of words of ``keep`` (the staff of the case): not the citizen's."""
    words = [w for w in name.split() if w.lower() not in _TUSSENVOEGSELS]
    return bool(words) and all(w.lower() in keep for w in words)


_TUSSENVOEGSELS = frozenset("van der den de het ten ter te la le du da di el al von vd op in uit 't".split())
_NAME_TOKEN = re.compile(r"[^\W\d_][\w'\u2019-]+")


def _name_tokens(names: Iterable[str]) -> set[str]:
    """The words of the names found, to be redacted wherever they recur in the case.

    Only capitalised words of two letters or more, never a tussenvoegsel: a detector's false
    positive ("Den Haag ...") must not make "den" disappear from every text.
    """
    return {
        word
        for name in names
        for word in name.split()
        if _NAME_TOKEN.fullmatch(word) and word[0].isupper() and word.lower() not in _TUSSENVOEGSELS
    }


class Redactor:
    """Process-wide, thread-safe; ``load()`` once (slow), then ``redact_texts`` is ~1 ms a text."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._deduce: Any = None
        self._load_lock = threading.Lock()
        # deduce's pipeline objects are not documented as thread-safe.
        self._run_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._deduce is not None

    def load(self) -> None:
        with self._load_lock:
            if self._deduce is None:
                self._deduce = _load_deduce(self.cache_dir)

    def _deduce_findings(self, text: str) -> list[tuple[str, int, int]]:
        self.load()
        with self._run_lock:
            doc = self._deduce.deidentify(text)
        found = []
        for ann in doc.annotations:
            if ann.tag in _NAME_TAGS:
                title = _TITLE.match(ann.text)
                start = ann.start_char + (title.end() if title else 0)
                if not _is_ordinary(text[start : ann.end_char]):
                    found.append(("NAAM", start, ann.end_char))
            elif ann.tag.startswith("locatie") and any(ch.isdigit() for ch in ann.text):
                found.append(("ADRES", ann.start_char, ann.end_char))  # street + number, postcode
        return found

    def redact(self, text: str, *, names: Iterable[str] = (), keep: Iterable[str] = ()) -> str:
        """``text`` with personal data replaced by placeholders such as "[NAAM]" or "[BSN]"."""
        kept = frozenset(k.lower() for k in keep)
        return self._redact(text, self._deduce_findings(text), names, kept) if text else text

    def redact_texts(
        self, texts: Sequence[str | None], *, keep: Iterable[str] = (), staff_texts: Collection[int] = ()
    ) -> list[str | None]:
        """Redact the texts of one case together: a name found in one is redacted in all.

        ``keep``: names of staff (first and display names); they stay readable in the texts staff
        wrote (``staff_texts``: their indices: casemanager messages, notes, outcome ...). In the
        citizen's own texts every name is redacted, also one a colleague happens to share.
        """
        kept = frozenset(word.lower() for name in keep for word in name.split())
        found = [self._deduce_findings(t) if t else [] for t in texts]
        names: set[str] = set()
        for text, findings in zip(texts, found, strict=True):
            if text:
                names.update(text[s:e] for kind, s, e in findings if kind == "NAAM")
                names.update(f.text for f in find_pii(text) if f.kind == "NAAM")
        tokens = _name_tokens(names)
        staff_tokens = {t for t in tokens if t.lower() not in kept}
        return [
            (self._redact(t, f, staff_tokens, kept) if i in staff_texts else self._redact(t, f, tokens))
            if t
            else t
            for i, (t, f) in enumerate(zip(texts, found, strict=True))
        ]

    @staticmethod
    def _redact(
        text: str,
        deduce_found: list[tuple[str, int, int]],
        names: Iterable[str],
        keep: frozenset[str] = frozenset(),
    ) -> str:
        candidates = deduce_found + [(f.kind, f.start, f.end) for f in find_pii(text, names=tuple(names))]
        if keep:
            candidates = [c for c in candidates if c[0] != "NAAM" or not _kept(text[c[1] : c[2]], keep)]
        # Overlaps: the longest finding wins (as in privacy.pii).
        taken: list[tuple[str, int, int]] = []
        for kind, start, end in sorted(candidates, key=lambda c: (c[1] - c[2], c[1])):
            if end > start and all(end <= s or start >= e for _, s, e in taken):
                taken.append((kind, start, end))
        parts, last = [], 0
        for kind, start, end in sorted(taken, key=lambda c: c[1]):
            parts += [text[last:start], PLACEHOLDERS[kind]]
            last = end
        return "".join(parts) + text[last:]

    async def aredact_texts(
        self, texts: Sequence[str | None], *, keep: Iterable[str] = (), staff_texts: Collection[int] = ()
    ) -> list[str | None]:
        """``redact_texts`` off the event loop (the first call may have to load deduce)."""
        return await asyncio.to_thread(lambda: self.redact_texts(texts, keep=keep, staff_texts=staff_texts))


def _load_deduce(cache_dir: Path) -> Any:
    from deduce import Deduce, __version__  # type: ignore[import-untyped]

    cache_file = cache_dir / _CACHE_FILE
    version_file = cache_dir / _VERSION_FILE
    current = version_file.exists() and version_file.read_text().strip() == __version__
    if not (current and cache_file.exists()):
        _write_names_cache(cache_dir, __version__)
    return Deduce(cache_path=cache_dir)


def _write_names_cache(cache_dir: Path, version: str) -> None:
    """Load deduce in full once and keep only the tables that names need."""
    import datetime as dt

    import docdeid
    from deduce import Deduce

    log.info("building deduce's names-only cache in %s (once; takes a while)", cache_dir)
    structs = Deduce().lookup_structs
    for name in _DROPPED_TABLES:
        structs[name] = docdeid.ds.LookupTrie(  # type: ignore[attr-defined]
            matching_pipeline=structs[name].matching_pipeline
        )
    cache_file = cache_dir / _CACHE_FILE
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    # deduce's own cache format; written to a temporary file and renamed, so a parallel
    # process never reads half a file.
    payload = {"deduce_version": version, "saved_datetime": str(dt.datetime.now()), "lookup_structs": structs}
    tmp = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        pickle.dump(payload, f)
    os.replace(tmp, cache_file)
    (cache_dir / _VERSION_FILE).write_text(version)


_redactors: dict[Path, Redactor] = {}
_redactors_lock = threading.Lock()


def get_redactor(cache_dir: Path = DEFAULT_REDACTION_CACHE_DIR) -> Redactor:
    """The one redactor of this process for ``cache_dir`` (loading deduce twice costs memory)."""
    with _redactors_lock:
        return _redactors.setdefault(cache_dir, Redactor(cache_dir))
