#!/usr/bin/env python3
"""test_tls: maisond serving HTTPS with --tls-cert and --tls-key.

The test makes a self-signed certificate for localhost with openssl at run
time and talks to the daemon with Python's ssl module, that certificate as
its only CA, verifying the host name: /healthz and authenticated routes
(with a body, and several requests on one connection) work over TLS; a
plain-HTTP request on the TLS port is not served, a connection that never
starts its handshake is cut at the header deadline (maisond's listener
hands sockets to libmicrohttpd, TLS or not); a missing, unreadable,
oversized or wrong file, or a key of another certificate, stops the start
with a message naming the file and never the key. Skipped (77) when
openssl is missing.
"""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import maison_test as mt
import tls_helpers as th
from maison_test import check, check_eq, test

SRV = None
DIR = None       # the certificates
CERT = KEY = OTHER_KEY = None
HEADER_TIMEOUT_S = 3


def https(port, method, path, **kw):
    return th.https(port, method, path, CERT, **kw)


def context():
    return th.context(CERT)


@test
def healthz_is_served_over_tls_with_a_verified_certificate():
    status, _, body = https(SRV.port, "GET", "/healthz")
    check_eq(status, 200, "GET /healthz over TLS")
    with socket.create_connection(("127.0.0.1", SRV.port), timeout=10) as s:
        with context().wrap_socket(s, server_hostname="localhost") as tls:
            check(tls.version() in ("TLSv1.2", "TLSv1.3"),
                  "protocol %r" % tls.version())
            peer = tls.getpeercert()
            check(("DNS", "localhost") in peer.get("subjectAltName", ()),
                  "the server shows the test certificate: %r" % (peer,))


@test
def the_certificate_is_refused_for_another_host_name():
    try:
        https(SRV.port, "GET", "/healthz", host="maison.example")
    except ssl.SSLCertVerificationError:
        return
    raise mt.TestFailure("a certificate for localhost verified as "
                         "maison.example")


@test
def authenticated_routes_work_over_tls():
    status, headers, body = https(SRV.port, "GET", "/v1/keys")
    check_eq(status, 401, "GET /v1/keys without a key")
    check_eq(headers.get("www-authenticate"), "Bearer", "WWW-Authenticate")
    status, _, body = https(SRV.port, "GET", "/v1/keys", key=SRV.admin_key)
    check_eq(status, 200, "GET /v1/keys with the admin key: %r" % body[:200])
    check(b'"keys"' in body, "the key list: %r" % body[:200])
    items = ('{"items":[{"item_id":"tls-1","brand":"atelier",'
             '"category":"bags","price":100,"currency":"EUR"}]}')
    status, _, body = https(SRV.port, "PUT", "/v1/catalog/items",
                            body=items, key=SRV.admin_key)
    check_eq(status, 200, "PUT /v1/catalog/items over TLS: %r" % body[:200])
    status, _, body = https(SRV.port, "GET", "/v1/catalog/items/tls-1",
                            key=SRV.admin_key)
    check_eq(status, 200, "GET the item back: %r" % body[:200])


@test
def one_tls_connection_carries_several_requests():
    conn = th.connect(SRV.port, CERT, timeout=10)
    try:
        for i in range(5):
            conn.request("GET", "/v1/keys",
                         headers={"Authorization": "Bearer " + SRV.admin_key})
            r = conn.getresponse()
            r.read()
            check_eq(r.status, 200, "request %d on one connection" % i)
    finally:
        conn.close()


@test
def plain_http_on_the_tls_port_is_not_served():
    out = mt.raw_exchange(SRV.port, b"GET /healthz HTTP/1.1\r\n"
                          b"Host: localhost\r\nConnection: close\r\n\r\n",
                          timeout=15.0)
    check(not out.startswith(b"HTTP/"), "plain HTTP answered: %r" % out[:100])
    check(b"ok" not in out and b"{" not in out,
          "no body in clear: %r" % out[:100])
    status, _, _ = https(SRV.port, "GET", "/healthz")
    check_eq(status, 200, "TLS still served after a plain-HTTP client")


@test
def a_handshake_that_never_comes_is_cut_at_the_header_deadline():
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", SRV.port), timeout=30) as s:
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
    waited = time.monotonic() - t0
    check_eq(data, b"", "bytes before any handshake")
    check(HEADER_TIMEOUT_S - 0.5 <= waited <= HEADER_TIMEOUT_S + 5,
          "closed after %.1f s, the deadline is %d s" % (waited,
                                                         HEADER_TIMEOUT_S))


def start_fails(args, env_extra=None):
    """Runs maisond with args (and env) expecting a start-up error; returns
    (exit status, stderr)."""
    env = dict(os.environ, **(env_extra or {}))
    for name in ("MAISON_TLS_CERT", "MAISON_TLS_KEY"):
        if name not in (env_extra or {}):
            env.pop(name, None)
    p = subprocess.run([SRV.binary, "--listen", "127.0.0.1:%d"
                        % mt.free_port(), "--database-url",
                        SRV.database_url, "--data-dir", DIR] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, env=env, timeout=60)
    return p.returncode, p.stderr.decode()


def key_body(path):
    """The base64 lines of a PEM key: none may appear in a message."""
    with open(path) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("-")]


def check_refused(args, names, env_extra=None):
    rc, err = start_fails(args, env_extra)
    check(rc != 0, "%s: started (exit %d)" % (args, rc))
    for name in names:
        check(name in err, "%s: the message names %s: %r" % (args, name, err))
    for path in (KEY, OTHER_KEY):
        for line in key_body(path):
            check(line not in err, "%s: key material in the message" % args)
    check("listening" not in err, "%s: it listened: %r" % (args, err))
    return err


@test
def a_missing_or_wrong_file_stops_the_start_naming_it():
    missing = os.path.join(DIR, "missing.crt")
    check_refused(["--tls-cert", missing, "--tls-key", KEY], [missing])
    # A key given as the certificate, a certificate given as the key.
    check_refused(["--tls-cert", KEY, "--tls-key", KEY],
                  ["--tls-cert", KEY])
    check_refused(["--tls-cert", CERT, "--tls-key", CERT],
                  ["--tls-key", CERT])
    # A directory, an empty file, an oversized one.
    check_refused(["--tls-cert", DIR, "--tls-key", KEY], [DIR])
    empty = os.path.join(DIR, "empty.crt")
    open(empty, "w").close()
    check_refused(["--tls-cert", empty, "--tls-key", KEY], [empty])
    big = os.path.join(DIR, "big.crt")
    with open(big, "w") as f:
        f.write(open(CERT).read() * 1000)
    check_refused(["--tls-cert", big, "--tls-key", KEY], [big, "bytes"])
    garbage = os.path.join(DIR, "garbage.key")
    with open(garbage, "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\nnot base64\n"
                "-----END PRIVATE KEY-----\n")
    check_refused(["--tls-cert", CERT, "--tls-key", garbage], [garbage])


@test
def an_unreadable_key_stops_the_start_naming_it():
    locked = os.path.join(DIR, "locked.key")
    shutil.copy(KEY, locked)
    os.chmod(locked, 0)
    if os.getuid() == 0:
        # root reads any file: run maisond as nobody, who cannot.
        rc, err = 0, ""
        try:
            p = subprocess.run(
                ["runuser", "-u", "nobody", "--", SRV.binary,
                 "--tls-cert", CERT, "--tls-key", locked,
                 "--database-url", "postgresql://nowhere.invalid/x"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL, timeout=60)
            rc, err = p.returncode, p.stderr.decode()
        except FileNotFoundError:
            return          # no runuser: nothing to show as root
        check(rc != 0, "started with an unreadable key")
        check(("--tls-key " + locked) in err and "Permission denied" in err,
              "the message names the file: %r" % err)
        return
    check_refused(["--tls-cert", CERT, "--tls-key", locked],
                  [locked, "Permission denied"])


@test
def a_key_of_another_certificate_is_refused_naming_both():
    check_refused(["--tls-cert", CERT, "--tls-key", OTHER_KEY],
                  [CERT, OTHER_KEY])


@test
def cert_and_key_go_together_from_flags_or_the_environment():
    rc, err = start_fails(["--tls-cert", CERT])
    check_eq(rc, 2, "--tls-cert alone: exit status")
    check("--tls-key" in err, "the message says what is missing: %r" % err)
    rc, err = start_fails([], {"MAISON_TLS_KEY": KEY})
    check_eq(rc, 2, "MAISON_TLS_KEY alone: exit status")
    missing = os.path.join(DIR, "gone.crt")
    check_refused([], [missing], {"MAISON_TLS_CERT": missing,
                                  "MAISON_TLS_KEY": KEY})
    p = subprocess.run([SRV.binary, "--help"], stdout=subprocess.PIPE,
                       timeout=30)
    for word in (b"--tls-cert", b"--tls-key", b"MAISON_TLS_CERT",
                 b"MAISON_TLS_KEY"):
        check(word in p.stdout, "--help documents %s" % word.decode())


@test
def the_key_never_reaches_the_log():
    with open(SRV.log_path) as f:
        log = f.read()
    for line in key_body(KEY):
        check(line not in log, "key material in the log")
    check("https://" in log, "the log says it serves HTTPS")


def main():
    global SRV, DIR, CERT, KEY, OTHER_KEY
    if not th.have_openssl():
        print("SKIP: openssl is not installed")
        return mt.SKIP
    mt.require_environment()
    DIR = tempfile.mkdtemp(prefix="mztls.")
    os.chmod(DIR, 0o755)
    try:
        CERT, KEY = th.self_signed(DIR, "server")
        _, OTHER_KEY = th.self_signed(DIR, "other")
        SRV = th.HttpsMaisond(CERT, KEY, name="maisond-tls",
                              extra_args=["--header-timeout-s",
                                          str(HEADER_TIMEOUT_S)])
        try:
            SRV.start()
        except mt.StartError as e:
            print("FAIL setup: %s" % e)
            print("0 passed, 1 failed")
            return 1
        return mt.run_tests()
    finally:
        if SRV:
            SRV.stop()
            SRV.cleanup()
        shutil.rmtree(DIR, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
