"""upgrader-manage release: parsing of --component, in-process."""

import pytest

from upgrader.cmd import manage
from upgrader.common import exception


def test_parse_components():
    assert manage._parse_components(
        ['nova=29.1.0', ' keystone = 25.0.1 ', 'python3-nova=2:29.1.0-0~a']
    ) == {'nova': '29.1.0', 'keystone': '25.0.1',
          'python3-nova': '2:29.1.0-0~a'}
    assert manage._parse_components([]) == {}


@pytest.mark.parametrize('pairs,text', [
    (['nova'], 'expected NAME=VERSION'),
    (['=29.1.0'], 'expected NAME=VERSION'),
    (['nova='], 'expected NAME=VERSION'),
    (['nova=1', 'nova=2'], 'given twice'),
])
def test_parse_components_invalid(pairs, text):
    with pytest.raises(exception.InvalidInput, match=text):
        manage._parse_components(pairs)


def test_categories_registered():
    assert manage.CATEGORIES['db'] is manage.DbCommands
    assert manage.CATEGORIES['release'] is manage.ReleaseCommands
