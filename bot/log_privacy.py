"""Rasa's structured logs (structlog) without the citizen's words on error paths.

Rasa 3.6 logs a failing message with the message itself (`rest.message.received.failure`,
`text=…`), and when it is not writing to a terminal it renders tracebacks with every frame's local
variables (structlog's `dict_tracebacks`), which hold the message, the tracker and the parse
result. privacy/logs.py removes recognisable personal data from every record, but a story about
debts or health has no pattern. So, for warnings and errors, only the event name and the
exception's type and place are kept; DEBUG diagnostics keep their (redacted) fields.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List

import structlog
from structlog.processors import ExceptionRenderer
from structlog.tracebacks import ExceptionDictTransformer

# Fields that describe the event, never the conversation.
_KEPT = frozenset(
    {"event", "event_info", "event_key", "exc_info", "level", "log_level", "timestamp", "logger"}
)
_HIDDEN = "[weggelaten]"
_SERIOUS = frozenset({"warning", "warn", "error", "exception", "critical", "fatal", "failure"})


def hide_fields_when_serious(_logger: Any, method_name: str, event_dict: Dict[str, Any]) -> Dict[str, Any]:
    """structlog processor: on warnings and errors, every field but the event's own is hidden."""
    if method_name.lower() in _SERIOUS:
        for key in list(event_dict):
            if key not in _KEPT:
                event_dict[key] = _HIDDEN
    return event_dict


# The same rendering as structlog's dict_tracebacks, without local variables.
dict_tracebacks_without_locals = ExceptionRenderer(ExceptionDictTransformer(show_locals=False))


def private_processors(processors: List[Any]) -> List[Any]:
    """Rasa's processor chain with ours first and tracebacks without locals."""
    replaced = [
        dict_tracebacks_without_locals if p is structlog.processors.dict_tracebacks else p for p in processors
    ]
    return [hide_fields_when_serious, *replaced]


def wrap_configure_structlog(original: Callable[..., None]) -> Callable[..., None]:
    """Rasa's configure_structlog, followed by our changes to the processor chain it set."""

    def configure_structlog(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        processors = structlog.get_config()["processors"]
        structlog.configure(processors=private_processors(list(processors)))

    return configure_structlog


def install_on_rasa() -> None:
    """Before Rasa's command line runs: every structlog configuration it makes gets our changes."""
    import rasa.__main__

    if not getattr(rasa.__main__.configure_structlog, "_private", False):
        wrapped = wrap_configure_structlog(rasa.__main__.configure_structlog)
        wrapped._private = True  # type: ignore[attr-defined]  # a mark: wrap only once
        rasa.__main__.configure_structlog = wrapped
