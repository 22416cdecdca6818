"""What host-access drivers keep of a command's or playbook's output.

The last lines, on one line, passwords masked: quoted in the error of a
failed action and returned by a successful one for the host's event log.
"""

from oslo_utils import strutils

# Lines of output kept.
TAIL_LINES = 10


def tail(text, lines=TAIL_LINES):
    """The last non-blank lines of text joined by ' | ', secrets masked."""
    kept = [line.strip() for line in (text or '').splitlines()
            if line.strip()]
    return strutils.mask_password(' | '.join(kept[-lines:]))


def masked(text):
    """All of text, secrets masked (for debug logs)."""
    return strutils.mask_password((text or '').rstrip())
