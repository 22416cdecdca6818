"""The sample configuration is generated from our options by oslo-config-generator."""

import os
import subprocess
import sys

from upgrader.conf import opts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
GENERATOR_CONF = os.path.join(ROOT, 'etc', 'upgrader',
                              'upgrader-config-generator.conf')


def test_generator_writes_every_group(tmp_path):
    out = tmp_path / 'upgrader.conf.sample'
    generator = os.path.join(os.path.dirname(sys.executable),
                             'oslo-config-generator')
    subprocess.run([generator, '--config-file', GENERATOR_CONF,
                    '--output-file', str(out)], check=True, cwd=ROOT)
    text = out.read_text()
    for group, group_opts in opts.list_opts():
        assert '[%s]' % group in text
        for opt in group_opts:
            assert '#%s = ' % opt.dest in text or '#%s =' % opt.dest in text, \
                (group, opt.dest)
    # oslo.log's options come along, so operators see how to set logging.
    assert '#debug = false' in text


def test_option_names_are_unique_per_group():
    for group, group_opts in opts.list_opts():
        names = [o.dest for o in group_opts]
        assert len(names) == len(set(names)), group
