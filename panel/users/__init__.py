"""Users and their roles: the admin page and the one set of functions it and `manage.py users` share."""
