#!/bin/sh
# Install and start the host Docker engine used by the local Swarm lab.
#
# Idempotent: safe on a fresh Debian 12 machine (CI, as root) and on one where
# everything already runs. No systemd here, so dockerd is started in the
# background and polled until it answers.
set -eu

LAB_REGISTRY="${OPLAB_REGISTRY:-10.231.0.1:5000}"
LAB_BRIDGE=oplab0
DAEMON_JSON=/etc/docker/daemon.json
DOCKERD_LOG=/var/log/dockerd.log
DEADLINE_S="${OPLAB_ENGINE_DEADLINE:-60}"
PACKAGES="docker.io docker-registry debootstrap busybox-static iproute2"

die() { echo "install-engine: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "install-engine: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q $PACKAGES
fi

# The worker engines and the host push to the lab registry over plain HTTP on
# the bridge address (loopback registries are trusted by default, this one is not).
mkdir -p /etc/docker
want="{\"insecure-registries\": [\"$LAB_REGISTRY\"]}"
changed=0
if [ ! -f "$DAEMON_JSON" ]; then
    echo "$want" > "$DAEMON_JSON"
    changed=1
elif ! grep -q "\"$LAB_REGISTRY\"" "$DAEMON_JSON"; then
    # Merge into an existing config instead of overwriting someone else's settings.
    command -v python3 >/dev/null || die "$DAEMON_JSON exists: add \"$LAB_REGISTRY\" to its insecure-registries"
    python3 - "$DAEMON_JSON" "$LAB_REGISTRY" <<'PY'
import json, sys
path, reg = sys.argv[1], sys.argv[2]
with open(path) as f:
    cfg = json.loads(f.read().strip() or "{}")
regs = cfg.setdefault("insecure-registries", [])
if reg not in regs:
    regs.append(reg)
with open(path, "w") as f:
    json.dump(cfg, f, indent=2)
PY
    changed=1
fi

# The server part must answer (a client alone exits 0 on `docker info` in some versions).
engine_up() { docker -H unix:///var/run/docker.sock version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if engine_up && [ "$changed" = 1 ]; then
    # A running engine reloads insecure-registries on SIGHUP (live-reloadable option).
    pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
    [ -n "$pid" ] && kill -HUP "$pid" 2>/dev/null || true
fi

# After a reboot the lab's saved swarm listens on the lab bridge address: without the bridge the
# engine's swarm would stay in state "error" until the next restart, so recreate the bridge first.
if ! engine_up && grep -qs "\"${LAB_REGISTRY%:*}:" /var/lib/docker/swarm/docker-state.json \
    && ! ip link show "$LAB_BRIDGE" >/dev/null 2>&1; then
    echo "install-engine: recreating bridge $LAB_BRIDGE for the saved lab swarm"
    ip link add "$LAB_BRIDGE" type bridge
    ip addr add "${LAB_REGISTRY%:*}/24" dev "$LAB_BRIDGE"
    ip link set "$LAB_BRIDGE" up
fi

if ! engine_up; then
    command -v dockerd >/dev/null || die "dockerd not found after install"
    echo "install-engine: starting dockerd (log: $DOCKERD_LOG)"
    setsid dockerd >>"$DOCKERD_LOG" 2>&1 < /dev/null &
    i=0
    while ! engine_up; do
        i=$((i + 1))
        if [ "$i" -gt $((DEADLINE_S * 2)) ]; then
            tail -n 20 "$DOCKERD_LOG" >&2 || true
            die "dockerd did not answer within ${DEADLINE_S}s; see $DOCKERD_LOG"
        fi
        sleep 0.5
    done
fi
echo "install-engine: engine ready ($(docker -H unix:///var/run/docker.sock version --format '{{.Server.Version}}'))"
