"""What host-access drivers say of a command's or playbook's output.

The last lines, on one line, passwords masked: quoted in the error of a
failed action and returned by a successful one for the host's event log;
and package versions as log lines and errors write them.
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


def pairs(versions):
    """name -> version as 'a=1, b=2'."""
    return ', '.join('%s=%s' % kv for kv in sorted(versions.items()))


def mismatches(wanted, installed):
    """'a is 1 (wanted 2), ...' for the wanted versions not installed; ''
    if all are."""
    return ', '.join(
        '%s is %s (wanted %s)' % (p, installed.get(p, 'not installed'), v)
        for p, v in sorted(wanted.items()) if installed.get(p) != v)
