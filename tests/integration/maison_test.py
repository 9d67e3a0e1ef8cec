"""maison_test: what every Maison integration test needs, stdlib only.

- Maisond: starts the real daemon on a free loopback port against
  MAISON_TEST_DATABASE_URL (set by tests/harness/with_pg.sh) with a temporary
  --data-dir, waits for GET /readyz, stops it with SIGTERM or kills it -9.
  Its HTTP shortcuts send the admin key the daemon wrote to
  <data-dir>/admin.key (key=None sends none, key="..." another one).
- request(): one HTTP request on a fresh connection, raw bytes in, status,
  headers and raw body out; stops sending a large body as soon as the server
  answers early (413 before the whole body is read).
- Every response request() receives is checked against api/openapi.yaml
  (openapi_contract.py) when MAISON_OPENAPI names it, as make check does.
- Postgres helpers: psql, a conninfo for another database, stop/start the
  test cluster.
- A tiny test runner: register functions with @test, run_tests() prints one
  "PASS name" / "FAIL name: why" line per test and a closing line exactly
  "N passed, M failed", and returns the exit status (0 only when all pass).

Exit statuses follow automake: 77 = skipped (no database to test against),
99 = hard error (the environment, not the code under test, is broken).
"""

import json
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import http.client

SKIP = 77
HARD_ERROR = 99

# ---------------------------------------------------------------- errors


class TestFailure(AssertionError):
    """A check failed; the message says what was expected and what came."""


def check(cond, message):
    if not cond:
        raise TestFailure(message)


def check_eq(got, want, what):
    if got != want:
        raise TestFailure("%s: expected %r, got %r" % (what, want, got))


# ---------------------------------------------------------------- HTTP


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers          # lower-cased name -> value
        self.body = body                # bytes

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        """The body parsed as JSON; TestFailure when it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise TestFailure("HTTP %d body is not JSON (%s): %r"
                              % (self.status, e, self.body[:300]))

    def __repr__(self):
        return "<HTTP %d %r>" % (self.status, self.body[:300])


def _encode_body(body):
    if body is None:
        return None
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


JSON_CT = "application/json"


def request(port, method, path, body=None, headers=None,
            content_type="default", timeout=30.0, host="127.0.0.1"):
    """Sends one request on a new connection and returns a Response.

    body: None, bytes/str (sent as is) or any JSON value (serialised).
    content_type: "default" sends application/json when there is a body,
    None sends no Content-Type, any other string is sent as is.
    Raises OSError/http.client errors when no response arrives at all.
    """
    data = _encode_body(body)
    hdrs = {"Host": "%s:%d" % (host, port), "Connection": "close"}
    if content_type == "default":
        if data is not None:
            hdrs["Content-Type"] = JSON_CT
    elif content_type is not None:
        hdrs["Content-Type"] = content_type
    if data is not None or method in ("POST", "PUT", "PATCH"):
        hdrs["Content-Length"] = str(len(data or b""))
    for k, v in (headers or {}).items():
        hdrs[k] = v
    head = "%s %s HTTP/1.1\r\n" % (method, path)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in hdrs.items())
    head += "\r\n"
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.sendall(head.encode("latin-1"))
        if data:
            # Send in pieces; stop if the server has answered already (an
            # early 413): writing on into a closed socket would make the
            # kernel reset the connection and lose the answer.
            view = memoryview(data)
            off = 0
            chunk = 64 * 1024
            while off < len(view):
                r, _, _ = select.select([sock], [], [], 0)
                if r:
                    break
                try:
                    sock.sendall(view[off:off + chunk])
                except (BrokenPipeError, ConnectionResetError):
                    break
                off += chunk
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        payload = resp.read()
        headers_out = {k.lower(): v for k, v in resp.getheaders()}
        _check_contract(method, path, resp.status,
                        headers_out.get("content-type"), payload)
        return Response(resp.status, resp.reason, headers_out, payload)
    finally:
        sock.close()


_contract = None


def _check_contract(method, path, status, content_type, body):
    """Every response a test receives must be one api/openapi.yaml
    describes (MAISON_OPENAPI names it; make check sets it): its status
    documented for the operation, its JSON body valid against the
    operation's schema. Raises TestFailure saying what drifted."""
    global _contract
    spec = os.environ.get("MAISON_OPENAPI")
    if not spec:
        return
    if _contract is None:
        import openapi_contract     # python3-yaml, python3-jsonschema
        _contract = openapi_contract.load(spec)
    problem = _contract.check_response(method, path, status, content_type,
                                       body)
    if problem:
        raise TestFailure("response outside api/openapi.yaml: " + problem)


def raw_exchange(port, raw, timeout=10.0, host="127.0.0.1"):
    """Sends raw bytes and returns whatever comes back until the server
    closes or timeout (bytes). For requests http.client cannot express."""
    sock = socket.create_connection((host, port), timeout=timeout)
    out = b""
    try:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass            # the server may close first: that is allowed
        while True:
            try:
                b = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not b:
                break
            out += b
    finally:
        sock.close()
    return out


def check_error(resp, status, code, field=None):
    """Checks an error response: status, body {"error":{"code","message"}},
    the code, and that the message names field when given."""
    check(resp.status == status,
          "expected HTTP %d %s, got %r" % (status, code, resp))
    doc = resp.json()
    check(isinstance(doc, dict) and isinstance(doc.get("error"), dict),
          "error body must be {\"error\":{...}}, got %r" % (doc,))
    err = doc["error"]
    check(err.get("code") == code,
          "error.code: expected %r, got %r" % (code, err.get("code")))
    check(isinstance(err.get("message"), str) and err["message"],
          "error.message must be a non-empty string, got %r"
          % (err.get("message"),))
    if field is not None:
        check(field in err["message"],
              "error.message must name %r, got %r" % (field, err["message"]))
    return err


# ---------------------------------------------------------------- metrics

_METRIC_RE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfINFNa]+)')


def parse_metrics(text):
    """Prometheus text -> {(name, frozenset(labels.items())): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _METRIC_RE.match(line)
        if not m:
            continue
        labels = {}
        if m.group(2):
            for lm in re.finditer(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                  m.group(2)):
                labels[lm.group(1)] = lm.group(2)
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        out[(m.group(1), frozenset(labels.items()))] = value
    return out


def metric_sum(metrics, name, **labels):
    """Sum of every sample of name whose labels include the given ones."""
    total = 0.0
    found = False
    for (n, lbls), v in metrics.items():
        if n != name:
            continue
        d = dict(lbls)
        if all(d.get(k) == str(v2) for k, v2 in labels.items()):
            total += v
            found = True
    return total if found else None


# ---------------------------------------------------------------- daemon


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def maisond_path():
    path = os.environ.get("MAISOND", "./maisond")
    return os.path.abspath(path)


class StartError(Exception):
    pass


_ADMIN_KEYS = {}        # database_url -> the admin key made against it


class Maisond:
    """One maisond process on 127.0.0.1:<free port>.

    database_url defaults to MAISON_TEST_DATABASE_URL; data_dir defaults to
    a fresh temp dir kept across restart() (removed by cleanup()).
    """

    def __init__(self, database_url=None, data_dir=None, threads=2,
                 checkpoint_interval_s=None, extra_args=(), name="maisond"):
        self.binary = maisond_path()
        self.database_url = database_url or os.environ.get(
            "MAISON_TEST_DATABASE_URL")
        self.own_data_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="mzd.")
        self.threads = threads
        self.checkpoint_interval_s = checkpoint_interval_s
        self.extra_args = list(extra_args)
        self.name = name
        self.port = None
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "%s.stderr" % name)
        self.starts = 0
        self.admin_key = None           # read from admin.key after start

    def argv(self):
        args = [self.binary, "--listen", "127.0.0.1:%d" % self.port,
                "--database-url", self.database_url,
                "--data-dir", self.data_dir,
                "--threads", str(self.threads),
                "--dim", "64", "--levels", "3"]
        if self.checkpoint_interval_s is not None:
            args += ["--checkpoint-interval-s", str(self.checkpoint_interval_s)]
        return args + self.extra_args

    def start(self, timeout_s=60.0, env=None, argv=None):
        """Starts the process (same port on restart) and waits for /readyz
        200. Raises StartError with the log tail when it does not become
        ready in time or exits."""
        if not os.access(self.binary, os.X_OK):
            raise StartError("maisond binary not found at %s (set MAISOND)"
                             % self.binary)
        if self.port is None:
            self.port = free_port()
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(("\n--- start %d ---\n" % self.starts).encode())
        log.flush()
        self.proc = subprocess.Popen(argv or self.argv(), stdout=log,
                                     stderr=log, env=env,
                                     stdin=subprocess.DEVNULL)
        log.close()
        self.wait_ready(timeout_s)
        self.admin_key = self.read_admin_key()
        return self

    def read_admin_key(self):
        """The secret maisond wrote at the first start against its
        database, or None. A daemon with a fresh data dir on a database
        that already has keys writes none: it gets the key seen before for
        that database."""
        try:
            with open(os.path.join(self.data_dir, "admin.key")) as f:
                _ADMIN_KEYS[self.database_url] = f.read().strip()
        except OSError:
            pass
        return _ADMIN_KEYS.get(self.database_url)

    def auth_headers(self, key="admin"):
        """{"Authorization": "Bearer <key>"} (the admin key by default), or
        {} for key None."""
        if key == "admin":
            key = self.admin_key
        return {"Authorization": "Bearer " + key} if key else {}

    def wait_ready(self, timeout_s=60.0):
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StartError("%s exited with %s before ready; log:\n%s"
                                 % (self.name, self.proc.returncode,
                                    self.log_tail()))
            try:
                r = request(self.port, "GET", "/readyz", timeout=2.0)
                if r.status == 200:
                    return
                last = repr(r)
            except (OSError, http.client.HTTPException) as e:
                last = str(e)
            time.sleep(0.05)
        raise StartError("%s not ready after %.0f s (last: %s); log:\n%s"
                         % (self.name, timeout_s, last, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s=60.0):
        """SIGTERM, wait; returns the exit status (None if it had to be
        killed after timeout_s)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    def restart(self, timeout_s=60.0):
        self.kill9()
        return self.start(timeout_s)

    def cleanup(self):
        self.kill9()
        if self.own_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def rss_bytes(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    # -- HTTP shortcuts -------------------------------------------------
    def req(self, method, path, body=None, key="admin", **kw):
        headers = self.auth_headers(key)
        headers.update(kw.pop("headers", None) or {})
        return request(self.port, method, path, body, headers=headers, **kw)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, body, **kw)

    def load_catalog(self, items):
        """PUT /v1/catalog/items with items; StartError when refused (for
        a test's setup)."""
        r = self.put("/v1/catalog/items", {"items": items})
        if r.status != 200:
            raise StartError("loading the test catalog: %r" % r)

    def put(self, path, body=None, **kw):
        return self.req("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)

    def metrics(self):
        r = self.get("/metrics")
        check(r.status == 200, "GET /metrics: %r" % r)
        return parse_metrics(r.text)

    def metric(self, name, **labels):
        return metric_sum(self.metrics(), name, **labels)

    def new_key(self, roles, brands=None, name="test"):
        """Makes a key with roles (and brands; None: every brand) over
        POST /v1/keys with the admin key; returns its secret."""
        body = {"name": name, "roles": roles}
        if brands is not None:
            body["brands"] = brands
        r = self.post("/v1/keys", body)
        check(r.status == 201, "POST /v1/keys %r: %r" % (body, r))
        return r.json()["key"]


# ---------------------------------------------------------------- PostgreSQL


def logs_naming(nodes, needle, timeout_s=10.0):
    """The indices of the nodes whose log holds needle, once one does, or
    [] after timeout_s. maisond's log lines go through a writer thread, so
    a request's line can come after its answer: wait, do not read once."""
    deadline = time.monotonic() + timeout_s
    while True:
        seen = [i for i, node in enumerate(nodes) if needle in node.log_text()]
        if seen or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def parse_conninfo(conninfo):
    """'k=v k2=v2' -> dict (values may be single-quoted)."""
    out = {}
    for m in re.finditer(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", conninfo):
        v = m.group(2)
        if v.startswith("'"):
            v = v[1:-1].replace("\\'", "'").replace("\\\\", "\\")
        out[m.group(1)] = v
    return out


def conninfo_for_db(conninfo, dbname):
    kv = parse_conninfo(conninfo)
    kv["dbname"] = dbname
    return " ".join("%s='%s'" % (k, v.replace("\\", "\\\\").replace("'", "\\'"))
                    for k, v in kv.items())


def pg_bindir():
    return os.environ.get("MAISON_TEST_PG_BINDIR", "/usr/lib/postgresql/15/bin")


def psql(sql, conninfo=None, check_rc=True):
    """Runs sql with psql (unaligned, tuples only); returns stdout."""
    conninfo = conninfo or os.environ["MAISON_TEST_DATABASE_URL"]
    exe = os.path.join(pg_bindir(), "psql")
    if not os.access(exe, os.X_OK):
        exe = "psql"
    p = subprocess.run([exe, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-d", conninfo, "-c", sql],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    if check_rc and p.returncode != 0:
        raise TestFailure("psql failed (%d): %s" % (p.returncode,
                                                     p.stderr.decode()))
    return p.stdout.decode()


class TableLock:
    """ACCESS EXCLUSIVE on table in the database of conninfo, held by a psql
    session until release(): every read and write of it waits meanwhile."""

    def __init__(self, conninfo, table):
        exe = os.path.join(pg_bindir(), "psql")
        self.proc = subprocess.Popen(
            [exe if os.access(exe, os.X_OK) else "psql", "-X", "-q", "-A",
             "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.proc.stdin.write("BEGIN;\nLOCK TABLE %s IN ACCESS EXCLUSIVE "
                              "MODE;\nSELECT 'locked';\n" % table)
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if line.strip() != "locked":
            self.proc.kill()
            raise TestFailure("psql did not lock %s: %r %r"
                              % (table, line, self.proc.stderr.read()))

    def release(self):
        if self.proc.poll() is None:
            self.proc.communicate("COMMIT;\n", timeout=30)


def check_prompt(srv, paths, meanwhile, limit_s=2.0):
    """GETs each of paths from srv: each must answer 200 within limit_s,
    while what meanwhile describes is waiting."""
    for path in paths:
        started = time.monotonic()
        r = srv.get(path, timeout=10)
        took = time.monotonic() - started
        check_eq(r.status, 200, "%s while %s: %r" % (path, meanwhile, r))
        check(took < limit_s, "%s took %.2f s while %s"
              % (path, took, meanwhile))


def ask_while_locked(conninfo, table, ask, keys, meanwhile):
    """Calls ask(key) for each of keys, each on its own thread, while a
    psql session holds table locked (TableLock): none may have answered
    1 s later; then meanwhile() runs and the lock goes. Returns {key:
    what ask returned}; a call still running 60 s after the lock went is
    missing."""
    answers = {}

    def run(key):
        answers[key] = ask(key)

    threads = [threading.Thread(target=run, args=(k,)) for k in keys]
    lock = TableLock(conninfo, table)
    try:
        for t in threads:
            t.start()
        time.sleep(1.0)
        check(not answers, "answered while %s was locked: %r"
              % (table, sorted(answers)))
        meanwhile()
    finally:
        lock.release()
        for t in threads:
            if t.ident is not None:
                t.join(60)
    return answers


def create_database(name):
    """CREATE DATABASE name in the test cluster; returns its conninfo."""
    psql('CREATE DATABASE "%s"' % name)
    return conninfo_for_db(os.environ["MAISON_TEST_DATABASE_URL"], name)


def _pg_ctl(*args):
    exe = os.path.join(pg_bindir(), "pg_ctl")
    cmd = [exe, "-D", os.environ["MAISON_TEST_PG_DATA"]] + list(args)
    if os.getuid() == 0:
        user = os.environ.get("MAISON_TEST_PG_USER") or "maison"
        cmd = ["runuser", "-u", user, "--"] + cmd
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=120)


def pg_stop():
    p = _pg_ctl("stop", "-m", "fast", "-w")
    if p.returncode != 0:
        raise TestFailure("pg_ctl stop failed: %s" % p.stdout.decode())


def pg_start():
    data = os.environ["MAISON_TEST_PG_DATA"]
    log = os.path.join(os.path.dirname(data), "postgres.log")
    p = _pg_ctl("start", "-w", "-t", "60", "-l", log)
    if p.returncode != 0:
        raise TestFailure("pg_ctl start failed: %s" % p.stdout.decode())


# ---------------------------------------------------------------- runner

TESTS = []


# ---------------------------------------------------------------- comparison


# A profile's "share" is a ratio of scores rounded to thousandths: scores
# within a float tolerance of each other may round to neighbouring
# thousandths, so shares are compared within one step.
SHARE_STEP = 0.001 + 1e-9


def json_diff(a, b, tolerance, skip_key=None, path="$"):
    """First difference between two JSON values, or None: numbers within
    tolerance (relative, at least absolute; a "share" within SHARE_STEP),
    everything else exact; object keys for which skip_key(key) is true
    are left out."""
    if isinstance(a, bool) or isinstance(b, bool):
        return None if a == b else "%s: %r != %r" % (path, a, b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        tol = tolerance * max(1.0, abs(a))
        if path.endswith(".share"):
            tol = max(tol, SHARE_STEP)
        return None if abs(a - b) <= tol else "%s: %r != %r" % (path, a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        ka = {k for k in a if not (skip_key and skip_key(k))}
        kb = {k for k in b if not (skip_key and skip_key(k))}
        if ka != kb:
            return "%s: keys %s != %s" % (path, sorted(ka), sorted(kb))
        for k in sorted(ka):
            d = json_diff(a[k], b[k], tolerance, skip_key,
                          "%s.%s" % (path, k))
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return "%s: length %d != %d" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = json_diff(x, y, tolerance, skip_key, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    return None if a == b else "%s: %r != %r" % (path, a, b)


def ranking_diff(a, b, tolerance, whole_items=False):
    """First difference between two recommendation replies, or None: the
    same items in the same order with scores within tolerance (items whose
    scores tie within tolerance may swap places, also with an item just
    below the cut: when a reply's last score ties, the next item, not in
    the reply, may tie too), the same personalized flag; with
    whole_items, an item at the same rank on both must also be described
    the same (brand, reasons, ...), and empty_reason and client_id must
    match."""
    ia, ib = a["items"], b["items"]
    if len(ia) != len(ib):
        return "length %d != %d: A %s, B %s" % (
            len(ia), len(ib), [x["item_id"] for x in ia],
            [x["item_id"] for x in ib])
    for n, (x, y) in enumerate(zip(ia, ib)):
        if abs(x["score"] - y["score"]) > tolerance:
            return "rank %d: %s %.6f vs %s %.6f" % (n, x["item_id"],
                                                   x["score"], y["item_id"],
                                                   y["score"])
        if x["item_id"] != y["item_id"]:
            def ties(items, item_id):
                return any(z["item_id"] == item_id and
                           abs(z["score"] - x["score"]) <= tolerance
                           for z in items) or \
                    abs(items[-1]["score"] - x["score"]) <= tolerance
            if not ties(ib, x["item_id"]) or not ties(ia, y["item_id"]):
                return "rank %d: %s != %s" % (n, x["item_id"], y["item_id"])
        elif whole_items:
            d = json_diff(x, y, tolerance, path="items[%d]" % n)
            if d:
                return d
    keys = ("personalized", "empty_reason", "client_id") if whole_items \
        else ("personalized",)
    for key in keys:
        if a.get(key) != b.get(key):
            return "%s %r != %r" % (key, a.get(key), b.get(key))
    return None


def ingest(batches, start, post, stop_event, acked, pace_s, inflight=None,
           kill_sent=None, state=None):
    """Posts batches[start:] in order with post(batch) until done,
    stop_event is set, or a request fails after kill_sent (an Event) was
    set (a failure before is a TestFailure). Appends acknowledged batch
    indices to acked; inflight (an Event) is set while a request is on the
    wire; a request cut by the kill counts in state["interrupted"] (and
    its error in state["last_error"]). Returns the index of the first batch
    not acknowledged."""
    i = start
    while i < len(batches):
        try:
            if inflight is not None:
                inflight.set()
            post(batches[i])
            if inflight is not None:
                inflight.clear()
        except (OSError, http.client.HTTPException) as e:
            if kill_sent is None or not kill_sent.is_set():
                raise TestFailure("request failed before any kill: %s" % e)
            if state is not None:
                state["interrupted"] = state.get("interrupted", 0) + 1
                state["last_error"] = str(e)
            return i
        acked.append(i)
        i += 1
        if stop_event.is_set():
            return i
        time.sleep(pace_s)
    return i


def kill_during_ingest(srv, batches, start, post, acked, target, pace_s,
                       state, wait_s=60, ready=None):
    """Ingests batches[start:] with post on a thread (ingest above) and
    kill -9s srv while a request is in flight once target batches are
    acknowledged, or once ready() is true when ready is given (or after
    wait_s). Counts the kill in state["kills"]. Returns the index of the
    first batch not acknowledged; srv is left dead for the caller to
    restart."""
    stop = threading.Event()
    inflight = threading.Event()
    kill_sent = threading.Event()
    result = {}

    def worker():
        try:
            result["next"] = ingest(batches, start, post, stop, acked, pace_s,
                                    inflight, kill_sent, state)
        except Exception as e:
            result["error"] = "%s: %s" % (type(e).__name__, e)
    t = threading.Thread(target=worker)
    t.start()
    deadline = time.monotonic() + wait_s
    while (not (ready() if ready else len(acked) >= target) and
           t.is_alive() and time.monotonic() < deadline):
        time.sleep(0.002)
    # Kill while the worker is inside a request: wait for the next one to
    # start, then a little while into it.
    inflight.wait(10)
    time.sleep(random.uniform(0.0, 0.004))
    kill_sent.set()
    srv.kill9()
    state["kills"] = state.get("kills", 0) + 1
    t.join(60)
    check(not t.is_alive(), "ingest thread hung after kill -9")
    check("next" in result, "ingest thread failed: %r" % result)
    return result["next"]


def test(fn):
    """Registers fn as a test; its name says what behaviour it pins down."""
    TESTS.append(fn)
    return fn


def require_environment():
    """Exits 77 (skip) without a test database, 99 without the binary."""
    if not os.environ.get("MAISON_TEST_DATABASE_URL"):
        print("SKIP: MAISON_TEST_DATABASE_URL not set "
              "(run under tests/harness/with_pg.sh)")
        sys.exit(SKIP)
    if not os.access(maisond_path(), os.X_OK):
        print("ERROR: maisond not found at %s (set MAISOND)" % maisond_path())
        sys.exit(HARD_ERROR)


def run_tests(tests=None, before_each=None, after_each=None):
    """Runs tests in order; returns 0 when all passed, else 1.

    before_each/after_each(name) run around each test; an exception in them
    fails that test. MAISON_TEST_FILTER (substring) selects tests.
    """
    tests = TESTS if tests is None else tests
    flt = os.environ.get("MAISON_TEST_FILTER")
    passed = failed = 0
    for fn in tests:
        name = fn.__name__
        if flt and flt not in name:
            continue
        t0 = time.monotonic()
        try:
            if before_each:
                before_each(name)
            fn()
            if after_each:
                after_each(name)
        except Exception as e:      # a test fails, the run goes on
            failed += 1
            msg = str(e).strip().replace("\n", "\n    ")
            print("FAIL %s (%.2fs): %s: %s" % (name, time.monotonic() - t0,
                                             type(e).__name__, msg))
            if not isinstance(e, TestFailure):
                tb = traceback.format_exc().strip().splitlines()
                print("    " + "\n    ".join(tb[-6:]))
        else:
            passed += 1
            print("PASS %s (%.2fs)" % (name, time.monotonic() - t0))
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    sys.stdout.flush()
    return 0 if failed == 0 else 1


def run_with_server(srv, setup=None, tests=None):
    """Starts srv, runs setup() (raising StartError when it cannot set
    the stage), runs tests (default: every registered one), and always
    stops and cleans up srv. Returns the exit status for sys.exit."""
    t0 = time.monotonic()
    try:
        try:
            srv.start()
            if setup:
                setup()
        except StartError as e:
            print("FAIL setup: %s" % e)
            print("0 passed, 1 failed")
            return 1
        return run_tests(tests)
    finally:
        srv.stop()
        srv.cleanup()
        print("total %.1fs" % (time.monotonic() - t0))
