#!/usr/bin/env python3
"""test_failover: a PostgreSQL primary with a synchronous standby, the
primary killed during ingestion, the standby promoted.

The harness's cluster is the primary. This test makes a standby of it
with pg_basebackup (its own socket directory and port), names it in
synchronous_standby_names, and starts maisond on a multi-host libpq
conninfo (`host=<primary>,<standby> ... target_session_attrs=read-write`)
so libpq finds whichever server is the primary. Then, while four threads
post event batches:

- the primary is stopped with `-m immediate` (no shutdown checkpoint, no
  goodbye to the clients: a crash as PostgreSQL sees it) and the standby
  promoted;
- during the gap, writes answer 503 (retryable), never 500, and
  recommendations and profiles are still served from memory;
- afterwards, without restarting maisond, event batches are accepted
  again, and every event whose batch was answered 200 is in the new
  primary's log: a synchronous standby loses no acknowledged event.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import maison_test as mt

STANDBY_NAME = "maison_standby"


def as_pg_user(cmd):
    if os.getuid() == 0:
        user = os.environ.get("MAISON_TEST_PG_USER") or "maison"
        return ["runuser", "-u", user, "--"] + cmd
    return cmd


def run(cmd, timeout=120):
    p = subprocess.run(as_pg_user(cmd), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    if p.returncode != 0:
        raise mt.TestFailure("%s failed (%d): %s"
                             % (cmd[0], p.returncode, p.stdout.decode()))
    return p.stdout.decode()


class Standby:
    """A streaming standby of the harness cluster, in its own temp dir."""

    def __init__(self):
        primary = mt.parse_conninfo(os.environ["MAISON_TEST_DATABASE_URL"])
        self.primary_host = primary["host"]
        self.primary_port = primary.get("port", "5432")
        self.dbname = primary.get("dbname", "postgres")
        self.user = primary.get("user", "postgres")
        self.dir = tempfile.mkdtemp(prefix="mzsb.")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        with socket.socket() as s:         # a port number nobody uses
            s.bind(("127.0.0.1", 0))
            self.port = str(s.getsockname()[1])
        if os.getuid() == 0:
            user = os.environ.get("MAISON_TEST_PG_USER") or "maison"
            shutil.chown(self.dir, user)
        os.chmod(self.dir, 0o700)
        self.running = False

    def create(self):
        bindir = mt.pg_bindir()
        run([os.path.join(bindir, "pg_basebackup"), "-D", self.data,
             "-h", self.primary_host, "-p", self.primary_port,
             "-U", self.user, "-X", "stream", "-R", "--no-sync"])
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
            f.write("\n# test_failover: the standby's own socket and name\n"
                    "unix_socket_directories = '%s'\nport = %s\n"
                    "primary_conninfo = 'host=%s port=%s user=%s "
                    "application_name=%s'\n"
                    % (self.dir, self.port, self.primary_host,
                       self.primary_port, self.user, STANDBY_NAME))
        run([os.path.join(bindir, "pg_ctl"), "-D", self.data, "-l", self.log,
             "-w", "-t", "60", "start"])
        self.running = True

    def promote(self):
        run([os.path.join(mt.pg_bindir(), "pg_ctl"), "-D", self.data, "-w",
             "-t", "60", "promote"])

    def conninfo(self):
        return "host=%s port=%s dbname=%s user=%s" % (
            self.dir, self.port, self.dbname, self.user)

    def stop(self):
        if self.running:
            subprocess.run(as_pg_user([os.path.join(mt.pg_bindir(), "pg_ctl"),
                                       "-D", self.data, "-m", "immediate",
                                       "-w", "stop"]),
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=120)
            self.running = False
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(cond, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise mt.TestFailure("%s: not within %.0f s" % (what, timeout_s))


def make_synchronous(standby):
    mt.psql("ALTER SYSTEM SET synchronous_standby_names = '%s'"
            % STANDBY_NAME)
    mt.psql("SELECT pg_reload_conf()")
    wait_for(lambda: mt.psql(
        "SELECT sync_state FROM pg_stat_replication WHERE "
        "application_name = '%s'" % STANDBY_NAME).strip() == "sync",
        60, "the standby becoming synchronous")


class Ingestion(threading.Thread):
    """Posts batches of 20 events until stopped; remembers which were
    answered 200 and every other status it got."""

    def __init__(self, server, n, clients):
        super().__init__(daemon=True)
        self.server, self.n, self.clients = server, n, clients
        self.stop_flag = threading.Event()
        self.acked = []           # event ids of batches answered 200
        self.statuses = {}        # status -> count
        self.after_gap_ok = 0     # 200s counted after mark_gap_over()
        self.gap_over = False
        self.lock = threading.Lock()

    def run(self):
        b = 0
        while not self.stop_flag.is_set():
            ids = ["fo-%d-%d-%d" % (self.n, b, j) for j in range(20)]
            body = {"events": [
                {"event_id": eid, "client_id": "fc%d" % ((b + j) % self.clients),
                 "item_id": "fi%d" % ((b * 7 + j) % 50), "type": "view",
                 "ts": 1764000000 + b} for j, eid in enumerate(ids)]}
            try:
                r = self.server.post("/v1/events", body, timeout=30)
                status = r.status
            except OSError:
                status = "no answer"
            with self.lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status == 200:
                    self.acked.extend(ids)
                    if self.gap_over:
                        self.after_gap_ok += 1
            if status != 200:
                time.sleep(0.1)
            b += 1


@mt.test
def promoted_standby_keeps_every_acknowledged_event():
    standby = Standby()
    server = None
    threads = []
    try:
        standby.create()
        make_synchronous(standby)
        primary = mt.parse_conninfo(os.environ["MAISON_TEST_DATABASE_URL"])
        url = ("host=%s,%s port=%s,%s dbname=%s user=%s "
               "target_session_attrs=read-write connect_timeout=2"
               % (primary["host"], standby.dir, primary.get("port", "5432"),
                  standby.port, standby.dbname, standby.user))
        server = mt.Maisond(database_url=url, name="maisond-failover")
        server.start()
        items = [{"item_id": "fi%d" % i, "brand": "fo", "category": "bags",
                  "price": 100 + i} for i in range(50)]
        r = server.put("/v1/catalog/items", {"items": items})
        mt.check_eq(r.status, 200, "catalog upsert")

        threads = [Ingestion(server, n, 40) for n in range(4)]
        for t in threads:
            t.start()
        wait_for(lambda: sum(len(t.acked) for t in threads) >= 2000, 60,
                 "2,000 events acknowledged before the failover")

        # The crash: no shutdown checkpoint, connections cut.
        mt._pg_ctl("stop", "-m", "immediate", "-w")
        time.sleep(1.0)
        # During the gap reads are served from memory.
        r = server.get("/v1/clients/fc1/recommendations?k=5")
        mt.check_eq(r.status, 200, "recommendations while no primary")
        r = server.get("/v1/clients/fc1/profile")
        mt.check_eq(r.status, 200, "profile while no primary")
        standby.promote()
        for t in threads:
            with t.lock:
                t.gap_over = True
        wait_for(lambda: sum(t.after_gap_ok for t in threads) >= 20, 90,
                 "event batches accepted again after the promotion")
    finally:
        for t in threads:
            t.stop_flag.set()
        for t in threads:
            t.join(60)
    try:
        statuses = {}
        for t in threads:
            for k, v in t.statuses.items():
                statuses[k] = statuses.get(k, 0) + v
        bad = {k: v for k, v in statuses.items() if k not in (200, 503)}
        mt.check(not bad, "writes during the failover must answer 200 or "
                 "503 (retryable), got %r" % statuses)
        mt.check(statuses.get(503, 0) > 0, "no write saw the gap: the "
                 "primary was not down while batches were posted? %r"
                 % statuses)
        acked = [eid for t in threads for eid in t.acked]
        stored = set(mt.psql(
            "SELECT event_id FROM events WHERE event_id LIKE 'fo-%%'",
            conninfo=standby.conninfo()).split())
        lost = [eid for eid in acked if eid not in stored]
        mt.check(not lost, "%d acknowledged events are not on the new "
                 "primary (e.g. %s); statuses %r"
                 % (len(lost), lost[:3], statuses))
        mt.check(server.alive(), "maisond must survive the failover")
        t0 = time.monotonic()
        wait_for(lambda: server.get("/readyz").status == 200, 30,
                 "/readyz 200 after the failover")
        ready_after = time.monotonic() - t0
        print("    %d events acknowledged, all on the new primary; "
              "statuses %r; /readyz 200 %.1f s after writes resumed"
              % (len(acked), statuses, ready_after))
    finally:
        if server is not None:
            server.stop()
            server.cleanup()
        standby.stop()


if __name__ == "__main__":
    if not os.access(os.path.join(mt.pg_bindir(), "pg_basebackup"), os.X_OK):
        print("pg_basebackup not found")
        sys.exit(mt.SKIP)
    sys.exit(mt.run_tests())
