"""The HTTP side: thin handlers that parse a request, call a service and answer.

- ``bot_api`` (input checks in ``bot_input``): the JSON API the bot calls, and /healthz
- ``login``: log in and out
- ``queue_page``: the queue, claim-next, availability, follow-up tasks done
- ``case_page``: the case page and its form actions
- ``websocket``: the live /ws connection and the presence loop of its casemanagers
- ``privacy_pages``: export, erasure by reference, the audit log
- ``http_errors``: the one mapping from a named domain error to an HTTP error
- ``responses``: how a workspace form answers (flash message redirect, or JSON)
"""
