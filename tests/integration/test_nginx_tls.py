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
import subprocess
import sys
import tempfile
import time
import uuid

import maison_test as mt
import nginx_front as nf
import tls_helpers as th
from maison_test import check, check_eq, test

NODES = []
FRONT = None         # nginx_front.Front: nginx in front of the nodes
DIR = None
CLIENTS = ["client-%02d-%s" % (i, uuid.uuid4().hex[:6]) for i in range(24)]


def via_nginx(method, path, key="admin", body=None):
    if key == "admin":
        key = NODES[0].admin_key
    return FRONT.https(method, path, body=body, key=key)


def node_of(client_id):
    """The indices of the nodes whose request log names client_id."""
    return mt.logs_naming(NODES, "/v1/clients/%s/" % client_id)


@test
def nginx_accepts_the_shipped_config():
    rc, out = FRONT.check_config()
    check_eq(rc, 0, "nginx -t: %s" % out)
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
def an_id_holding_a_slash_is_routed_whole():
    # "a%2Fb..." is one client for maisond; nginx must hash the whole
    # segment, not the "a" its decoded $uri would cut it to: ids that
    # share a prefix before the slash spread over the nodes.
    ids = ["slash%%2Fc%d" % i for i in range(20)]
    for cid in ids:
        status, _, _ = via_nginx("GET", "/v1/clients/%s/profile" % cid)
        check_eq(status, 404, "profile of %s (no such client)" % cid)
    owners = set()
    for cid in ids:
        seen = node_of(cid)
        check_eq(len(seen), 1, "nodes that served %s" % cid)
        owners.add(seen[0])
    check_eq(owners, {0, 1}, "20 ids 'slash/...' over both nodes")


@test
def what_nginx_answers_itself_is_a_json_error():
    status, _, body = via_nginx("POST", "/v1/events",
                                body="x" * (3 * 1024 * 1024))
    check_eq(status, 413, "a 3 MiB body through nginx")
    check(body.startswith(b'{"error":{"code":"payload_too_large"'),
          "413 body is maisond's JSON error: %r" % body[:200])
    status, _, body = via_nginx("GET", "/v1/keys?" + "p=1&" * 4000)
    check(status in (414, 431), "a 16 KB target: %d %r" % (status, body[:300]))
    check(body.startswith(b'{"error":{"code":"invalid_input"'),
          "the long target's body is JSON: %r" % body[:200])
    conn = th.connect(FRONT.port, FRONT.cert, "localhost", 30.0)
    try:
        conn.request("GET", "/healthz", headers={"X-Big": "y" * 40000})
        r = conn.getresponse()
        status, body = r.status, r.read()
    finally:
        conn.close()
    check(status in (400, 431), "a 40 KB header field: %d" % status)
    check(body.startswith(b'{"error":{"code":"invalid_input"'),
          "the large header's body is JSON: %r" % body[:200])


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
    for cid in owned:
        check_eq(mt.logs_naming(NODES[:1], "/v1/clients/%s/" % cid), [0],
                 "the first node served %s" % cid)



@test
def no_node_answering_is_a_json_503():
    # Runs last: it stops the node that is left.
    check_eq(NODES[0].stop(), 0, "SIGTERM of the first node")
    status, headers, body = via_nginx("GET", "/v1/clients/%s/profile"
                                      % CLIENTS[0])
    check_eq(status, 503, "no node: %r" % body[:200])
    check(body.startswith(b'{"error":{"code":"unavailable"'),
          "the 503 body is JSON: %r" % body[:200])
    check_eq(headers.get("retry-after"), "1", "Retry-After")


def main():
    global FRONT, DIR
    if not nf.binary() or not th.have_openssl():
        print("SKIP: nginx or openssl is not installed")
        return mt.SKIP
    mt.require_environment()
    DIR = tempfile.mkdtemp(prefix="mznginx.")
    os.chmod(DIR, 0o755)
    try:
        try:
            cert, key = th.self_signed(DIR, "front")
            for i in range(2):
                node = mt.Maisond(name="node%d" % i,
                                  checkpoint_interval_s=1,
                                  extra_args=["--max-connections-per-ip",
                                              "0"])
                NODES.append(node)
                node.start()
            FRONT = nf.Front(DIR, [n.port for n in NODES], cert, key)
            FRONT.start()
        except (mt.StartError, subprocess.CalledProcessError, OSError) as e:
            print("FAIL setup: %s" % e)
            print("0 passed, 1 failed")
            return 1
        return mt.run_tests()
    finally:
        if FRONT:
            FRONT.stop()
        for node in NODES:
            node.stop()
            node.cleanup()
        shutil.rmtree(DIR, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
