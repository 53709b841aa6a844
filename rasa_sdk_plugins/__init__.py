"""Extensions of the action server (`python -m bot.action_server --actions bot.actions`).

rasa_sdk 3.6 imports a top-level package of this name when it exists and calls `init_hooks`; its
hook `attach_sanic_app_extensions` gets the Sanic app before it runs. We use it to put the guard
in front of every route (bot/action_guard.py: only Rasa, with its token, and only well-formed
JSON; without ACTION_SERVER_TOKEN it does not start), and to start the outbox's background task as soon as the server is up, so messages and callback requests left
by an earlier run (the outbox is on disk) go out without waiting for the first citizen message,
and to let the task finish its current send when the server stops.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookimpl = pluggy.HookimplMarker("rasa_sdk")


async def start_outbox(app: Any, loop: Any) -> None:
    """After the server started: run the outbox's background task (only with a handover service)."""
    from bot.handover_gateway.outbox import handover_outbox  # the action code, loaded when needed
    from bot.settings import BotSettings

    settings = BotSettings.from_env()
    if settings.handover_url:
        handover_outbox(settings)


async def stop_outbox(app: Any, loop: Any) -> None:
    """Before the server stops: let the background task finish the call it is making."""
    from bot.handover_gateway.outbox import shutdown

    await shutdown()


def attach_outbox(app: Any) -> None:
    """Run the outbox's background task while the server runs."""
    app.register_listener(start_outbox, "after_server_start")
    app.register_listener(stop_outbox, "before_server_stop")


class ActionServerPlugin:
    @hookimpl
    def attach_sanic_app_extensions(self, app: Any) -> None:
        from bot.action_guard import ActionGuardSettings, install

        # Raises without a token: also a plain `python -m rasa_sdk` never serves an open action server.
        install(app, ActionGuardSettings.from_env())
        attach_outbox(app)


def init_hooks(manager: pluggy.PluginManager) -> None:
    """Called by rasa_sdk.plugin when it discovers this package."""
    manager.register(ActionServerPlugin())
