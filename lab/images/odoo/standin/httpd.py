"""The HTTP routes the lab needs, with Odoo 17's observable behaviour (odoo/http.py, addons/web).

- /web/health: 200 {"status": "pass"}, no session saved; like every route it opens the registry of the
  database the request serves (the only one the filter lets through), so a server started without -d
  loads its registry at the first health check; ?db_server_status also checks the connection.
- /web/login, /web, /web/session/logout: session cookie `session_id`; 303 redirects like Odoo's
  request.redirect. A session unknown to this replica's store is a new anonymous session, which is
  what turns two replicas with file sessions into an endless redirect back to the login page.
- /web/binary/upload_attachment and /web/content/<id>: files in data_dir/filestore/<db>/<sha[:2]>/<sha>;
  a file missing from this replica's disk is a 500, as in Odoo (Stream.from_attachment os.stat).
Every response carries X-Standin-Host (socket.gethostname()) so tests can tell replicas apart, and
X-Standin-Port (the port that answered: 8069, or the gevent port 8072 with workers) so they can tell
which of a replica's ports a proxy sent the request to.
"""

import hashlib
import html
import json
import logging
import os
import re
import socket
import time
from email import policy
from email.parser import BytesParser
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from . import MAJOR, loading, log, passwords, pg
from .sessions import SESSION_LIFETIME, BrokenStore, ServerWide

_logger = logging.getLogger("odoo.http")
_werkzeug = logging.getLogger("werkzeug")

HOSTNAME = socket.gethostname()
WEBCLIENT = "/odoo" if MAJOR >= 18 else "/web"  # 18 moved the web client to /odoo


class Response:
    def __init__(self, body: bytes | str = b"", status: int = 200, ctype: str = "text/html; charset=utf-8"):
        self.body = body.encode() if isinstance(body, str) else body
        self.status = status
        self.headers: list[tuple[str, str]] = [("Content-Type", ctype)]


def redirect(location: str, code: int = 303) -> Response:
    resp = Response(f'<a href="{html.escape(location)}">{html.escape(location)}</a>', code)
    resp.headers.append(("Location", location))
    return resp


def redirect_query(location: str, query: dict, code: int = 303) -> Response:
    return redirect(location + ("?" + urlencode(query) if query else ""), code)


def _page(title: str, body: str, status: int = 200) -> Response:
    return Response(
        f"<!DOCTYPE html><html><head><title>{html.escape(title)}</title></head><body>{body}"
        f"<p><small>Odoo stand-in on {html.escape(HOSTNAME)}</small></p></body></html>",
        status,
    )


def db_filter(cfg, dbs: list[str], host: str) -> list[str]:
    """http.db_filter: dbfilter (%h = host, %d = first label) else the -d/db_name list."""
    if cfg.dbfilter:
        host = host.partition(":")[0]
        if host.startswith("www."):
            host = host[4:]
        domain = host.partition(".")[0]
        pattern = re.compile(cfg.dbfilter.replace("%h", re.escape(host)).replace("%d", re.escape(domain)))
        return [db for db in dbs if pattern.match(db)]
    if cfg.db_name:
        return sorted(set(cfg.db_names) & set(dbs))
    return list(dbs)


class Request:
    def __init__(self, handler: "Handler", method: str, body: bytes):
        self.handler, self.method = handler, method
        url = urlsplit(handler.path)
        self.path, self.full_path = url.path, handler.path
        self.params: dict[str, str] = dict(parse_qsl(url.query))
        self.files: list[tuple[str, str, bytes]] = []  # (filename, content type, data) of `ufile`
        self.body = body
        ctype = handler.headers.get("Content-Type", "")
        if method == "POST" and ctype.startswith("application/x-www-form-urlencoded"):
            self.params.update(parse_qsl(body.decode("utf-8", "replace")))
        elif method == "POST" and ctype.startswith("multipart/form-data"):
            msg = BytesParser(policy=policy.HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + body)
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                data = part.get_payload(decode=True) or b""
                if part.get_filename() is not None:
                    self.files.append((part.get_filename(), part.get_content_type(), data))
                elif name:
                    self.params[name] = data.decode("utf-8", "replace")
        cookie = SimpleCookie(handler.headers.get("Cookie", ""))
        self.cookie_sid = cookie["session_id"].value if "session_id" in cookie else None
        self.host = handler.headers.get("Host", "")
        self.session = None
        self.db: str | None = None


class App:
    def __init__(self, cfg, store, server_wide: ServerWide | None = None):
        self.cfg, self.store = cfg, store
        self.server_wide = server_wide or ServerWide()
        self.routes = [
            (re.compile(r"^/$"), self.index),
            (re.compile(r"^/web/login$"), self.login),
            (re.compile(r"^(?:/web|/web/|/odoo)$"), self.webclient),
            (re.compile(r"^/web/session/logout$"), self.logout),
            (re.compile(r"^/web/binary/upload_attachment$"), self.upload_attachment),
            (re.compile(r"^/web/content/(\d+)(?:/[^/]*)?$"), self.content),
        ]

    # -- sessions and databases (http.Request._get_session_and_dbname) ----------------------------
    def open_session(self, req: Request) -> None:
        session = self.store.get(req.cookie_sid) if req.cookie_sid else self.store.new()
        if session.get("db") and db_filter(self.cfg, [session["db"]], req.host):
            db = session["db"]
        else:  # monodb: the only database this server exposes
            dbs = db_filter(self.cfg, pg.list_dbs(self.cfg), req.host)
            db = dbs[0] if len(dbs) == 1 else None
        if session.get("db") != db:
            if session.get("db"):
                _logger.warning(
                    "Logged into database %r, but dbfilter rejects it; logging session out.", session["db"]
                )
                session.logout()
            session["db"] = db
        session.is_dirty = False  # setting the database alone does not save the session
        req.session, req.db = session, db

    def close_session(self, req: Request, resp: Response) -> None:
        session = req.session
        if session.should_rotate:
            self.store.rotate(session)
        elif session.is_dirty:
            self.store.save(session)
        if session.sid != req.cookie_sid:
            resp.headers.append(
                ("Set-Cookie", f"session_id={session.sid}; Max-Age={SESSION_LIFETIME}; HttpOnly; Path=/")
            )

    def registry(self, db: str) -> None:
        if loading.registry_status(self.cfg, db) != "ready":
            raise RuntimeError(f"Database {db} not initialized")

    def open_monodb(self, req: Request) -> None:
        """A route that keeps no session still runs on the database the request serves, and opens
        its registry first (http.Request._serve_db): the one database the filter lets through. So a
        server started without -d (a web replica with --db-filter only) loads its registry at the
        first health check, logging what a plain boot logs, and a registry that cannot load answers
        500 there too. PostgreSQL unreachable: no database (db_list answers []), health passes. The
        lab's health checks time out after 3 s, and a task on a node new to the overlay cannot reach
        the database for some seconds: the list is asked with libpq's shortest connect timeout, 2 s."""
        try:
            dbs = db_filter(self.cfg, pg.list_dbs(self.cfg, timeout=2), req.host)
            # A database another process is still initializing (the cron's -d on a new site) is
            # left alone: opening it would wait on that transaction's locks past the health check's
            # timeout. Real Odoo answers 500 there ("not initialized"); until the panel initializes
            # a new database before starting replicas, the stand-in lets the health check pass.
            ready = len(dbs) == 1 and pg.has_modules_table(self.cfg, dbs[0], timeout=2)
        except pg.Error:
            return
        if ready:
            log.set_db(dbs[0])  # cleared by Handler once the request is logged
            self.registry(dbs[0])

    def uid(self, req: Request) -> int | None:
        """The session's user if it still exists in its database (security.check_session)."""
        uid = req.session.uid
        if not uid or not req.db:
            return None
        self.registry(req.db)
        with pg.Cursor(self.cfg, req.db) as cr:
            cr.execute("SELECT 1 FROM res_users WHERE id = %s AND active", (uid,))
            if cr.fetchone():
                return uid
        req.session.logout()
        return None

    # -- routes -------------------------------------------------------------------------------------
    def index(self, req: Request) -> Response:
        return redirect_query(WEBCLIENT, req.params)

    def login(self, req: Request) -> Response:
        if not req.db:
            return redirect("/web/database/selector")
        self.registry(req.db)
        target = req.params.get("redirect")
        if req.method == "GET" and target and self.uid(req):
            return redirect(target)
        error = ""
        if req.method == "POST":
            with pg.Cursor(self.cfg, req.db) as cr:
                cr.execute(
                    "SELECT id, password FROM res_users WHERE login = %s AND active",
                    (req.params.get("login", ""),),
                )
                row = cr.fetchone()
            if row and passwords.verify(req.params.get("password", ""), row[1]):
                req.session.authenticate(req.db, req.params["login"], row[0])
                return redirect(target or WEBCLIENT)
            error = '<p class="alert alert-danger">Wrong login/password</p>'
        return _page(
            "Login",
            f'{error}<form method="post" action="/web/login"><input name="login"/>'
            '<input name="password" type="password"/><input type="hidden" name="csrf_token" value=""/>'
            f'<input type="hidden" name="redirect" value="{html.escape(target or "")}"/>'
            '<button type="submit">Log in</button></form>',
        )

    def webclient(self, req: Request) -> Response:
        if not req.db:
            return redirect("/web/database/selector")
        if not self.uid(req):
            return redirect_query("/web/login", req.params)
        if req.params.get("redirect"):
            return redirect(req.params["redirect"])
        user = html.escape(str(req.session.get("login")))
        return _page("Odoo", f"<h1>Odoo stand-in</h1><p>Database {html.escape(req.db)}, user {user}.</p>")

    def logout(self, req: Request) -> Response:
        req.session.logout()
        return redirect(req.params.get("redirect") or WEBCLIENT)

    def upload_attachment(self, req: Request) -> Response:
        if req.method != "POST":
            return _page("Method Not Allowed", "<h1>Method Not Allowed</h1>", 405)
        if not self.uid(req):  # auth='user': an expired session is sent to the login page
            return redirect_query("/web/login", {"redirect": req.full_path})
        files = req.files or [
            (
                req.params.get("name", "upload.bin"),
                req.handler.headers.get("Content-Type", "application/octet-stream"),
                req.body,
            )
        ]
        out = []
        for filename, mimetype, data in files:
            sha = hashlib.sha1(data, usedforsecurity=False).hexdigest()
            store_fname = f"{sha[:2]}/{sha}"  # ir.attachment._file_write
            full = os.path.join(self.cfg.filestore(req.db), store_fname)
            if not os.path.exists(full):
                os.makedirs(os.path.dirname(full), exist_ok=True)
                with open(full, "wb") as f:
                    f.write(data)
            res_id = int(req.params.get("id") or 0)
            with pg.Cursor(self.cfg, req.db) as cr:
                cr.execute(
                    "INSERT INTO ir_attachment (name, res_model, res_id, store_fname, checksum, file_size, "
                    "mimetype) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (filename, req.params.get("model"), res_id, store_fname, sha, len(data), mimetype),
                )
                att_id = cr.fetchone()[0]
                cr.commit()
            out.append({"filename": filename, "mimetype": mimetype, "id": att_id, "size": len(data)})
        return Response(json.dumps(out), ctype="application/json")

    def content(self, req: Request, att_id: str) -> Response:
        if not req.db:
            return _page("Not Found", "<h1>Not Found</h1>", 404)
        uid = self.uid(req)
        with pg.Cursor(self.cfg, req.db) as cr:
            cr.execute(
                "SELECT name, store_fname, mimetype, public FROM ir_attachment WHERE id = %s", (int(att_id),)
            )
            row = cr.fetchone()
        if not row or not (row[3] or uid):
            return _page("Not Found", "<h1>Not Found</h1>", 404)
        name, store_fname, mimetype, _public = row
        path = os.path.join(os.path.abspath(self.cfg.filestore(req.db)), store_fname)
        os.stat(path)  # a file missing on this replica's disk raises: 500, as in Odoo
        with open(path, "rb") as f:
            resp = Response(f.read(), ctype=mimetype or "application/octet-stream")
        disposition = "attachment" if req.params.get("download") else "inline"
        resp.headers.append(("Content-Disposition", f"{disposition}; filename*=UTF-8''{quote(name or '')}"))
        return resp

    def health(self, req: Request) -> Response:
        info: dict = {"status": "pass"}
        status = 200
        if req.params.get("db_server_status"):
            try:
                pg.connect(self.cfg, "postgres").close()
                info["db_server_status"] = True
            except pg.Error:
                info.update(db_server_status=False, status="fail")
                status = 500
        resp = Response(json.dumps(info), status, "application/json")
        resp.headers.append(("Cache-Control", "no-store"))
        return resp

    def dispatch(self, req: Request) -> Response:
        # A registry that failed to load (broken code) is loaded again by each request, which fails
        # again: every request answers 500, /web/health included (seen on real 19).
        for db in loading.failed_registries():
            self.registry(db)
        if isinstance(self.store, BrokenStore):  # the store is used before any route (g log)
            self.store.new()
        if req.path == "/web/health":  # auth='none', save_session=False
            self.open_monodb(req)
            return self.health(req)
        if MAJOR >= 19 and self.server_wide.failed:
            # 19's asset loader treats server-wide modules as installed: every page 500s.
            raise RuntimeError(
                f"server-wide module(s) {', '.join(self.server_wide.failed)} not found on the addons path"
            )
        self.open_session(req)
        log.set_db(req.db)  # cleared by Handler once the request is logged
        for pattern, endpoint in self.routes:
            match = pattern.match(req.path)
            if match:
                resp = endpoint(req, *match.groups())
                break
        else:
            resp = _page("404: Not Found", "<h1>404: Not Found</h1>", 404)
        self.close_session(req, resp)
        return resp


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OdooStandin/1.0"
    app: App  # set on the server's subclass

    def _handle(self, method: str) -> None:
        t0 = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            resp = self.app.dispatch(Request(self, method, body))
        except Exception:
            _logger.exception("Exception during request handling.")
            resp = _page("500: Internal Server Error", "<h1>Internal Server Error</h1>", 500)
        # Logged before the response leaves: a client's next request can then never log its lines
        # ahead of this one's (real Odoo's log reads error, access line, error, access line).
        _werkzeug.info(
            '%s - - [%s] "%s" %s -',
            self.address_string(),
            self.log_date_time_string(),
            self.requestline,
            resp.status,
            extra={"perf_info": f"0 0.000 {time.time() - t0:.3f}"},
        )
        self.send_response_only(resp.status)
        for key, value in [
            *resp.headers,
            ("Content-Length", str(len(resp.body))),
            ("X-Standin-Host", HOSTNAME),
            ("X-Standin-Port", str(self.server.server_address[1])),
        ]:
            self.send_header(key, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(resp.body)
        log.set_db(None)

    def do_GET(self):  # noqa: N802
        self._handle("GET")

    def do_HEAD(self):  # noqa: N802
        self._handle("HEAD")

    def do_POST(self):  # noqa: N802
        self._handle("POST")

    def log_message(self, format, *args):  # noqa: A002
        pass  # requests are logged by _handle in werkzeug's format


class Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


def serve(cfg, store, port: int, server_wide: ServerWide | None = None) -> Server:
    handler = type("BoundHandler", (Handler,), {"app": App(cfg, store, server_wide)})
    return Server((cfg.http_interface or "0.0.0.0", port), handler)  # noqa: S104
