"""Webhooks: a notification POSTed as JSON, tried again a few times.

Bounded: at most ``attempts`` POSTs of ``timeout`` seconds each, with a
doubling pause between them. A connection error, a timeout, a 5xx or a 429
is tried again; another answer is final. A URL may carry a token, so only
its scheme, host and port are ever logged.
"""

import time
import urllib.parse

from oslo_log import log as logging
from oslo_serialization import jsonutils
import requests

LOG = logging.getLogger(__name__)

RETRIED_STATUS = frozenset([429, 500, 502, 503, 504])


def safe_url(url):
    """The URL without its credentials, path and query (for logs)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or '?'
    return '%s://%s%s' % (parts.scheme, host,
                          ':%d' % parts.port if parts.port else '')


class Webhook:
    """One webhook URL."""

    def __init__(self, url, timeout=2.0, attempts=3, backoff=0.5,
                 sleep=time.sleep):
        self.url = url
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.sleep = sleep

    def send(self, message):
        """POST ``message``; True once accepted, False when given up."""
        body = jsonutils.dumps(message)
        pause = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                response = requests.post(
                    self.url, data=body, timeout=self.timeout,
                    headers={'Content-Type': 'application/json'})
            except requests.RequestException as e:
                why = type(e).__name__
            else:
                if response.status_code < 300:
                    return True
                why = 'HTTP %d' % response.status_code
                if response.status_code not in RETRIED_STATUS:
                    break
            if attempt < self.attempts:
                self.sleep(pause)
                pause *= 2
        LOG.warning('Notification %s not delivered to webhook %s after %d '
                    'attempt(s): %s', message.get('event_type'),
                    safe_url(self.url), attempt, why)
        return False
