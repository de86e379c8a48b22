"""A real one-node Slurm cluster for the tests (Debian's slurm-wlm + munge).

``slurm_cluster`` (session fixture) installs ``slurm-wlm`` and ``munge`` with
apt-get when they are missing and the tests run as root, then starts munged,
slurmctld and slurmd with a configuration generated in a temporary folder
(own munge socket and key, free ports, ``SLURM_CONF`` pointing at it) and
stops them by PID at the end. One partition, ``debug``, over this machine;
``--gres=gpu:N`` requests schedule on it through stand-in GRES devices
(nothing uses them), so GPU job scripts run unchanged. Where Slurm cannot
be installed or started, the tests that use it skip with the reason.
"""
import os
import os.path as osp
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from launch_utils import free_ports

SBIN = '/usr/sbin'
PACKAGES = ('slurm-wlm', 'munge')


def _say(msg: str) -> None:
    print(f'[slurm_cluster] {msg}', file=sys.__stderr__, flush=True)


def install() -> str:
    """Install slurm-wlm and munge if needed; return '' or why not."""
    if shutil.which('slurmctld', path=SBIN) and shutil.which('munged',
                                                             path=SBIN):
        return ''
    if os.geteuid() != 0 or not shutil.which('apt-get'):
        return ('slurm-wlm and munge are not installed, and installing them '
                'needs root and apt-get')
    _say('installing ' + ' '.join(PACKAGES) + ' with apt-get (about a minute)')
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    for cmd in (['apt-get', 'update', '-qq'],
                ['apt-get', 'install', '-y', '-qq', *PACKAGES]):
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if out.returncode:
            return f'`{" ".join(cmd)}` failed: {out.stderr.strip()[-500:]}'
    return ''


# AuthInfo's cred_expire (job credential lifetime, 120 s by default, at
# least 5) is also how long a requeued job waits before it may start again
# (slurmctld's batch_requeue_fini): 5 s, the least Slurm takes, lets the
# pre-empted job of the sweep test resume at once instead of after two
# minutes.
SLURM_CONF = """\
ClusterName=emoregtest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
AuthInfo=socket={root}/munge/munge.socket,cred_expire=5
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
KillWait=5
MinJobAge=30
GresTypes=gpu
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=1000 Gres=gpu:2 \
State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP \
OverSubscribe=NO
"""


class SlurmCluster:
    """A running one-node cluster: its partition, config and daemons.

    Args:
        root (str): Folder for the configuration, state, logs and sockets.
    """

    partition = 'debug'

    def __init__(self, root: str):
        self.root = root
        self.host = socket.gethostname()
        self.conf = osp.join(root, 'slurm.conf')
        self.pid_files = []
        self.env = {}

    def _daemon(self, cmd, pid_file):
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f'{cmd[0]} did not start: {out.stderr}')
        self.pid_files.append(pid_file)

    def start(self) -> None:
        for sub in ('state', 'spool', 'log', 'munge'):
            os.makedirs(osp.join(self.root, sub), exist_ok=True)
        munge = osp.join(self.root, 'munge')
        key = osp.join(munge, 'munge.key')
        with open(key, 'wb') as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        os.chmod(munge, 0o700)
        self._daemon([
            osp.join(SBIN, 'munged'), '--force', f'--key-file={key}',
            f'--socket={munge}/munge.socket', f'--pid-file={munge}/munged.pid',
            f'--log-file={munge}/munged.log', f'--seed-file={munge}/seed'
        ], osp.join(munge, 'munged.pid'))
        # two distinct ports (slurmctld refuses to run on slurmd's)
        ctld_port, slurmd_port = free_ports(2)
        with open(self.conf, 'w') as f:
            f.write(SLURM_CONF.format(
                host=self.host, root=self.root, cpus=os.cpu_count(),
                ctld_port=ctld_port, slurmd_port=slurmd_port))
        with open(osp.join(self.root, 'gres.conf'), 'w') as f:
            f.write(f'NodeName={self.host} Name=gpu File=/dev/tty[0-1]\n')
        self.env = dict(SLURM_CONF=self.conf)
        os.environ.update(self.env)
        self._daemon([osp.join(SBIN, 'slurmctld'), '-i', '-f', self.conf],
                     osp.join(self.root, 'slurmctld.pid'))
        self._daemon([osp.join(SBIN, 'slurmd'), '-f', self.conf],
                     osp.join(self.root, 'slurmd.pid'))
        deadline = time.time() + 60
        while time.time() < deadline:
            state = subprocess.run(
                ['sinfo', '-h', '-o', '%t'], capture_output=True,
                text=True).stdout.strip()
            if state in ('idle', 'mix', 'alloc'):
                return
            time.sleep(1)
        raise RuntimeError(f'the node did not come up (state {state!r}); '
                           f'logs in {self.root}/log')

    def stop(self) -> None:
        """Cancel this cluster's jobs, then stop its daemons by PID."""
        if self.env:
            subprocess.run(['scancel', '--full', '--signal=KILL',
                            f'--user={os.getuid()}'], capture_output=True)
            subprocess.run(['scancel', f'--user={os.getuid()}'],
                           capture_output=True)
            try:
                self.wait_idle(timeout=30)
            except TimeoutError as err:
                _say(f'stopping with jobs left: {err}')
        for pid_file in reversed(self.pid_files):
            try:
                with open(pid_file) as f:
                    pid = int(f.read().strip())
                os.kill(pid, signal.SIGTERM)
            except (OSError, ValueError):
                continue
            for _ in range(50):  # wait for it to leave
                try:
                    os.kill(pid, 0)
                except OSError:
                    break
                time.sleep(0.1)
        for var in self.env:
            os.environ.pop(var, None)

    def wait_idle(self, timeout: float = 120) -> None:
        """Wait until no job of this cluster is pending or running."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not subprocess.run(['squeue', '-h'], capture_output=True,
                                  text=True).stdout.strip():
                return
            time.sleep(0.5)
        raise TimeoutError('jobs still queued: ' + subprocess.run(
            ['squeue'], capture_output=True, text=True).stdout)


@pytest.fixture(scope='session')
def slurm_cluster():
    """A started :class:`SlurmCluster`, or the test skips saying why."""
    why = install()
    if why:
        _say(f'skipping the Slurm tests: {why}')
        pytest.skip(why)
    cluster = SlurmCluster(tempfile.mkdtemp(prefix='emoreg_slurm_'))
    try:
        cluster.start()
    except RuntimeError as err:
        cluster.stop()
        _say(f'skipping the Slurm tests: {err}')
        pytest.skip(str(err))
    yield cluster
    cluster.stop()
    shutil.rmtree(cluster.root, ignore_errors=True)


if __name__ == '__main__':
    # `python tests/slurm_cluster.py`: install the packages only (.ci/run,
    # before the suite, so that the install is not part of the tests' time).
    why = install()
    _say(why or 'slurm-wlm and munge are installed')
