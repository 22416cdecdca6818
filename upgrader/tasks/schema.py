"""Steps on the database of a control-plane service, around the host steps
of ``service-rolling-upgrade``: pre-flight (version skew), expand, backup,
online data migrations. Contract is not a step: ``rollout commit`` runs it.

They are host steps, run on each controller of the rollout in turn, but
each acts once per rollout: it reads the real state (the schema's
generations, the backups, every controller's version) and does nothing
when its work is done or not due yet. Nothing here is undone by a revert:
old code runs on an expanded schema and on migrated data, and a backup is
kept.
"""

from upgrader.common import exception
from upgrader.common import keys
from upgrader.tasks import base
from upgrader.tasks import service


def databases(cp, versions):
    """{database: (its view, the generation the new code needs, [the
    services on it])} of the services of ``versions`` ({service: new
    version}), through the control-plane driver ``cp``."""
    found = {}
    for name in sorted(versions):
        db = cp.database(name)
        gen = cp.generation(versions[name])
        _, needed, names = found.get(db['name'], (db, gen, []))
        found[db['name']] = (db, max(needed, gen), names + [name])
    return found


def _databases(task, versions):
    """:func:`databases` of the host's services named in ``versions``."""
    return databases(task.runtime.controlplane, {
        name: versions[name]
        for name in service.named_services(task, versions)})


class PreflightService(base.HostTask):
    """Refuse a version skew the upgrade guides do not support: at most
    ``max_skew`` schema generations between what any controller runs and
    the new version, and new code the schema can serve once expanded (not
    older than what it is contracted to)."""

    step = 'preflight_service'
    parameters = {'max_skew': int}

    def execute(self, rollout_id, host, versions):
        cp = self.runtime.controlplane
        max_skew = self.arg('max_skew', 1)
        for name in service.named_services(self, versions):
            target = cp.generation(versions[name])
            for other, view in sorted(cp.service_hosts(name).items()):
                skew = abs(target - cp.generation(view['version']))
                if skew > max_skew:
                    raise exception.Conflict(
                        reason='%s %s is %d schema generation(s) from %s on '
                               '%s (at most %d): upgrade through the '
                               'releases in between' % (
                                   name, versions[name], skew,
                                   view['version'], other, max_skew))
            db = cp.database(name)
            if target < db['contracted']:
                raise exception.Conflict(
                    reason='%s %s cannot run on database %s, contracted to '
                           'generation %d: roll the upgrade back with '
                           'rollout rollback (it restores the backup)'
                           % (name, versions[name], db['name'],
                              db['contracted']))


class ExpandSchema(base.HostTask):
    """Run the expand migrations the new code needs, once: a database
    already expanded that far is left alone. Revert keeps them (old code
    runs on an expanded schema)."""

    step = 'expand_schema'

    def execute(self, rollout_id, host, versions):
        expanded = []
        for name, (db, gen, _) in sorted(_databases(self, versions).items()):
            if db['expanded'] >= gen:
                continue
            self.act('expanding database %s to generation %d' % (name, gen))
            self.runtime.controlplane.migrate(name, 'expand', gen)
            self.event(rollout_id, 'expanded database %s to generation %d'
                       % (name, gen))
            expanded.append(name)
        return expanded

    @base.never_raises
    def revert(self, rollout_id, host, result, **kwargs):
        if not base.is_failure(result) and result:
            self.event(rollout_id, 'expand of %s kept: the old code runs on '
                       'the expanded schema' % ', '.join(result))


class BackupDatabase(base.HostTask):
    """Back the databases up once per rollout, after expand: the backup's
    schema serves the old and the new code, so restoring it (a rollback
    after contract) needs neither down. Its id is remembered on the host."""

    step = 'backup_database'

    def execute(self, rollout_id, host, versions):
        cp = self.runtime.controlplane
        rt = self.runtime
        taken = {}
        for name in sorted(_databases(self, versions)):
            mine = [b for b in cp.backups(name) if b['label'] == rollout_id]
            if mine:
                taken[name] = mine[0]['id']
                continue
            self.act('backing up database %s' % name)
            found = cp.backup(name, label=rollout_id)
            self.event(rollout_id, 'backup %s of database %s taken (%d '
                       'writes)' % (found['id'], name, found['writes']))
            taken[name] = found['id']
        rt.recorder.remember(rollout_id, host, keys.SERVICE_BACKUPS,
                             taken)
        return taken


class MigrateData(base.HostTask):
    """Run the online data migrations once every controller of the service
    runs the new version: on the last one. Earlier hosts do nothing."""

    step = 'migrate_data'

    def execute(self, rollout_id, host, versions):
        cp = self.runtime.controlplane
        migrated = []
        for name, (db, gen, names) in sorted(
                _databases(self, versions).items()):
            behind = sorted('%s on %s' % (s, h) for s in names
                            for h, v in cp.service_hosts(s).items()
                            if v['version'] != versions[s])
            if behind or db['migrated'] >= gen:
                continue
            self.act('migrating the data of %s to generation %d'
                     % (name, gen))
            cp.migrate_data(name, gen)
            self.event(rollout_id, 'data of database %s migrated to '
                       'generation %d' % (name, gen))
            migrated.append(name)
        return migrated
