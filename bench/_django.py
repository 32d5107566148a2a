"""Django for the benchmarks: a PostgreSQL database of their own, migrated, and a viewer logged in.

Each benchmark measures in a database of its own (`fresh_database`, or `use_database` for one it
keeps between runs), never in the panel's, and pages are opened as a viewer (`viewer_client`): the
role that may see every page.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import psycopg

from bench._run import ROOT, CannotMeasure

ADMIN_URL = os.environ.get("PANEL_BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def use_database(url: str) -> None:
    """Point Django at the database at `url` and migrate it."""
    os.environ["PANEL_DATABASE_URL"] = url
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fresh_database(name: str) -> str:
    """Drop and create `name`; point Django at it; return its URL."""
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        raise CannotMeasure(f"PostgreSQL at {ADMIN_URL} is not reachable: {exc}") from exc
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    use_database(url)
    return url


def viewer_client(username: str = "bench-viewer", password: str | None = None) -> tuple[Any, Any]:
    """A viewer and a test Client logged in as them. Without a password the user is taken as it is
    when it exists (a database kept between runs); with one, it is created."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from panel.roles import assign_role, ensure_role_groups

    ensure_role_groups()
    users = get_user_model().objects
    if password is None:
        user, _ = users.get_or_create(username=username)
    else:
        user = users.create_user(username, password=password)
    assign_role(user, "viewer")
    client = Client()
    client.force_login(user)
    return user, client
