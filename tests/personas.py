"""One user per role, plus a logged-in client for each (healthchecks' alice/bob/charlie idea)."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.test import Client

from panel.roles import ROLES, assign_role, ensure_role_groups

PASSWORD = "correct horse battery staple"
NAMES = {"viewer": "alice", "operator": "bob", "approver": "carol", "admin": "dave"}


@dataclass
class Personas:
    users: dict
    clients: dict

    def client(self, role: str | None) -> Client:
        return self.clients[role]


def make_personas() -> Personas:
    ensure_role_groups()
    User = get_user_model()
    users, clients = {}, {None: Client()}
    for role in ROLES:
        user = User.objects.create_user(NAMES[role], password=PASSWORD)
        assign_role(user, role)
        users[role] = user
        client = Client()
        client.force_login(user)
        clients[role] = client
    return Personas(users=users, clients=clients)
