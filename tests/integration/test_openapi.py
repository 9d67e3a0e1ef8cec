#!/usr/bin/env python3
"""test_openapi: api/openapi.yaml is a usable contract and says what the
router does.

- The document loads and is well formed (openapi_contract.load).
- Its operations are exactly the router's routes (api/router.c) plus
  /metrics (server/http.c), and each states the roles and brand scope
  the router's table gives that route.
Every response the other integration tests receive is validated against
its operation by maison_test.request (MAISON_OPENAPI), so this file
checks only the document and the table.
"""

import os
import re
import sys

import maison_test as mt

try:
    import openapi_contract
except ImportError as e:    # python3-yaml / python3-jsonschema missing
    print("openapi checks need python3-yaml and python3-jsonschema "
          "(deploy/install-deps.sh): %s" % e)
    sys.exit(mt.HARD_ERROR)

SRCDIR = os.environ.get("MAISON_SRCDIR",
                        os.path.join(os.path.dirname(__file__), "..", ".."))
OPENAPI = os.path.join(SRCDIR, "api", "openapi.yaml")

ROLE_NAMES = {"OPEN": [], "ADMIN": ["admin"], "MERCH": ["merchandising"],
              "CLIENTELING": ["clienteling"], "INGEST": ["ingest"],
              "PRIVACY": ["privacy"], "OPS": ["ops"]}
SCOPE_NAMES = {"SCOPE_NONE": "none", "SCOPE_PATH_BRAND": "path",
               "SCOPE_HANDLER": "named", "SCOPE_ALL_BRANDS": "all"}
ROUTE_RE = re.compile(r'\{"(\w+)",\s*"([^"]+)",\s*"[^"]*",\s*(?:true|false),'
                      r'\s*\w+,\s*([\w |]+?),\s*(SCOPE_\w+),\s*[\w |]+\}')


def router_table():
    """(METHOD, pattern) -> (sorted roles, scope) from api/router.c."""
    with open(os.path.join(SRCDIR, "api", "router.c")) as f:
        src = f.read()
    table = {}
    for m in ROUTE_RE.finditer(src):
        roles = sorted(r for part in m.group(3).split("|")
                       for r in ROLE_NAMES[part.strip()])
        table[(m.group(1), m.group(2))] = (roles, SCOPE_NAMES[m.group(4)])
    mt.check(len(table) >= 10, "router.c: could not read the route table "
             "(%d routes found)" % len(table))
    # /metrics is served before the router (server/http.c), role ops.
    table[("GET", "/metrics")] = (["ops"], "none")
    return table


@mt.test
def document_is_well_formed():
    openapi_contract.load(OPENAPI)


@mt.test
def operations_are_the_routes():
    contract = openapi_contract.load(OPENAPI)
    documented = contract.routes()
    routed = set(router_table())
    mt.check(not routed - documented,
             "routes without an operation in openapi.yaml: %s"
             % sorted(routed - documented))
    mt.check(not documented - routed,
             "operations that no route serves: %s"
             % sorted(documented - routed))


@mt.test
def roles_and_scope_match_the_router():
    contract = openapi_contract.load(OPENAPI)
    for (method, pattern), (roles, scope) in sorted(router_table().items()):
        op = contract.doc["paths"][pattern][method.lower()]
        mt.check_eq(sorted(op.get("x-maison-roles", ["(missing)"])), roles,
                    "%s %s x-maison-roles" % (method, pattern))
        mt.check_eq(op.get("x-maison-brand-scope"), scope,
                    "%s %s x-maison-brand-scope" % (method, pattern))
        if roles:
            for status in ("401", "403"):
                mt.check(status in op.get("responses", {}),
                         "%s %s must document %s" % (method, pattern, status))


@mt.test
def error_codes_are_the_status_table():
    contract = openapi_contract.load(OPENAPI)
    with open(os.path.join(SRCDIR, "model", "status.c")) as f:
        table = set(re.findall(r'\[MZ_\w+\]\s*=\s*\{"(\w+)",', f.read()))
    table.discard("ok")
    mt.check(len(table) >= 10, "model/status.c: table not found")
    enum = set(contract.doc["components"]["schemas"]["Error"]["properties"]
               ["error"]["properties"]["code"]["enum"])
    mt.check_eq(sorted(enum), sorted(table),
                "Error.code enum against model/status.c")


@mt.test
def validator_catches_a_body_that_drifts():
    # The checker the other tests rely on must be able to fail.
    contract = openapi_contract.load(OPENAPI)
    bad = contract.check_response("GET", "/healthz", 200, "application/json",
                                  b'{"status": 7}')
    mt.check(bad is not None, "a wrong /healthz body passed the contract")
    undocumented = contract.check_response("GET", "/healthz", 418,
                                           "application/json", b"{}")
    mt.check(undocumented is not None, "an undocumented status passed")


if __name__ == "__main__":
    sys.exit(mt.run_tests())
