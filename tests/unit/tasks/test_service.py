"""The API compatibility gate's comparison of two version documents."""

import pytest

from upgrader.tasks import service

OLD = {'versions': ['v2.0', 'v2.1'], 'min': '2.1', 'max': '2.95'}


@pytest.mark.parametrize('new,problems', [
    (dict(OLD), []),
    (dict(OLD, max='2.96', versions=['v2.0', 'v2.1', 'v3']), []),
    (dict(OLD, versions=['v2.1']), ['API version v2.0 dropped']),
    (dict(OLD, min='2.10'), ['minimum microversion raised from 2.1 to 2.10']),
    (dict(OLD, max='2.9'), ['maximum microversion lowered from 2.95 to 2.9']),
    ({}, ['API version v2.0 dropped', 'API version v2.1 dropped',
          'maximum microversion lowered from 2.95 to None']),
])
def test_broken_promises(new, problems):
    assert service.broken_promises(OLD, new) == problems


def test_documents_without_microversions():
    assert service.broken_promises({'versions': ['v3.14']},
                                   {'versions': ['v3.14']}) == []
