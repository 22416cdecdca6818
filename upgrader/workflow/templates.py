"""Workflow templates: what to do to one host, as operator-editable YAML.

A template names an ordered list of steps, each a task of the task library
(stevedore namespace ``upgrader.tasks``) with its arguments, and default
rolling-policy values. Templates ship in ``flows/``; a file of the same name in
one of ``[workflow] template_dirs`` overrides the shipped one. A rollout stores
the template's content and digest, so a resumed job rebuilds the same graph.
"""

import dataclasses
import hashlib
import os
import sys

import yaml

from upgrader.common import exception
from upgrader import tasks

SUFFIX = '.yaml'
TOP_LEVEL_KEYS = frozenset(['name', 'description', 'policy', 'steps'])
STEP_KEYS = frozenset(['task', 'with'])
# Policy values a template may set, with their types.
# Policy keys a template (or the operator, per rollout) may set, and their
# types. A count or percentage is an int or a string such as '25%'.
POLICY_KEYS = {
    'max_parallel': int,
    'max_failed_hosts': (int, str),
    'on_failure': str,
    'max_unavailable_per_az': (int, str),
    'max_unavailable_per_aggregate': (int, str),
    'max_group_disruption': (int, str),
    'canary': bool,
    'canary_soak_seconds': (int, float),
    'pause_between_waves': (int, float),
    'maintenance_window': str,
    'first_hosts': list,
    'last_hosts': list,
    'unmovable': str,
    'migration_base_seconds': (int, float),
    'migration_seconds_per_gib': (int, float),
    # service-rolling-upgrade: contract this long after the rollout
    # succeeded (no value: only on rollout commit).
    'commit_after_seconds': (int, float),
}
# Policy on_failure: what exceeding the failure budget does.
ON_FAILURE_FAIL = 'fail'        # the rollout fails (resumable)
ON_FAILURE_PAUSE = 'pause'      # it pauses inside the wave


def policy_problems(policy):
    """What is wrong with a policy mapping (unknown keys, wrong types)."""
    problems = []
    for key, value in sorted(policy.items()):
        if key not in POLICY_KEYS:
            problems.append('unknown key %s (known: %s)'
                            % (key, ', '.join(sorted(POLICY_KEYS))))
        elif isinstance(value, bool) != (POLICY_KEYS[key] is bool) or \
                not isinstance(value, POLICY_KEYS[key]):
            problems.append('%s has a wrong type (%r)' % (key, value))
    return problems


@dataclasses.dataclass(frozen=True)
class Step:
    task: str
    args: dict


@dataclasses.dataclass(frozen=True)
class Template:
    name: str
    description: str
    steps: tuple
    policy: dict
    content: str
    digest: str
    source: str

    @property
    def task_names(self):
        return [s.task for s in self.steps]


def shipped_dir():
    """The templates shipped with upgrader (source tree or installed data)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for candidate in (os.path.join(os.path.dirname(here), 'flows'),
                      os.path.join(sys.prefix, 'share', 'upgrader', 'flows')):
        if os.path.isdir(candidate):
            return candidate
    return None


def search_path(conf):
    dirs = list(conf.workflow.template_dirs or [])
    shipped = shipped_dir()
    if shipped:
        dirs.append(shipped)
    return dirs


def find(conf, name):
    """Path of the template ``name`` (or ``name`` itself if it is a file)."""
    if os.sep in name or name.endswith(SUFFIX):
        if os.path.isfile(name):
            return name
        raise exception.TemplateNotFound(name=name, where=name)
    dirs = search_path(conf)
    for directory in dirs:
        path = os.path.join(directory, name + SUFFIX)
        if os.path.isfile(path):
            return path
    raise exception.TemplateNotFound(name=name, where=', '.join(dirs))


def load(conf, name):
    """Find, read and validate a template by name or path."""
    path = find(conf, name)
    try:
        with open(path, encoding='utf-8') as f:
            content = f.read()
    except OSError as e:
        raise exception.TemplateInvalid(source=path, reason=e.strerror)
    return parse(content, path)


def list_names(conf):
    """Names of every template on the search path, first occurrence wins."""
    names = set()
    for directory in search_path(conf):
        if os.path.isdir(directory):
            names.update(f[:-len(SUFFIX)] for f in os.listdir(directory)
                         if f.endswith(SUFFIX))
    return sorted(names)


def parse(content, source='<template>'):
    """Validate a template's YAML text; errors name the file and the step."""
    def invalid(reason):
        return exception.TemplateInvalid(source=source, reason=reason)

    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as e:
        mark = getattr(e, 'problem_mark', None)
        where = ' at line %d' % (mark.line + 1) if mark else ''
        raise invalid('not valid YAML%s: %s'
                      % (where, getattr(e, 'problem', None) or e))
    if not isinstance(data, dict):
        raise invalid('a template is a mapping with name and steps')
    unknown = sorted(set(data) - TOP_LEVEL_KEYS)
    if unknown:
        raise invalid('unknown key(s): %s' % ', '.join(unknown))
    name = data.get('name')
    if not isinstance(name, str) or not name:
        raise invalid('name is missing')
    steps = data.get('steps')
    if not isinstance(steps, list) or not steps:
        raise invalid('steps must be a non-empty list')
    policy = data.get('policy') or {}
    _check_policy(policy, invalid)
    library = tasks.library()
    parsed = tuple(_parse_step(i, step, library, invalid)
                   for i, step in enumerate(steps, 1))
    seen = set()
    for step in parsed:
        if step.task in seen:
            raise invalid('task %s appears twice (task names must be unique '
                          'per host)' % step.task)
        seen.add(step.task)
    return Template(name=name, description=str(data.get('description', '')),
                    steps=parsed, policy=dict(policy), content=content,
                    digest=hashlib.sha256(content.encode()).hexdigest(),
                    source=source)


def _check_policy(policy, invalid):
    if not isinstance(policy, dict):
        raise invalid('policy must be a mapping')
    problems = policy_problems(policy)
    if problems:
        raise invalid('policy: %s' % problems[0])


def _parse_step(index, step, library, invalid):
    if isinstance(step, str):
        step = {'task': step}
    if not isinstance(step, dict) or 'task' not in step:
        raise invalid('step %d: a step is a task name or a mapping with '
                      'task' % index)
    task = step['task']
    where = 'step %d (%s)' % (index, task)
    unknown = sorted(set(step) - STEP_KEYS)
    if unknown:
        raise invalid('%s: unknown key(s): %s' % (where, ', '.join(unknown)))
    if task not in library:
        raise invalid('%s: unknown task (known: %s)'
                      % (where, ', '.join(sorted(library))))
    args = step.get('with') or {}
    if not isinstance(args, dict):
        raise invalid('%s: with must be a mapping' % where)
    parameters = library[task].parameters
    for key, value in args.items():
        if key not in parameters:
            raise invalid('%s: unknown argument %s (known: %s)'
                          % (where, key, ', '.join(sorted(parameters))
                             or 'none'))
        kind = parameters[key]
        if not isinstance(value, kind) or isinstance(value, bool) != (
                kind is bool):
            raise invalid('%s: argument %s has a wrong type (%r)'
                          % (where, key, value))
    return Step(task=task, args=dict(args))
