"""The two failures of naive Odoo replicas (file sessions, a filestore per node) are real on the Swarm
lab, and the panel's site fixes both (issue 3, Tests).

Two replicas of the Odoo stand-in on two different nodes, reached task by task from inside the site's
overlay network (a one-off task resolves `tasks.<service>` to the two task IPs and talks to each):

- broken (built the wrong way on purpose, with the docker SDK): file sessions and a data dir on a volume
  local to each node. A login on one replica is lost on the other (the login loop), and a file uploaded
  through one replica is missing on the other (Odoo answers 500).
- fixed (a site deployed through the panel's own deploy job, so its own rendering): session_redis and
  the filestore mounted on every replica. The session survives on the other replica and the file is
  served by it.

The broken service is the panel's own rendered Odoo service with exactly those two fixes taken out,
on the same network, database and image, so nothing else differs.
"""

import datetime as dt
import time
import uuid
from dataclasses import replace

import docker
import pytest
from docker.types import Mount

from clusters import swarm_ops as ops
from clusters import swarm_secrets
from clusters.models import Cluster, Site
from clusters.sites.site_spec import spec_for
from clusters.stack import SiteSpec
from clusters.stack.render import ServiceSpec, render, render_probe_task, to_create_kwargs
from clusters.swarm_ops import run_one_off
from panel.crypto import reveal
from tests.sites.conftest import new_lab_site, remove_site_objects
from tests.sites.jobrun import log_text, run_inline

pytestmark = [pytest.mark.integration, pytest.mark.lab]

TEST_LABEL = "panel.test"

# Runs in the stand-in image (sh, curl, getent, awk, sed) on the site's network. $SVC names the Odoo
# service, $TOKEN is the content uploaded (unique per run: a per-node volume may outlive a run),
# $ADMIN_PASSWORD the one the panel gave the database it initialised.
# Prints one `key value...` line per step; the test parses them from the task's log.
# The two task IPs behind tasks.$SVC as $a and $b (both exchanges start so).
TWO_TASKS = r"""
n=0
until ips=$(getent ahostsv4 "tasks.$SVC" | awk '{print $1}' | sort -u); [ "$(echo "$ips" | wc -w)" -eq 2 ]; do
  n=$((n + 1)); [ $n -lt 30 ] || break; sleep 1  # Swarm's DNS follows a task change within seconds
done
set -- $ips
echo "ips $*"
[ $# -eq 2 ] || { echo "error expected two task IPs behind tasks.$SVC"; exit 2; }
a=$1; b=$2
"""
# The session $sid on $a, $b, $a, $b...: 20 requests of $WEB, how many were served (200) rather than
# bounced to the login page (both exchanges' session part ends so).
ALTERNATING = r"""
served=0
for i in 1 2 3 4 5 6 7 8 9 10; do
  for ip in $a $b; do
    code=$(curl -s -o /dev/null -m 20 -w '%{http_code}' -H "Cookie: session_id=$sid" "http://$ip:8069$WEB")
    [ "$code" = 200 ] && served=$((served + 1))
  done
done
echo "alternating $served"
"""
EXCHANGE = (
    TWO_TASKS
    + r"""# Both replicas serve the login page once the database is ready (the cron replica installs base).
for ip in $a $b; do
  n=0
  until [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://$ip:8069/web/login")" = 200 ]; do
    n=$((n + 1)); [ $n -lt 90 ] || { echo "error $ip never served /web/login"; exit 3; }; sleep 1
  done
  echo "host $ip $(curl -s -o /dev/null -m 5 -D - "http://$ip:8069/web/health" \
    | sed -n 's/^[Xx]-[Ss]tandin-[Hh]ost: *//p' | tr -d '\r')"
done
login() {  # login IP NAME: POST /web/login, prints "NAME <code>", leaves the session id in /tmp/sid_NAME
  code=$(curl -s -o /dev/null -m 10 -D "/tmp/h_$2" -w '%{http_code}' \
    --data-urlencode login=admin --data-urlencode "password=$ADMIN_PASSWORD" "http://$1:8069/web/login")
  sed -n 's/^[Ss]et-[Cc]ookie: session_id=\([^;]*\).*/\1/p' "/tmp/h_$2" | tr -d '\r' \
    | tail -n 1 > "/tmp/sid_$2"
  echo "$2 $code $(wc -c < "/tmp/sid_$2")"
}
get() {  # get NAME IP SID PATH: prints "NAME <code> <redirect url or ->"
  out=$(curl -s -o /tmp/body -m 10 -w '%{http_code} %{redirect_url}' \
    -H "Cookie: session_id=$3" "http://$2:8069$4")
  echo "$1 $out -"
}
# Sessions: log in on a, then use that session on a and on b.
login "$a" login_a
sid=$(cat /tmp/sid_login_a)
get web_a "$a" "$sid" /web
get web_b "$b" "$sid" /web
WEB=/web
"""
    + ALTERNATING
    + r"""# Filestore: upload through a, download through a and through b, each with a session of its own
# replica (so that this part does not depend on sessions being shared).
login "$b" login_b
sid_b=$(cat /tmp/sid_login_b)
printf '%s' "$TOKEN" > /tmp/upload.txt
code=$(curl -s -o /tmp/upload.json -m 10 -w '%{http_code}' -H "Cookie: session_id=$sid" \
  -F "ufile=@/tmp/upload.txt;type=text/plain" -F model=res.partner -F id=1 \
  "http://$a:8069/web/binary/upload_attachment")
att=$(sed -n 's/.*"id": *\([0-9][0-9]*\).*/\1/p' /tmp/upload.json)
echo "upload_a $code ${att:-none}"
[ -n "$att" ] || { echo "download_a none"; echo "download_b none"; exit 0; }
for side in a b; do
  if [ $side = a ]; then ip=$a; s=$sid; else ip=$b; s=$sid_b; fi
  code=$(curl -s -o /tmp/download -m 10 -w '%{http_code}' -H "Cookie: session_id=$s" \
    "http://$ip:8069/web/content/$att")
  if [ "$(cat /tmp/download)" = "$TOKEN" ]; then same=same; else same=other; fi
  echo "download_$side $code $same"
done
"""
)


def exchange(client: docker.DockerClient, site: Site, service: str, run_id: str) -> dict[str, list[str]]:
    """Run EXCHANGE against `service` in a one-off task on the site's network; its output by key."""
    token = f"seed-{run_id}-{uuid.uuid4().hex}"
    task = replace(
        render_probe_task(spec_for(site), run_id),
        command=["sh", "-c", EXCHANGE],
        env={"SVC": service, "TOKEN": token, "ADMIN_PASSWORD": reveal(site.admin_password)},
    )
    code, lines = run_one_off(client, task, 180, print)
    out: dict[str, list[str]] = {}
    for line in lines:
        key, *rest = line.split() or [""]
        if key == "host" and rest:
            out[f"host {rest[0]}"] = rest[1:] or [""]
        elif key:
            out[key] = rest
    if code != 0:  # no two tasks, or they never served the login page: nothing to judge
        pytest.fail(
            f"the exchange with {service} failed ({code}):\n" + "\n".join(lines) + tail(client, service)
        )
    return out


def tail(client: docker.DockerClient, service: str, n: int = 30) -> str:
    return f"\n--- last lines of {service} ---\n" + "\n".join(ops.service_logs(client, service)[-n:])


def task_nodes(client: docker.DockerClient, service: str, network: str) -> dict[str, str]:
    """Task IP on the site's network -> hostname of the node the task runs on."""
    hostnames = {n.id: n.attrs["Description"]["Hostname"] for n in client.nodes.list()}
    found = {}
    for task in ops.tasks(client, service):
        if task["Status"]["State"] != "running":
            continue
        for att in task.get("NetworksAttachments") or []:
            if att["Network"]["Spec"]["Name"] == network:
                for addr in att.get("Addresses") or []:
                    found[addr.partition("/")[0]] = hostnames[task["NodeID"]]
    return found


def two_nodes(client: docker.DockerClient, service: str, network: str, out: dict[str, list[str]]) -> None:
    """The exchange talked to exactly the two tasks of `service`, on two different nodes."""
    nodes = task_nodes(client, service, network)
    ips = out["ips"]
    assert len(ips) == 2 and set(ips) == set(nodes), (ips, nodes)
    assert nodes[ips[0]] != nodes[ips[1]], f"both replicas of {service} ran on {nodes[ips[0]]}"
    hosts = {out[f"host {ip}"][0] for ip in ips}
    assert len(hosts) == 2, hosts  # two containers answered (X-Standin-Host)


def spread(client: docker.DockerClient, name: str) -> None:
    """Swarm spreads a new service's replicas over nodes by itself; should it ever put both on one
    node, allow one per node (placement only: nothing about sessions or the filestore)."""
    running = [t for t in ops.tasks(client, name) if t["Status"]["State"] == "running"]
    if len({t["NodeID"] for t in running}) == len(running):
        return
    print(f"{name}: both replicas on one node; setting max replicas per node to 1")
    since = time.time()
    service = client.services.get(name)
    service.update(maxreplicas=1)
    ops.wait_converged(
        client, name, since=dt.datetime.fromtimestamp(since, dt.UTC), deadline_s=120, log=print
    )


def without_fixes(spec: SiteSpec, odoo: ServiceSpec) -> ServiceSpec:
    """The panel's Odoo service run the naive way: no session_redis (file sessions), and the data
    dir on a named volume, which Swarm creates on each node where a task lands (not shared)."""
    labels = {"panel.site": spec.slug, "panel.role": "nofix", TEST_LABEL: "seed-failures"}
    args = ["--load=base,web" if a.startswith("--load=") else a for a in odoo.args]
    assert args != odoo.args and "session_redis" not in " ".join(args)
    return replace(
        odoo,
        name=f"{spec.slug}_nofix",
        role="nofix",
        args=args,
        env={k: v for k, v in odoo.env.items() if not k.startswith("ODOO_SESSION_REDIS")},
        mounts=[Mount(target=spec.data_dir, source=f"{spec.slug}_nofix_data", type="volume", labels=labels)],
        networks=[spec.network_name],
        labels={**labels, "traefik.enable": "false"},
        container_labels=labels,
    )


def test_login_loop_and_missing_file_without_the_fixes_and_not_with_them(lab, transactional_db, monkeypatch):  # type: ignore[no-untyped-def]
    client = docker.DockerClient(base_url=lab.manager_socket)
    cluster = Cluster.objects.create(name="lab-seed", endpoint=lab.manager_socket, is_lab=True)
    site = new_lab_site(lab, client, cluster, replicas=2)
    try:
        # Fixed: the site as the panel deploys it.
        job = run_inline(monkeypatch, "deploy", site)
        assert job.state == "succeeded", job.error + log_text(job)[-3000:]
        site.refresh_from_db()
        spec = spec_for(site)
        odoo = render(spec).service("odoo")
        spread(client, odoo.name)
        fixed = exchange(client, site, odoo.name, "seedfixed")
        two_nodes(client, odoo.name, spec.network_name, fixed)

        # Broken: the same service without session_redis and without a shared filestore.
        nofix = swarm_secrets.resolved(client, without_fixes(spec, odoo))  # the engine takes secret ids
        since = time.time()
        client.services.create(**to_create_kwargs(nofix), maxreplicas=1)
        ops.wait_converged(
            client, nofix.name, since=dt.datetime.fromtimestamp(since, dt.UTC), deadline_s=120, log=print
        )
        broken = exchange(client, site, nofix.name, "seedbroken")
        two_nodes(client, nofix.name, spec.network_name, broken)

        def report() -> str:
            return f"\nfixed: {fixed}\nbroken: {broken}" + tail(client, odoo.name) + tail(client, nofix.name)

        # Without the fixes. The login works on replica a and the session is good there...
        assert broken["login_a"][:1] == ["303"] and broken["web_a"][:1] == ["200"], report()
        # ...but replica b has no such session file: back to the login page (the login loop).
        assert broken["web_b"][0] == "303" and broken["web_b"][1].endswith("/web/login"), report()
        # A file uploaded through a is served by a; b has the attachment row but not the file: 500.
        assert broken["upload_a"][0] == "200" and broken["download_a"] == ["200", "same"], report()
        assert broken["download_b"][0] == "500", report()

        # The panel's site: the session made on a is good on b (session_redis)...
        assert fixed["login_a"][:1] == ["303"] and fixed["web_a"][:1] == ["200"], report()
        assert fixed["web_b"][0] == "200" and fixed["alternating"] == ["20"], report()
        # ...and b serves the same bytes as a (the filestore is mounted on every replica).
        assert fixed["upload_a"][0] == "200" and fixed["download_a"] == ["200", "same"], report()
        assert fixed["download_b"] == ["200", "same"], report()
    finally:
        remove_site_objects(client, site.slug, lab)
        client.close()


def test_a_19_site_shares_logins_through_session_db_on_two_nodes(lab, transactional_db, monkeypatch):  # type: ignore[no-untyped-def]
    """Odoo 19 has no session_redis: a 19 site keeps its sessions in its own database (OCA session_db,
    carried by the image as an addon folder); a login made on one replica holds on the other."""
    client = docker.DockerClient(base_url=lab.manager_socket)
    cluster = Cluster.objects.create(name="lab-seed19", endpoint=lab.manager_socket, is_lab=True)
    site = new_lab_site(lab, client, cluster, replicas=2, image="odoo19")
    try:
        job = run_inline(monkeypatch, "deploy", site)
        assert job.state == "succeeded", job.error + log_text(job)[-3000:]
        site.refresh_from_db()
        spec = spec_for(site)
        assert (spec.series, spec.sessions) == ("19.0", "session_db")
        odoo = render(spec).service("odoo")
        spread(client, odoo.name)
        out = exchange(client, site, odoo.name, "seed19")
        two_nodes(client, odoo.name, spec.network_name, out)
        report = f"\n{out}" + tail(client, odoo.name)
        assert out["login_a"][:1] == ["303"] and out["web_a"][:1] == ["200"], report
        assert out["web_b"][0] == "200" and out["alternating"] == ["20"], report
        assert out["download_b"] == ["200", "same"], report
    finally:
        remove_site_objects(client, site.slug, lab)
        client.close()
