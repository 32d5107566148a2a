"""The stand-in's tables and `init db` (odoo/modules/db.py initialize).

ir_module_module and ir_module_module_dependency keep Odoo's stored columns (ir_module.py). The other
tables are the minimum behind the HTTP routes (users, attachments) and the cron heartbeat.
"""

import uuid

from . import manifest, passwords

DDL = """
CREATE TABLE IF NOT EXISTS ir_module_module (
    id serial PRIMARY KEY,
    name varchar NOT NULL UNIQUE,
    state varchar(16),
    latest_version varchar,
    published_version varchar,
    demo boolean DEFAULT false,
    auto_install boolean DEFAULT false,
    application boolean DEFAULT false,
    shortdesc varchar,
    summary varchar,
    author varchar,
    license varchar,
    website varchar,
    category_id integer,
    create_date timestamp DEFAULT (now() AT TIME ZONE 'UTC'),
    write_date timestamp DEFAULT (now() AT TIME ZONE 'UTC')
);
CREATE TABLE IF NOT EXISTS ir_module_module_dependency (
    id serial PRIMARY KEY,
    name varchar,
    module_id integer REFERENCES ir_module_module(id) ON DELETE CASCADE,
    auto_install_required boolean DEFAULT true
);
CREATE TABLE IF NOT EXISTS ir_config_parameter (
    id serial PRIMARY KEY,
    key varchar NOT NULL UNIQUE,
    value text NOT NULL
);
-- The password as Odoo keeps it: a pbkdf2-sha512 hash (passwords.py).
CREATE TABLE IF NOT EXISTS res_users (
    id serial PRIMARY KEY,
    login varchar NOT NULL UNIQUE,
    password varchar,
    active boolean DEFAULT true
);
CREATE TABLE IF NOT EXISTS ir_attachment (
    id serial PRIMARY KEY,
    name varchar,
    res_model varchar,
    res_id integer,
    store_fname varchar,
    checksum varchar(40),
    file_size integer,
    mimetype varchar,
    public boolean DEFAULT false,
    create_date timestamp DEFAULT (now() AT TIME ZONE 'UTC')
);
-- What `odoo neutralize` acts on (base and mail data/neutralize.sql), with Odoo's column names.
CREATE TABLE IF NOT EXISTS ir_model_data (
    id serial PRIMARY KEY,
    module varchar NOT NULL,
    name varchar NOT NULL,
    model varchar NOT NULL,
    res_id integer,
    UNIQUE (module, name)
);
CREATE TABLE IF NOT EXISTS ir_cron (
    id serial PRIMARY KEY,
    cron_name varchar NOT NULL,
    active boolean DEFAULT true,
    interval_number integer DEFAULT 1,
    interval_type varchar DEFAULT 'days'
);
CREATE TABLE IF NOT EXISTS ir_mail_server (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    smtp_host varchar,
    smtp_port integer DEFAULT 25,
    smtp_encryption varchar DEFAULT 'none',
    smtp_authentication varchar DEFAULT 'login',
    active boolean DEFAULT true
);
CREATE TABLE IF NOT EXISTS ir_act_server (
    id serial PRIMARY KEY,
    name varchar,
    state varchar,
    webhook_url varchar
);
CREATE TABLE IF NOT EXISTS mail_template (
    id serial PRIMARY KEY,
    name varchar,
    mail_server_id integer REFERENCES ir_mail_server(id) ON DELETE SET NULL
);
CREATE TABLE IF NOT EXISTS fetchmail_server (
    id serial PRIMARY KEY,
    name varchar,
    active boolean DEFAULT true
);
CREATE TABLE IF NOT EXISTS standin_cron_run (
    id serial PRIMARY KEY,
    hostname varchar NOT NULL,
    pid integer,
    thread varchar,
    ran_at timestamptz DEFAULT now()
);
"""


def is_initialized(cr) -> bool:
    cr.execute("SELECT 1 FROM information_schema.tables WHERE table_name = 'ir_module_module'")
    return cr.fetchone() is not None


def terp_values(info: dict) -> dict:
    """ir.module.module.get_values_from_terp, restricted to the stored columns kept here."""
    return {
        "shortdesc": info.get("name", ""),
        "summary": info.get("summary", ""),
        "author": info.get("author", ""),
        "license": info.get("license", "LGPL-3"),
        "website": info.get("website", ""),
        "application": bool(info.get("application", False)),
        # an empty set (auto_install=True without depends, or []) still means auto-install
        "auto_install": info.get("auto_install", False) is not False,
    }


def insert_module(cr, name: str, state: str, info: dict) -> int:
    values = terp_values(info)
    cols = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    cr.execute(
        f"INSERT INTO ir_module_module (name, state, {cols}) VALUES (%s, %s, {marks}) RETURNING id",  # noqa: S608
        [name, state, *values.values()],
    )
    return cr.fetchone()[0]


def initialize(cr, paths: list[str]) -> None:
    """Create the tables, one row per module on disk, and mark base and the auto_install chain."""
    cr.execute(DDL)
    for name in manifest.get_modules(paths):
        info = manifest.load_manifest(name, paths)  # an unreadable manifest raises, as in Odoo
        if not info:
            continue
        state = "uninstalled" if info["installable"] else "uninstallable"
        module_id = insert_module(cr, name, state, info)
        auto = info["auto_install"] or ()
        for dep in info["depends"]:
            cr.execute(
                "INSERT INTO ir_module_module_dependency (module_id, name, auto_install_required) "
                "VALUES (%s, %s, %s)",
                (module_id, dep, dep in auto),
            )
    # Same queries as odoo/modules/db.py: install every auto_install module whose required
    # dependencies are marked, with their other dependencies.
    while True:
        cr.execute(
            """SELECT m.name FROM ir_module_module m
                WHERE m.auto_install AND state NOT IN ('to install', 'uninstallable')
                  AND NOT EXISTS (SELECT 1 FROM ir_module_module_dependency d
                                    JOIN ir_module_module mdep ON (d.name = mdep.name)
                                   WHERE d.module_id = m.id AND d.auto_install_required
                                     AND mdep.state != 'to install')"""
        )
        todo = [r[0] for r in cr.fetchall()]
        cr.execute(
            """SELECT d.name FROM ir_module_module_dependency d
                 JOIN ir_module_module m ON (d.module_id = m.id)
                 JOIN ir_module_module mdep ON (d.name = mdep.name)
                WHERE (m.state = 'to install' OR m.name = ANY(%s))
                  AND NOT (mdep.state = 'to install' OR mdep.name = ANY(%s))""",
            (todo, todo),
        )
        todo.extend(r[0] for r in cr.fetchall())
        if not todo:
            break
        cr.execute("UPDATE ir_module_module SET state = 'to install' WHERE name = ANY(%s)", (todo,))
    cr.execute(
        "INSERT INTO ir_config_parameter (key, value) VALUES ('database.uuid', %s), "
        "('database.create_date', now()::text) ON CONFLICT (key) DO NOTHING",
        (str(uuid.uuid1()),),
    )
    cr.commit()


# Crons a module's data creates on install, with their XML ids (module, name): base's autovacuum is
# the one `odoo neutralize` leaves running.
MODULE_CRONS = {
    "base": [
        ("autovacuum_job", "Base: Auto-vacuum internal data"),
        ("ir_cron_res_users_deletion", "Base: Portal Users Deletion"),
    ],
    "mail": [("ir_cron_mail_scheduler_action", "Mail: Email Queue Manager")],
}


def install_module_data(cr, module: str) -> None:
    """The rows a module's data files make on install or update (crons by XML id: created once)."""
    if module == "base":
        cr.execute(DDL)  # a database made by an older stand-in gets the newer tables on `-u base`
        # base's data creates the admin user with password "admin" (CLI-created databases), kept hashed.
        cr.execute(
            "INSERT INTO res_users (login, password) VALUES ('admin', %s) ON CONFLICT (login) DO NOTHING",
            (passwords.hash_password("admin"),),
        )
    for xml_id, name in MODULE_CRONS.get(module, []):
        cr.execute("SELECT 1 FROM ir_model_data WHERE module = %s AND name = %s", (module, xml_id))
        if cr.fetchone():
            continue
        cr.execute("INSERT INTO ir_cron (cron_name) VALUES (%s) RETURNING id", (name,))
        cron_id = cr.fetchone()[0]
        cr.execute(
            "INSERT INTO ir_model_data (module, name, model, res_id) VALUES (%s, %s, 'ir.cron', %s)",
            (module, xml_id, cron_id),
        )
