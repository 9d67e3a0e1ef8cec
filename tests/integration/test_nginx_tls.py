#!/usr/bin/env python3
"""test_nginx_tls: deploy/nginx-maison.conf, as shipped, in front of two
maisond nodes.

The test puts the two nodes' addresses, a listening port and a certificate
made with openssl at run time into a copy of the file (each substitution
must apply, so the file keeps the shape this test knows), checks it with
`nginx -t`, runs nginx, and speaks HTTPS to it with Python's ssl module
(the certificate as CA, host name verified): Authorization reaches the
nodes (401 without a key, 200 with), /metrics stays hidden, each client id
is always served by the same node, a node's 429 arrives with its
Retry-After, and when a node stops, its clients are served by the other
(passive health check). Skipped (77) without nginx or openssl.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import maison_test as mt
import tls_helpers as th
from maison_test import check, check_eq, test

NODES = []
NGINX = None         # the nginx process
PORT = None          # nginx's HTTPS port
DIR = None
CERT = KEY = None
CONF = None          # the nginx.conf that includes the copy
CLIENTS = ["client-%02d-%s" % (i, uuid.uuid4().hex[:6]) for i in range(24)]


def nginx_binary():
    for path in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if path and os.access(path, os.X_OK):
            return path
    return None


def srcdir():
    return os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))


def replace(text, pattern, new, what):
    out, n = re.subn(pattern, new, text, flags=re.M)
    if n == 0:
        raise mt.StartError("deploy/nginx-maison.conf no longer has %s" % what)
    return out


def write_config():
    """The shipped file with the test's nodes, port, certificate and log;
    returns the path of an nginx.conf that includes it."""
    with open(os.path.join(srcdir(), "deploy", "nginx-maison.conf")) as f:
        text = f.read()
    a, b = NODES[0].port, NODES[1].port
    text = replace(text, r"^(\s*server )10\.0\.0\.11:8080", r"\g<1>127.0.0.1:%d"
                   % a, "a first node")
    text = replace(text, r"^(\s*server )10\.0\.0\.12:8080", r"\g<1>127.0.0.1:%d"
                   % b, "a second node")
    text = replace(text, r"^\s*server 10\.0\.0\.13:8080.*\n", "",
                   "a third node")
    text = replace(text, r"^(\s*)listen 443 ssl;",
                   r"\g<1>listen 127.0.0.1:%d ssl;" % PORT, "listen 443 ssl")
    text = replace(text, r"^(\s*)ssl_certificate \S+;",
                   r"\g<1>ssl_certificate %s;" % CERT, "ssl_certificate")
    text = replace(text, r"^(\s*)ssl_certificate_key \S+;",
                   r"\g<1>ssl_certificate_key %s;" % KEY,
                   "ssl_certificate_key")
    text = replace(text, r"^(\s*)access_log \S+;",
                   r"\g<1>access_log %s/access.log;" % DIR, "access_log")
    maison = os.path.join(DIR, "maison.conf")
    with open(maison, "w") as f:
        f.write(text)
    conf = os.path.join(DIR, "nginx.conf")
    temp = "".join("    %s_temp_path %s/%s;\n" % (kind, DIR, kind)
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                "scgi"))
    with open(conf, "w") as f:
        f.write("%s"
                "worker_processes 1;\n"
                "pid %s/nginx.pid;\n"
                "error_log %s/error.log info;\n"
                "events { worker_connections 256; }\n"
                "http {\n%s    include %s;\n}\n"
                % ("user root root;\n" if os.getuid() == 0 else "", DIR, DIR,
                   temp, maison))
    return conf


def via_nginx(method, path, key="admin", body=None):
    if key == "admin":
        key = NODES[0].admin_key
    return th.https(PORT, method, path, CERT, body=body, key=key)


def node_of(client_id):
    """The indices of the nodes whose request log names client_id."""
    seen = []
    for i, node in enumerate(NODES):
        with open(node.log_path) as f:
            if ("/v1/clients/%s/" % client_id) in f.read():
                seen.append(i)
    return seen


@test
def nginx_accepts_the_shipped_config():
    p = subprocess.run([nginx_binary(), "-t", "-c", CONF, "-p", DIR],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    out = p.stdout.decode()
    check_eq(p.returncode, 0, "nginx -t: %s" % out)
    check("syntax is ok" in out, "nginx -t: %s" % out)


@test
def health_is_served_through_nginx_over_verified_tls():
    status, _, _ = via_nginx("GET", "/healthz", key=None)
    check_eq(status, 200, "GET /healthz through nginx")


@test
def authorization_reaches_the_nodes():
    status, headers, _ = via_nginx("GET", "/v1/keys", key=None)
    check_eq(status, 401, "without a key")
    check_eq(headers.get("www-authenticate"), "Bearer",
             "WWW-Authenticate passed on")
    status, _, body = via_nginx("GET", "/v1/keys")
    check_eq(status, 200, "with the admin key: %r" % body[:200])


@test
def metrics_stay_hidden_behind_the_balancer():
    status, _, _ = via_nginx("GET", "/metrics")
    check_eq(status, 403, "GET /metrics through nginx")


@test
def each_client_is_always_served_by_the_same_node():
    for _ in range(2):
        for cid in CLIENTS:
            status, _, _ = via_nginx("GET", "/v1/clients/%s/profile" % cid)
            check_eq(status, 404, "profile of %s (no such client)" % cid)
    owners = {}
    for cid in CLIENTS:
        seen = node_of(cid)
        check_eq(len(seen), 1, "nodes that served %s" % cid)
        owners[cid] = seen[0]
    check_eq(set(owners.values()), {0, 1},
             "the %d clients spread over both nodes" % len(CLIENTS))


@test
def a_nodes_429_arrives_with_retry_after():
    body = ('{"name":"nginx-rate","roles":["clienteling"],'
            '"rate_limit":{"requests_per_s":0.2,"burst":1}}')
    status, _, reply = via_nginx("POST", "/v1/keys", body=body)
    check_eq(status, 201, "POST /v1/keys through nginx: %r" % reply[:200])
    token = re.search(rb'"key":"([^"]+)"', reply).group(1).decode()
    # One client: one node, one bucket.
    path = "/v1/clients/%s/profile" % CLIENTS[0]
    # The key was made on one node; the other sees it after its next
    # checkpoint (every second here), which reloads the keys.
    deadline = time.monotonic() + 15
    status, _, _ = via_nginx("GET", path, key=token)
    while status == 401 and time.monotonic() < deadline:
        time.sleep(0.2)
        status, _, _ = via_nginx("GET", path, key=token)
    check_eq(status, 404, "the one token")
    status, headers, reply = via_nginx("GET", path, key=token)
    check_eq(status, 429, "over the limit: %r" % reply[:200])
    check(b'"rate_limited"' in reply, "the JSON error body: %r" % reply)
    check(headers.get("retry-after", "").isdigit() and
          int(headers["retry-after"]) >= 1,
          "Retry-After passed on: %r" % headers.get("retry-after"))


@test
def a_stopped_nodes_clients_go_to_the_other():
    victim = NODES[1]
    owned = [cid for cid in CLIENTS if node_of(cid) == [1]]
    check(owned, "the second node owns some clients")
    check_eq(victim.stop(), 0, "SIGTERM of the second node")
    for cid in owned:
        status, _, reply = via_nginx("GET", "/v1/clients/%s/profile" % cid)
        check_eq(status, 404, "profile of %s with its node down: %r"
                 % (cid, reply[:200]))
    with open(NODES[0].log_path) as f:
        log = f.read()
    for cid in owned:
        check(("/v1/clients/%s/" % cid) in log,
              "the first node served %s" % cid)


def main():
    global NGINX, PORT, DIR, CERT, KEY, CONF
    if not nginx_binary() or not th.have_openssl():
        print("SKIP: nginx or openssl is not installed")
        return mt.SKIP
    mt.require_environment()
    DIR = tempfile.mkdtemp(prefix="mznginx.")
    os.chmod(DIR, 0o755)
    try:
        try:
            CERT, KEY = th.self_signed(DIR, "front")
            for i in range(2):
                node = mt.Maisond(name="node%d" % i,
                                  checkpoint_interval_s=1,
                                  extra_args=["--max-connections-per-ip",
                                              "0"])
                NODES.append(node)
                node.start()
            PORT = mt.free_port()
            CONF = write_config()
            NGINX = subprocess.Popen(
                [nginx_binary(), "-c", CONF, "-p", DIR, "-g", "daemon off;"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + 30
            while True:
                try:
                    if via_nginx("GET", "/healthz", key=None)[0] == 200:
                        break
                except OSError:
                    pass
                if NGINX.poll() is not None or time.monotonic() > deadline:
                    with open(os.path.join(DIR, "error.log")) as f:
                        raise mt.StartError("nginx did not serve: %s"
                                            % f.read()[-2000:])
                time.sleep(0.1)
        except (mt.StartError, subprocess.CalledProcessError, OSError) as e:
            print("FAIL setup: %s" % e)
            print("0 passed, 1 failed")
            return 1
        return mt.run_tests()
    finally:
        if NGINX and NGINX.poll() is None:
            NGINX.send_signal(signal.SIGQUIT)
            try:
                NGINX.wait(30)
            except subprocess.TimeoutExpired:
                NGINX.kill()
                NGINX.wait()
        for node in NODES:
            node.stop()
            node.cleanup()
        shutil.rmtree(DIR, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
