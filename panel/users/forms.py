"""Forms of the users page. Passwords go through Django's validators (settings
AUTH_PASSWORD_VALIDATORS) and are typed twice; they never reach the audit log."""

from django import forms
from django.contrib.auth.forms import UserCreationForm

from panel.roles import ROLES

ROLE_CHOICES = [(role, role.capitalize()) for role in ROLES]


class NewUserForm(UserCreationForm):
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial="viewer", help_text="What this user may do.")


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class ActiveForm(forms.Form):
    active = forms.TypedChoiceField(choices=[("1", "active"), ("0", "inactive")], coerce=lambda v: v == "1")
