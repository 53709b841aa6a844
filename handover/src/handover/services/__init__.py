"""Queue rules as plain functions over a session or a unit of work; they raise the named domain
errors of ``errors.py``. Callers use this package (``services.claim(...)``); the modules:

- ``cases``: create a case from the bot's intake, look it up, its status history, close it
- ``closing``: whether the agreed next steps reach the citizen when a case is closed
- ``queue`` (order in ``queue_order``): the queue, claim, claim next, unclaim, transfer
- ``permissions``: who may act on a case (one rule, teamleider overrides audited)
- ``chat_messages``: the citizen's and the casemanager's chat messages
- ``case_notes``: private notes and follow-up tasks (nazorg)
- ``canned``: standard texts (standaardteksten) for replies, managed by teamleiders
- ``intake``: the casemanager corrects the topic and organisations (audited)
- ``overview``: the teamleider's overview per team (who handles what, waiting times)
- ``search``: closed cases by reference, date, topic and outcome label (history)
- ``inbox``: a casemanager's chats in progress: last message, unread, waiting for a reply
- ``presence``: casemanagers online, and live chat or callback for the bot
- ``preferences``: each user's own settings (Enter choice, notifications and sound)
- ``positions``: queue positions pushed to waiting citizens
- ``rasa_calls``: calls to Rasa, written to the outbox in the same transaction
- ``registration``: a closed case queued for Open Klant, with the citizen's consent (openklant.py)
"""

from __future__ import annotations

from .canned import (
    CannedResponseNotFound,
    canned_responses,
    delete_canned_response,
    save_canned_response,
)
from .case_notes import add_follow_up, add_note, complete_follow_up, follow_ups, notes, open_follow_ups_for
from .cases import (
    MAX_TEXT,
    REFERENCE_ALPHABET,
    REFERENCE_PREFIX,
    NewCase,
    TranscriptEntry,
    close,
    create_case,
    find_open_case,
    generate_reference,
    get_case,
    history,
    is_valid_reference,
    transcript,
)
from .chat_messages import add_citizen_message, send_casemanager_message
from .closing import ClosingReach, closing_reach, reach_of
from .errors import (
    AlreadyClaimed,
    CaseNotFound,
    DomainError,
    ExportNotAllowed,
    FollowUpNotFound,
    InvalidInput,
    InvalidTransition,
    NotAChat,
    NotClaimedByYou,
    NotYourTeam,
    QueueEmpty,
    SenderMismatch,
    UnknownTeam,
    UnknownUser,
)
from .inbox import ChatSummary, chat_summary, mark_read, my_chats, unread_count
from .intake import IntakeCorrection, correct_intake
from .overview import TeamOverview, team_overview
from .permissions import authorize, may_handle, works_in
from .positions import refresh_queue_positions
from .preferences import Preferences, save_preferences
from .presence import Availability, availability, online_casemanagers, touch_presence
from .queue import (
    QueueInfo,
    QueuePage,
    claim,
    claim_next,
    colleagues,
    expected_wait_minutes,
    get_user,
    list_queue,
    my_cases,
    queue_info,
    transfer_to_team,
    transfer_to_user,
    unclaim,
)
from .queue_order import queue_position
from .rasa_calls import enqueue_rasa
from .registration import enqueue_registration, registration_of, retry_registration
from .search import MAX_RESULTS, OUTCOME_LABELS, Search, search_closed

__all__ = [
    "MAX_RESULTS",
    "MAX_TEXT",
    "OUTCOME_LABELS",
    "REFERENCE_ALPHABET",
    "REFERENCE_PREFIX",
    "AlreadyClaimed",
    "Availability",
    "CannedResponseNotFound",
    "CaseNotFound",
    "ChatSummary",
    "ClosingReach",
    "DomainError",
    "ExportNotAllowed",
    "FollowUpNotFound",
    "InvalidInput",
    "IntakeCorrection",
    "InvalidTransition",
    "NewCase",
    "NotAChat",
    "NotClaimedByYou",
    "NotYourTeam",
    "Preferences",
    "QueueEmpty",
    "QueueInfo",
    "QueuePage",
    "Search",
    "SenderMismatch",
    "TeamOverview",
    "TranscriptEntry",
    "UnknownTeam",
    "UnknownUser",
    "add_citizen_message",
    "add_follow_up",
    "add_note",
    "authorize",
    "chat_summary",
    "availability",
    "canned_responses",
    "claim",
    "claim_next",
    "close",
    "closing_reach",
    "colleagues",
    "complete_follow_up",
    "correct_intake",
    "create_case",
    "delete_canned_response",
    "enqueue_rasa",
    "enqueue_registration",
    "expected_wait_minutes",
    "find_open_case",
    "follow_ups",
    "generate_reference",
    "get_case",
    "get_user",
    "history",
    "is_valid_reference",
    "list_queue",
    "mark_read",
    "may_handle",
    "my_cases",
    "my_chats",
    "notes",
    "online_casemanagers",
    "open_follow_ups_for",
    "queue_info",
    "queue_position",
    "reach_of",
    "refresh_queue_positions",
    "registration_of",
    "retry_registration",
    "save_canned_response",
    "save_preferences",
    "search_closed",
    "send_casemanager_message",
    "team_overview",
    "touch_presence",
    "transcript",
    "transfer_to_team",
    "transfer_to_user",
    "unclaim",
    "unread_count",
    "works_in",
]
