"""Worker engines: one `dockerd` per worker, each in its own network and UTS namespace.

Why each flag matters (each was needed on these machines):
- `nsenter --net=/run/netns/oplab-wN`, not `ip netns exec` (which remounts /sys: "Devices cgroup
  isn't mounted");
- `unshare --uts` + `hostname lab-wN`: otherwise every node reports the machine's hostname and
  `node.hostname==` constraints cannot tell nodes apart;
- own data-root, exec-root, socket, pidfile and containerd namespaces, so engines share nothing;
- `--cgroup-parent /oplab-wN`: every container of a worker lands in one cgroup, which is how
  `stop()` finds what a killed engine left running;
- `--bridge none --iptables=false`: the worker must not touch the host's firewall;
- its own `--config-file` with the lab registry as insecure (the host's /etc/docker/daemon.json
  must not be read twice: dockerd refuses options given both as flag and in a file).
"""

import contextlib
import json
import os
import signal
from pathlib import Path

from lab import config
from lab import daemon as engine
from lab.config import WorkerNames
from lab.fs import remove_tree
from lab.proc import cmdline, find_pids, pid_alive, read_pidfile, spawn, stop, wait_for

START_DEADLINE_S = 60
CGROUP_ROOT = Path("/sys/fs/cgroup")


def daemon_config() -> dict:
    return {
        "insecure-registries": [config.REGISTRY],
        "log-driver": "json-file",
        "log-opts": {"max-size": "10m", "max-file": "2"},
    }


def argv(w: WorkerNames) -> list[str]:
    return [
        "nsenter",
        f"--net={config.NETNS_DIR / w.netns}",
        "unshare",
        "--uts",
        "--",
        "/bin/sh",
        "-c",
        'hostname "$0" && exec "$@"',
        w.hostname,
        "dockerd",
        "--config-file", str(w.config_file),
        "--data-root", str(w.data_root),
        "--exec-root", str(w.exec_root),
        "--host", w.socket,
        "--pidfile", str(w.pidfile),
        "--bridge", "none",
        "--iptables=false",
        "--ip-masq=false",
        "--containerd-namespace", w.netns,
        "--containerd-plugins-namespace", f"{w.netns}-plugins",
        "--cgroup-parent", f"/{w.netns}",
    ]  # fmt: skip


def pid(w: WorkerNames) -> int | None:
    """The worker's dockerd pid, if it runs (checked against its command line, pidfiles can be stale)."""
    found = read_pidfile(w.pidfile)
    if found and pid_alive(found) and str(w.socket_path) in " ".join(cmdline(found)):
        return found
    return None


def running(w: WorkerNames) -> bool:
    return pid(w) is not None and engine.answers(w.socket)


def leftover_pids(w: WorkerNames) -> list[int]:
    """Processes of this worker other than dockerd: its containerd, shims, and container processes."""
    mine = f"{w.run_dir}/"
    pids = set(find_pids(lambda args: any(mine in part for part in args)))
    for procs in CGROUP_ROOT.glob(f"*/{w.netns}/**/cgroup.procs"):
        try:
            pids.update(int(line) for line in procs.read_text().split())
        except (OSError, ValueError):
            continue
    pids.discard(os.getpid())
    return sorted(pids)


def _kill_leftovers(w: WorkerNames) -> None:
    for victim in leftover_pids(w):
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            continue
    wait_for(f"leftover processes of {w.hostname} to exit", lambda: not leftover_pids(w), 10)
    # Remove the worker's (now empty) cgroups, deepest first.
    for ctrl in CGROUP_ROOT.iterdir():
        base = ctrl / w.netns
        if base.is_dir():
            for group in sorted(base.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if group.is_dir():
                    _rmdir(group)
            _rmdir(base)


def _rmdir(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


def start(w: WorkerNames) -> None:
    """Start the worker's engine (not waiting for it); clears what a killed engine left behind."""
    if pid(w):
        return
    _kill_leftovers(w)
    # Runtime state of a killed engine, as a reboot would clear it. Its containerd.pid matters most: a
    # new dockerd that finds that pid still alive (an unreaped zombie) waits for the dead containerd's
    # socket until "timeout waiting for containerd to start".
    remove_tree(w.exec_root)
    w.run_dir.mkdir(parents=True, exist_ok=True)
    w.data_root.mkdir(parents=True, exist_ok=True)
    w.config_file.write_text(json.dumps(daemon_config(), indent=2))
    for stale in (w.socket_path, w.pidfile):
        stale.unlink(missing_ok=True)
    spawn(argv(w), w.log_file)


def wait_ready(w: WorkerNames, deadline_s: float = START_DEADLINE_S) -> None:
    wait_for(
        f"dockerd of {w.hostname}", lambda: engine.answers(w.socket), deadline_s, hint=f"see {w.log_file}"
    )


def stop_engine(w: WorkerNames, purge: bool = False) -> None:
    """Stop the worker's engine and everything it started; `purge` also deletes its image store."""
    found = pid(w)
    if found:
        stop(found, f"dockerd of {w.hostname}", grace_s=20)
    _kill_leftovers(w)
    remove_tree(w.exec_root)
    remove_tree(w.run_dir)
    if purge:
        remove_tree(w.data_root.parent)


def known_indexes() -> list[int]:
    """Worker indexes that have a netns, a run dir or a data dir: what `down()` must look at."""
    found = set()
    for path in [*config.NETNS_DIR.glob(f"{config.PREFIX}-w*"), *config.RUN_ROOT.glob(f"{config.PREFIX}-w*")]:
        suffix = path.name.removeprefix(f"{config.PREFIX}-w")
        if suffix.isdigit():
            found.add(int(suffix))
    return sorted(found)
