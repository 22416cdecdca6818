"""The diff of two releases' components."""

from upgrader.plan import releases


def test_diff_added_removed_changed_unchanged():
    old = {'keystone': '26.0.0', 'nova-api': '30.0.0', 'qemu': '8.0.0'}
    new = {'keystone': '27.0.1', 'nova-api': '30.0.0', 'glance-api': '29.0.0'}
    changes = releases.diff(old, new)
    assert changes == {
        'added': {'glance-api': '29.0.0'},
        'removed': {'qemu': '8.0.0'},
        'changed': {'keystone': {'from': '26.0.0', 'to': '27.0.1'}},
        'unchanged': ['nova-api']}
    assert not releases.is_empty(changes)
    back = releases.diff(new, old)
    assert back['changed'] == {'keystone': {'from': '27.0.1',
                                            'to': '26.0.0'}}
    assert (back['added'], back['removed']) == (changes['removed'],
                                                changes['added'])


def test_diff_of_the_same_release_is_empty():
    versions = {'keystone': '26.0.0', 'nova-api': '30.0.0'}
    changes = releases.diff(versions, dict(versions))
    assert releases.is_empty(changes)
    assert changes['unchanged'] == ['keystone', 'nova-api']

