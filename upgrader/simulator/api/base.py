"""Shared machinery of the simulator's APIs: requests, routes, errors, times.

A :class:`Service` owns a path prefix and its routes; a handler receives the
request, the cloud (advanced to now, inside a transaction) and the path groups,
and returns ``(status, body)`` or ``(status, body, headers)``.
"""

import datetime
import http
import json
import re
import urllib.parse

from upgrader.common import exception


class ApiError(Exception):
    """An error answer: status and message, formatted by the service."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def status_of(error):
    """HTTP status of an upgrader exception raised by the cloud model."""
    if isinstance(error, exception.NotFound):
        return 404
    if isinstance(error, exception.Conflict):
        return 409
    return 400


class Request:
    def __init__(self, method, raw_path, headers, body, base_url):
        self.method = method
        parsed = urllib.parse.urlsplit(raw_path)
        self.path = parsed.path
        self.query = urllib.parse.parse_qs(parsed.query,
                                           keep_blank_values=True)
        self.headers = headers
        self.body = body
        self.base_url = base_url
        self.version = None
        self.auth = None

    def arg(self, name, default=None):
        values = self.query.get(name)
        return values[-1] if values else default

    def json(self):
        if not self.body:
            raise ApiError(400, 'The request body is missing.')
        try:
            data = json.loads(self.body)
        except ValueError:
            raise ApiError(400, 'Malformed request body: not JSON.')
        if not isinstance(data, dict):
            raise ApiError(400, 'Malformed request body: not an object.')
        return data


class Service:
    """A path prefix, its routes and its error format."""

    prefix = ''
    name = ''

    def __init__(self):
        self.routes = []

    def route(self, method, pattern, auth=True):
        regex = re.compile('^' + pattern + '/?$')

        def decorator(func):
            self.routes.append((method, regex, func, auth))
            return func
        return decorator

    def match(self, method, path):
        """(handler, groups, auth) for a path below the prefix, or raise."""
        allowed = False
        for r_method, regex, func, auth in self.routes:
            m = regex.match(path)
            if m is None:
                continue
            if r_method == method:
                return func, m.groupdict(), auth
            allowed = True
        if allowed:
            raise ApiError(405, 'The method %s is not allowed for %s.'
                           % (method, path))
        raise ApiError(404, 'The resource could not be found.')

    def negotiate(self, request):
        """Parse the microversion of a request; return response headers."""
        return {}

    def error_body(self, status, message):
        return {'error': {'code': status, 'title': title(status),
                          'message': message}}


def title(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return 'Error'


def parse_microversion(request, service_type, legacy_header, minimum,
                       maximum, default):
    """The requested (major, minor) microversion, as Nova and Placement do."""
    value = None
    header = request.headers.get('OpenStack-API-Version')
    if header:
        for item in header.split(','):
            parts = item.strip().split()
            if len(parts) == 2 and parts[0].lower() == service_type:
                value = parts[1]
    if value is None and legacy_header:
        value = request.headers.get(legacy_header)
    if value is None:
        return default
    if value.strip().lower() == 'latest':
        return maximum
    m = re.match(r'^(\d+)\.(\d+)$', value.strip())
    if m is None:
        raise ApiError(400, 'API Version String %s is of invalid format. '
                       'Must be of format MajorNum.MinorNum.' % value)
    version = (int(m.group(1)), int(m.group(2)))
    if not minimum <= version <= maximum:
        raise ApiError(406, 'Version %s is not supported by the API. '
                       'Minimum is %s and maximum is %s.'
                       % (value, vstr(minimum), vstr(maximum)))
    return version


def vstr(version):
    return '%d.%d' % version


def iso(timestamp, zulu=False, micro=True):
    """Nova's time formats: '2024-01-01T00:00:00.000000' or '...Z'."""
    if timestamp is None:
        return None
    dt = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    text = dt.strftime('%Y-%m-%dT%H:%M:%S.%f' if micro
                       else '%Y-%m-%dT%H:%M:%S')
    return text + 'Z' if zulu else text


def flag(value):
    """A boolean query parameter as Nova reads it."""
    return str(value).lower() in ('1', 't', 'true', 'on', 'y', 'yes')
