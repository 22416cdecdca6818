"""Every shipped template validates and compiles; bad ones say what is wrong."""

import os

import pytest

from upgrader.common import exception
from upgrader.common import keys
from upgrader import conf
from upgrader.workflow import flows
from upgrader.workflow import templates

SHIPPED = templates.shipped_dir()
SHIPPED_NAMES = sorted(f[:-5] for f in os.listdir(SHIPPED)
                       if f.endswith('.yaml'))

EXPECTED_STEPS = {
    'compute-rolling-upgrade': ['disable_service', 'evacuate',
                                'upgrade_packages', 'reboot', 'health_check',
                                'enable_service'],
    'compute-rolling-reboot': ['disable_service', 'evacuate', 'reboot',
                               'health_check', 'enable_service'],
}


def test_the_two_compute_templates_ship():
    assert set(EXPECTED_STEPS) <= set(SHIPPED_NAMES)


@pytest.mark.parametrize('name', SHIPPED_NAMES)
def test_shipped_template_validates_and_compiles(name):
    template = templates.load(conf.CONF, name)
    assert template.name == name
    flow = flows.host_flow('cmp042', template.content)
    atoms = [a.name for a in flow]
    assert atoms == (['cmp042.start']
                     + ['cmp042.%s' % s for s in template.task_names]
                     + ['cmp042.done'])
    # Everything the flow requires is in the host store; it provides nothing
    # another host could depend on.
    store = flows.host_store('r1', 'cmp042', [], {})
    assert flow.requires <= set(store)
    assert flow.provides == set()


@pytest.mark.parametrize('name, steps', sorted(EXPECTED_STEPS.items()))
def test_compute_templates_have_the_expected_steps(name, steps):
    template = templates.load(conf.CONF, name)
    assert template.task_names == steps
    flow = flows.host_flow('h', template.content)
    expected = {keys.ROLLOUT_ID, keys.HOST}
    if 'evacuate' in steps:
        expected.add(keys.MOVES)
    if 'health_check' in steps or 'upgrade_packages' in steps:
        expected.add(keys.VERSIONS)
    assert flow.requires == expected


def test_service_rolling_upgrade_wraps_the_service_update_steps():
    update = templates.load(conf.CONF, 'service-update').task_names
    template = templates.load(conf.CONF, 'service-rolling-upgrade')
    assert template.task_names == (['preflight_service', 'expand_schema',
                                    'backup_database'] + update
                                   + ['migrate_data'])
    flow = flows.host_flow('ctl001', template.content)
    assert flow.requires == {keys.ROLLOUT_ID, keys.HOST, keys.VERSIONS}
    assert flow.provides == set()
    assert template.policy == {'max_parallel': 1, 'max_failed_hosts': 0}


def test_directory_overrides_shipped(tmp_path):
    content = templates.load(conf.CONF, 'compute-rolling-reboot').content
    (tmp_path / 'compute-rolling-reboot.yaml').write_text(
        content.replace('timeout: 300', 'timeout: 42'))
    conf.CONF.set_override('template_dirs', [str(tmp_path)], 'workflow')
    try:
        template = templates.load(conf.CONF, 'compute-rolling-reboot')
    finally:
        conf.CONF.clear_override('template_dirs', 'workflow')
    assert template.source.startswith(str(tmp_path))
    assert template.steps[3].args == {'timeout': 42}


def test_unknown_template_names_where_it_looked():
    with pytest.raises(exception.TemplateNotFound, match='flows'):
        templates.load(conf.CONF, 'nosuch')


@pytest.mark.parametrize('content, message', [
    ('name: x\nsteps: [\n', 'not valid YAML at line'),
    ('- a\n- b\n', 'mapping'),
    ('steps: [reboot]\n', 'name is missing'),
    ('name: x\nsteps: []\n', 'non-empty list'),
    ('name: x\nsurprise: 1\nsteps: [reboot]\n', 'unknown key(s): surprise'),
    ('name: x\nsteps: [reboot, frobnicate]\n',
     'step 2 (frobnicate): unknown task'),
    ('name: x\nsteps:\n  - task: reboot\n    with: {timout: 5}\n',
     'step 1 (reboot): unknown argument timout'),
    ('name: x\nsteps:\n  - task: reboot\n    with: {timeout: soon}\n',
     'step 1 (reboot): argument timeout has a wrong type'),
    ('name: x\nsteps:\n  - task: reboot\n    when: always\n',
     'step 1 (reboot): unknown key(s): when'),
    ('name: x\nsteps: [reboot, reboot]\n', 'appears twice'),
    ('name: x\npolicy: {max_paralel: 2}\nsteps: [reboot]\n',
     'policy: unknown key max_paralel'),
    ('name: x\npolicy: {max_parallel: "2"}\nsteps: [reboot]\n',
     'policy: max_parallel has a wrong type'),
])
def test_invalid_templates(content, message):
    with pytest.raises(exception.TemplateInvalid) as info:
        templates.parse(content, 'flows/x.yaml')
    assert str(info.value).startswith('flows/x.yaml: ')
    assert message in str(info.value)


def test_digest_follows_content():
    a = templates.parse('name: x\nsteps: [reboot]\n')
    b = templates.parse('name: x\nsteps: [reboot]  # changed\n')
    assert a.digest != b.digest


def test_host_flows_parse_their_template_once(monkeypatch):
    content = templates.load(conf.CONF, 'compute-rolling-reboot').content
    content += '\n# this test\'s own copy\n'
    parsed = []
    parse = templates.parse
    monkeypatch.setattr(templates, 'parse',
                        lambda *args: parsed.append(1) or parse(*args))
    first, second = (flows.host_flow(host, content) for host in ('a', 'b'))
    assert len(parsed) == 1
    assert [a.name for a in second] == [
        a.name.replace('a.', 'b.', 1) for a in first]
    assert next(iter(second)) is not next(iter(first))
    flows.host_flow('c', content + '# edited\n')
    assert len(parsed) == 2
