"""Options from the command line, the config file and the official image's environment.

Precedence as in Odoo (odoo/tools/config.py): command line over the `[options]` section of the config
file (-c, else $ODOO_RC). The official image's entrypoint turns HOST/PORT/USER/PASSWORD into --db_*
flags unless the config file sets them; here they fill whatever is still unset.
"""

import argparse
import configparser
import logging
import os
from dataclasses import dataclass, field

from . import MAJOR, SERIES

_logger = logging.getLogger("odoo.tools.config")

# Odoo's own addons: in an image where the official image keeps them (ODOO_STANDIN_CORE_ADDONS),
# run from the repository next to this package.
CORE_ADDONS = os.environ.get("ODOO_STANDIN_CORE_ADDONS") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "core_addons"
)

# INI key -> attribute; legacy names mapped like Odoo's outdated_options_map.
FILE_KEYS = {
    "db_host": "db_host",
    "db_port": "db_port",
    "db_user": "db_user",
    "db_password": "db_password",
    "db_name": "db_name",
    "dbfilter": "dbfilter",
    "addons_path": "addons_path",
    "data_dir": "data_dir",
    "server_wide_modules": "server_wide_modules",
    "http_port": "http_port",
    "xmlrpc_port": "http_port",
    "http_interface": "http_interface",
    "xmlrpc_interface": "http_interface",
    "http_enable": "http_enable",
    "xmlrpc": "http_enable",
    "gevent_port": "gevent_port",
    "longpolling_port": "gevent_port",
    "workers": "workers",
    "max_cron_threads": "max_cron_threads",
    "without_demo": "without_demo",
    "log_level": "log_level",
}


CLI_KEYS = [
    *("db_host", "db_port", "db_user", "db_password", "db_name", "dbfilter", "addons_path", "data_dir"),
    *("server_wide_modules", "http_port", "http_interface", "http_enable", "gevent_port", "workers"),
    *("max_cron_threads", "without_demo", "log_level"),
]


@dataclass
class Config:
    rcfile: str = ""
    db_host: str | None = None
    db_port: str | None = None
    db_user: str | None = None
    db_password: str | None = None
    db_name: str = ""
    dbfilter: str = ""
    addons_path: list[str] = field(default_factory=list)
    data_dir: str = os.path.expanduser("~/.local/share/Odoo")
    # 19 adds rpc (XML/JSON-RPC) to the defaults.
    server_wide_modules: list[str] = field(
        default_factory=lambda: ["base", "rpc", "web"] if MAJOR >= 19 else ["base", "web"]
    )
    http_port: int = 8069
    http_interface: str = ""
    http_enable: bool = True
    gevent_port: int = 8072
    workers: int = 0
    max_cron_threads: int = 2
    without_demo: str | bool = False
    with_demo: bool = False  # 19: demo data is off unless --with-demo
    log_level: str = "info"
    stop_after_init: bool = False
    init: dict[str, int] = field(default_factory=dict)
    update: dict[str, int] = field(default_factory=dict)

    @property
    def db_names(self) -> list[str]:
        return [d for d in self.db_name.split(",") if d] if self.db_name else []

    @property
    def session_dir(self) -> str:
        return os.path.join(self.data_dir, "sessions")

    def filestore(self, db: str) -> str:
        return os.path.join(self.data_dir, "filestore", db)

    @property
    def all_addons_paths(self) -> list[str]:
        # Odoo's odoo.addons.__path__ order: the root addons first, then data_dir/addons/<series>,
        # then addons_path; the first directory holding a module wins.
        paths = [CORE_ADDONS]
        downloaded = os.path.join(self.data_dir, "addons", SERIES)
        if os.access(downloaded, os.R_OK):
            paths.append(downloaded)
        return paths + [p for p in self.addons_path if p not in paths]


class UsageError(Exception):
    """A bad option value: Odoo's optparse prints it and exits 2."""


def _is_addons_path(path: str) -> bool:
    return any(
        os.path.isfile(os.path.join(path, name, "__manifest__.py"))
        for name in os.listdir(path)
        if os.path.isdir(os.path.join(path, name))
    )


def _check_addons_path(value: str) -> list[str]:
    # Only --addons-path on the command line is validated (config.py _check_addons_path).
    paths = []
    for path in value.split(","):
        res = os.path.abspath(os.path.expanduser(path.strip()))
        if not os.path.isdir(res):
            raise UsageError(f"option --addons-path: no such directory: {res!r}")
        if not _is_addons_path(res):
            raise UsageError(
                f"option --addons-path: the path {path.strip()!r} is not a valid addons directory"
            )
        paths.append(res)
    return paths


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # optparse's exit: status 2 with the usage line
        raise UsageError(message)


# Options of real Odoo the panel or a user may pass and the stand-in has no use for: accepted and
# ignored, so that only a name real Odoo lacks fails (optparse: `no such option`, exit 2).
_IGNORED_WITH_VALUE = (
    *("--pidfile", "--db_sslmode", "--db_maxconn", "--db-template", "--pg_path", "--logfile"),
    *("--log-handler", "--log-db", "--log-db-level", "--email-from", "--smtp", "--smtp-port"),
    *("--smtp-user", "--smtp-password", "--load-language", "--limit-memory-soft", "--limit-memory-hard"),
    *("--limit-time-cpu", "--limit-time-real", "--limit-time-real-cron", "--limit-request"),
    *("--osv-memory-count-limit", "--transient-age-limit", "--dev", "--shell-interface", "-l"),
    *("--language", "--i18n-export", "--i18n-import", "--modules", "--test-tags", "--screencasts"),
    *("--screenshots", "--geoip-city-db", "--geoip-country-db", "--upgrade-path", "--pre-upgrade-scripts"),
    "--db_replica_host",
    "--db_replica_port",
)
_IGNORED_FLAGS = (
    *("--no-database-list", "--proxy-mode", "--x-sendfile", "--logrotate", "--syslog", "--smtp-ssl"),
    *("--test-enable", "--i18n-overwrite", "--unaccent", "-s", "--save", "--log-request"),
    *("--log-response", "--log-web", "--log-sql"),
)


def _parser() -> argparse.ArgumentParser:
    """Odoo's optparse options for the series imitated: 19 dropped the xmlrpc and
    longpolling aliases and added --with-demo."""
    p = _Parser(prog="odoo", allow_abbrev=True, add_help=True, description="Odoo stand-in (lab fixture)")
    a = p.add_argument
    old = MAJOR < 19
    a("-c", "--config", dest="config")
    a("-d", "--database", dest="db_name")
    a("-i", "--init", dest="init")
    a("-u", "--update", dest="update")
    a("--stop-after-init", action="store_true", dest="stop_after_init")
    a("--no-http", *(["--no-xmlrpc"] if old else []), action="store_false", dest="http_enable", default=None)
    a("--addons-path", dest="addons_path")
    a("--db_host", dest="db_host")
    a("--db_port", dest="db_port")
    a("-r", "--db_user", dest="db_user")
    a("-w", "--db_password", dest="db_password")
    a("--db-filter", dest="dbfilter")
    a("--load", dest="server_wide_modules")
    a("-D", "--data-dir", dest="data_dir")
    a("-p", "--http-port", *(["--xmlrpc-port"] if old else []), dest="http_port", type=int)
    a("--http-interface", *(["--xmlrpc-interface"] if old else []), dest="http_interface")
    a("--gevent-port", *(["--longpolling-port"] if old else []), dest="gevent_port", type=int)
    a("--workers", dest="workers", type=int)
    a("--max-cron-threads", dest="max_cron_threads", type=int)
    # 16/17 take a value (--without-demo=all); 19 makes it an optional bool.
    a("--without-demo", dest="without_demo", nargs="?", const="all")
    if not old:
        a("--with-demo", dest="with_demo", action="store_true")
    a("--log-level", dest="log_level")
    for name in _IGNORED_WITH_VALUE:
        a(name, dest=f"ignored_{name.strip('-')}")
    for name in _IGNORED_FLAGS:
        a(name, action="store_true", dest=f"ignored_{name.strip('-')}")
    return p


def _file_value(value: str) -> str | bool | None:
    # Odoo's config loader: "True"/"False"/"None" are literals, everything else a string.
    if value in ("True", "true"):
        return True
    if value in ("False", "false"):
        return False
    if value == "None":
        return None
    return value


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _apply(cfg: Config, key: str, value, from_file: bool) -> None:
    if value is None:
        return
    if key == "addons_path":
        if value is False:
            return
        value = _check_addons_path(value) if not from_file else [os.path.abspath(p) for p in _split(value)]
    elif key == "server_wide_modules":
        value = _split(value) if value else []
    elif key in ("http_port", "gevent_port", "workers", "max_cron_threads"):
        value = int(value)
    elif key == "http_enable":
        value = bool(value)
    elif key in ("db_host", "db_port", "db_user", "db_password", "db_name", "dbfilter") and value is False:
        return
    setattr(cfg, key, value)


def _modules_dict(value: str | None) -> dict[str, int]:
    # config.py: dict.fromkeys(opt.update.split(','), 1): names are not stripped.
    if not value:
        return {}
    names = dict.fromkeys(value.split(","), 1)
    if MAJOR >= 19 and "all" in names:
        # 19: `-u all` is rewritten into an update of base, which cascades.
        names.pop("all")
        names["base"] = 1
    return names


def parse(argv: list[str]) -> Config:
    if argv and argv[0] == "server":  # `odoo server ...` is the default command
        argv = argv[1:]
    opts, leftover = _parser().parse_known_args(argv)
    for arg in leftover:
        if arg.startswith("-"):  # optparse: "no such option: --name" (exit 2)
            raise UsageError(f"no such option: {arg.split('=')[0]}")
    cfg = Config()
    cfg.rcfile = os.path.abspath(opts.config or os.environ.get("ODOO_RC") or os.path.expanduser("~/.odoorc"))
    parser = configparser.ConfigParser(interpolation=None)
    parser.read([cfg.rcfile])
    if parser.has_section("options"):
        for name, raw in parser.items("options"):
            if name in FILE_KEYS:
                _apply(cfg, FILE_KEYS[name], _file_value(raw), from_file=True)
    for key in CLI_KEYS:
        _apply(cfg, key, getattr(opts, key), from_file=False)
    for key, env in (
        ("db_host", "HOST"),
        ("db_port", "PORT"),
        ("db_user", "USER"),
        ("db_password", "PASSWORD"),
    ):
        if getattr(cfg, key) in (None, "") and os.environ.get(env):
            setattr(cfg, key, os.environ[env])
    cfg.stop_after_init = opts.stop_after_init
    cfg.with_demo = bool(getattr(opts, "with_demo", False))
    cfg.init = _modules_dict(opts.init)
    cfg.update = _modules_dict(opts.update)
    cfg.data_dir = os.path.abspath(os.path.expanduser(cfg.data_dir))
    return cfg
