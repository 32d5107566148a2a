"""The host rule (clusters/stack/host_access.py): whatever could reach a node's host is refused in every
ServiceSpec, with a reason; what the panel renders for its sites, in production and in the lab, passes."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from docker.types import DriverConfig, EndpointSpec, Mount

from clusters.stack import host_access
from clusters.stack.host_access import JUDGED_FIELDS, bind_path_problem, host_reach
from clusters.stack.render import ServiceSpec, render
from clusters.stack.spec import BindFilestore, NfsFilestore, SpecError, TraefikSpec
from clusters.validators import validate_nfs_options

LAB_ROOT = "/var/lib/oplab/filestore"


@pytest.fixture
def lab_odoo(make_spec: Any) -> ServiceSpec:
    spec = make_spec(cluster_mode="lab", filestore=BindFilestore(f"{LAB_ROOT}/acme"))
    return render(spec).service("odoo")


@pytest.mark.parametrize("mode", ["production", "lab"])
def test_what_the_panel_renders_passes(make_spec, mode):  # type: ignore[no-untyped-def]
    fs = BindFilestore(f"{LAB_ROOT}/acme") if mode == "lab" else NfsFilestore("10.0.0.10", "/exports/acme")
    spec = make_spec(cluster_mode=mode, filestore=fs, lab_filestore_root=LAB_ROOT if mode == "lab" else None)
    for svc in render(spec).services.values():
        assert host_reach(svc, mode, spec.lab_filestore_root) == []


def test_a_bind_mount_is_refused_outside_the_lab(lab_odoo):  # type: ignore[no-untyped-def]
    [reason] = host_reach(lab_odoo, "production")
    assert reason.startswith(f"bind mount of host folder '{LAB_ROOT}/acme' refused outside the lab")


@pytest.mark.parametrize(
    "mount, reason",
    [
        (Mount("/host", "/", type="bind"), "'/' is the host's root filesystem"),
        (Mount("/s", "/var/run/docker.sock", type="bind"), "is in /var/run, a system folder"),
        (Mount("/d", "/dev", type="bind"), "is in /dev"),
        ("/:/host:rw", "'/' is the host's root filesystem"),  # docker-py's string form is a bind too
        (
            Mount(
                "/v",
                "v1",
                type="volume",
                driver_config=DriverConfig("local", {"type": "none", "o": "bind", "device": "/"}),
            ),
            "volume 'v1' mounts '/' from the node",
        ),
        (
            Mount(
                "/v",
                "v2",
                type="volume",
                driver_config=DriverConfig("local", {"type": "ext4", "device": "/dev/sda1"}),
            ),
            "volume 'v2' mounts '/dev/sda1' from the node",
        ),
        (
            Mount(
                "/v",
                "v3",
                type="volume",
                driver_config=DriverConfig("local", {"type": "nfs", "o": "addr=h,rbind", "device": ":/x"}),
            ),
            "volume 'v3' mounts ':/x' from the node",
        ),
        (
            Mount(
                "/v", "v4", type="volume", driver_config=DriverConfig("local-persist", {"mountpoint": "/"})
            ),
            "uses driver 'local-persist'",
        ),
        (Mount("/v", "/etc", type="volume"), "volume source '/etc' is a path"),
        (Mount("/p", "//./pipe/docker_engine", type="npipe"), "mount type 'npipe'"),
    ],
)
def test_mounts_that_reach_the_host_are_refused_even_in_the_lab(lab_odoo, mount, reason):  # type: ignore[no-untyped-def]
    svc = dataclasses.replace(lab_odoo, mounts=[*lab_odoo.mounts, mount])
    assert [r for r in host_reach(svc, "lab") if reason in r]


def test_harmless_mounts_pass(lab_odoo):  # type: ignore[no-untyped-def]
    extra = [Mount("/tmp", "", type="tmpfs"), Mount("/data", "acme_data", type="volume")]
    assert host_reach(dataclasses.replace(lab_odoo, mounts=extra), "production") == []


@pytest.mark.parametrize("network", ["host", "bridge", "docker_gwbridge"])
def test_host_networks_are_refused(lab_odoo, network):  # type: ignore[no-untyped-def]
    svc = dataclasses.replace(lab_odoo, networks=[*lab_odoo.networks, network])
    assert host_reach(svc, "lab") == [f"network {network!r} is the node's own network, not an overlay"]


def test_a_port_published_on_the_node_is_refused(lab_odoo):  # type: ignore[no-untyped-def]
    svc = dataclasses.replace(lab_odoo, endpoint_spec=EndpointSpec(ports={2222: (22, "tcp", "host")}))
    assert host_reach(svc, "lab") == ["port 2222 is published on the node's own address"]


def test_a_field_the_rule_does_not_judge_is_refused(lab_odoo):  # type: ignore[no-untyped-def]
    # ServiceSpec cannot say `privileged`, capabilities or devices today; a field added for one must be
    # judged by the rule before anything renders with it.
    assert {f.name for f in dataclasses.fields(ServiceSpec)} == JUDGED_FIELDS

    @dataclasses.dataclass
    class Privileged(ServiceSpec):
        cap_add: list[str] = dataclasses.field(default_factory=lambda: ["SYS_ADMIN"])

    svc = Privileged(**{f.name: getattr(lab_odoo, f.name) for f in dataclasses.fields(ServiceSpec)})
    assert host_reach(svc, "lab") == [
        "field 'cap_add' is not judged by the host rule (clusters/stack/host_access.py)"
    ]


def test_create_kwargs_that_give_privileges_are_refused(lab_odoo, monkeypatch):  # type: ignore[no-untyped-def]
    def with_privileges(service: ServiceSpec) -> dict[str, Any]:
        return {"name": service.name, "privileges": {"Privileged": True}, "cap_add": ["ALL"]}

    monkeypatch.setattr(host_access, "to_create_kwargs", with_privileges)
    assert sorted(host_reach(lab_odoo, "lab")) == [
        "cap_add gives the container more than Docker's defaults",
        "privileges gives the container more than Docker's defaults",
    ]


@pytest.mark.parametrize(
    "path, reason",
    [
        (LAB_ROOT, f"is not a folder inside the lab's filestore root {LAB_ROOT}"),
        ("/srv/acme", f"is not a folder inside the lab's filestore root {LAB_ROOT}"),
        (f"{LAB_ROOT}-evil/acme", "is not a folder inside"),
        (f"{LAB_ROOT}/acme", None),
        (f"{LAB_ROOT}/acme/sub", None),
    ],
)
def test_the_lab_root_bounds_bind_paths_when_known(path, reason):  # type: ignore[no-untyped-def]
    problem = bind_path_problem(path, LAB_ROOT)
    assert problem is None if reason is None else reason in (problem or "")


def test_the_whole_stack_and_its_tasks_refuse_a_host_network_for_traefik(make_spec):  # type: ignore[no-untyped-def]
    with pytest.raises(SpecError, match="Traefik network 'host' is the node's own network"):
        render(make_spec(traefik=TraefikSpec(network="host")))


def test_nfs_options_cannot_turn_the_filestore_into_a_bind_mount():  # type: ignore[no-untyped-def]
    with pytest.raises(SpecError, match="may not include bind or rbind"):
        NfsFilestore("10.0.0.10", "/exports/acme", "rw,bind")
    with pytest.raises(Exception, match="may not include bind or rbind"):
        validate_nfs_options("rw,rbind")
