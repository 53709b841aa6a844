"""`python -m bot.action_server …`: rasa_sdk's action server (same arguments), with PII-free logs."""

from __future__ import annotations

from privacy.logs import install_log_redaction


def main() -> None:
    """Install log redaction before rasa_sdk configures logging, then run its command line."""
    install_log_redaction()
    from rasa_sdk.__main__ import main as sdk_main

    sdk_main()


if __name__ == "__main__":
    main()
