"""`rasa data validate`, failing on every warning except the ones our design causes on purpose.

Rasa warns that a response "is not used in any story or rule" when only a custom action utters
it, that an intent is in no rule (none is: bot/policy.py routes every message), and that an intent
has no NLU examples when only buttons or the handover service send it.
tests/bot/test_domain.py proves that each such response and intent is really used; every other
warning fails the check.
"""

from __future__ import annotations

import re
import subprocess
import sys

ALLOWED = [
    re.compile(r"The utterance '\w+' is not used in any story or rule\."),
    # No rule lists intents: bot/policy.py sends every message to action_turn.
    re.compile(r"The intent '[\w.]+' is not used in any story or rule\."),
    re.compile(r"The intent '(kies|medewerker_bericht|medewerker_gekoppeld|terug_naar_bot|wachtrij_update"
               r"|afspraak_herinnering)' "
               r"is listed in the domain file, but is not found in the NLU training data\."),
]


def main() -> int:
    """Run the validator and sort its warnings."""
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "data", "validate", "--domain", "bot/domain", "--data", "bot/data",
         "--config", "config.yml"],
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    warnings = [line for line in output.splitlines() if "UserWarning:" in line or "WARNING" in line]
    unexpected = [w for w in warnings if not any(p.search(w) for p in ALLOWED)]
    for line in unexpected:
        print(line)
    if result.returncode != 0 or unexpected:
        print(output[-3000:] if result.returncode != 0 else "")
        print(f"rasa data validate: {len(unexpected)} onverwachte waarschuwing(en), exit {result.returncode}")
        return 1
    print(f"rasa data validate: in orde ({len(warnings)} verwachte waarschuwingen)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
