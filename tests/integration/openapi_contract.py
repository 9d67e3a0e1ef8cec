"""openapi_contract: api/openapi.yaml as a checker, so the contract cannot
drift from the code.

- load(path): reads the document (python3-yaml) and checks it is a
  well-formed OpenAPI 3.0 document as far as the tests rely on it: the
  version, every operation has responses, every $ref resolves, and every
  schema in it is a valid JSON Schema (python3-jsonschema, Draft 4: the
  dialect OpenAPI 3.0 schemas are based on). Returns a Contract, or raises
  ContractError saying what is wrong.
- Contract.check_response(method, path, status, content_type, body): the
  operation that path and method name; the status must be one it
  documents (or `default`); a JSON body must match the response's schema;
  a response documented without content must have none. Returns None, or
  a message saying what does not match.
- Contract.routes(): every (method, path template) the document has, to
  compare with the router's table (tests/integration/test_openapi.py).

OpenAPI 3.0 schemas are JSON Schema with a few differences; the one that
changes validation, `nullable: true`, is rewritten into a type union
before validating. Unknown keywords (`example`, `readOnly`, ...) are
ignored by JSON Schema itself.
"""

import json
import re
import urllib.parse
import warnings

import yaml

with warnings.catch_warnings():
    # Newer jsonschema deprecates RefResolver; Debian 12's (4.10) has only
    # it, and it works in both.
    warnings.simplefilter("ignore", DeprecationWarning)
    import jsonschema
    from jsonschema import RefResolver

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class ContractError(Exception):
    """The document itself is not usable as a contract."""


def _nullable_to_union(node):
    """Returns a copy of an OpenAPI schema tree with `nullable: true`
    turned into what JSON Schema understands."""
    if isinstance(node, list):
        return [_nullable_to_union(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_union(v) for k, v in node.items()
           if k != "nullable"}
    if node.get("nullable") is True:
        if "type" in out:
            t = out["type"]
            out["type"] = (t if isinstance(t, list) else [t]) + ["null"]
            if "enum" in out:
                out["enum"] = list(out["enum"]) + [None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _walk_refs(node, where, found):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.append((where, ref))
        for k, v in node.items():
            _walk_refs(v, where + "/" + str(k), found)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _walk_refs(v, "%s/%d" % (where, i), found)


def _resolve_pointer(doc, ref):
    if not ref.startswith("#/"):
        raise ContractError("only local $refs are used here, got %r" % ref)
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise ContractError("$ref %r does not resolve" % ref)
        node = node[part]
    return node


class Contract:
    def __init__(self, doc):
        self.doc = doc
        self.schema_root = _nullable_to_union(doc)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.resolver = RefResolver.from_schema(self.schema_root)
        self._ops = []      # (method, template, segments, operation)
        for template, item in doc["paths"].items():
            segs = template.strip("/").split("/")
            for method in METHODS:
                if method in item:
                    self._ops.append((method.upper(), template, segs,
                                      item[method]))
        # Literal segments before captures: the more literal, the better.
        self._ops.sort(key=lambda o: sum(s.startswith("{") for s in o[2]))

    def routes(self):
        return {(m, t) for m, t, _, _ in self._ops}

    def _deref(self, node):
        while isinstance(node, dict) and "$ref" in node:
            node = _resolve_pointer(self.doc, node["$ref"])
        return node

    def operation(self, method, path):
        """The (template, operation) of method and path, or None."""
        raw = path.split("?", 1)[0]
        segs = [urllib.parse.unquote(s) for s in raw.strip("/").split("/")]
        for m, template, tsegs, op in self._ops:
            if m != method or len(tsegs) != len(segs):
                continue
            if all(t.startswith("{") and s != "" or t == s
                   for t, s in zip(tsegs, segs)):
                return template, op
        return None

    def check_response(self, method, path, status, content_type, body):
        found = self.operation(method, path)
        if found is None:
            return None     # no route: the router's 404/405, not a contract
        template, op = found
        responses = op.get("responses", {})
        spec = responses.get(str(status),
                             responses.get("%dXX" % (status // 100),
                                           responses.get("default")))
        where = "%s %s -> HTTP %d" % (method, template, status)
        if spec is None:
            return "%s: status not documented (documented: %s)" % (
                where, ", ".join(sorted(responses)))
        spec = self._deref(spec)
        content = spec.get("content") or {}
        if not content:
            if body:
                return "%s: documented without a body, got %r" % (
                    where, body[:200])
            return None
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media not in content:
            return "%s: Content-Type %r not documented (documented: %s)" % (
                where, media, ", ".join(sorted(content)))
        schema = (content[media] or {}).get("schema")
        if schema is None or not media.endswith("json"):
            return None
        try:
            value = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            return "%s: body is not JSON (%s): %r" % (where, e, body[:200])
        validator = jsonschema.Draft4Validator(
            _nullable_to_union(schema), resolver=self.resolver)
        errors = sorted(validator.iter_errors(value), key=lambda e: e.path)
        if errors:
            e = errors[0]
            return "%s: body does not match its schema at %s: %s" % (
                where, "/".join(str(p) for p in e.absolute_path) or "(root)",
                e.message[:300])
        return None


def _check_document(doc):
    if not isinstance(doc, dict):
        raise ContractError("the document is not a mapping")
    version = str(doc.get("openapi", ""))
    if not re.match(r"^3\.0\.\d+$", version):
        raise ContractError("openapi: expected 3.0.x, got %r" % version)
    for key in ("info", "paths"):
        if not isinstance(doc.get(key), dict):
            raise ContractError("%s: missing or not a mapping" % key)
    refs = []
    _walk_refs(doc, "#", refs)
    for where, ref in refs:
        try:
            _resolve_pointer(doc, ref)
        except ContractError as e:
            raise ContractError("%s: %s" % (where, e))
    schemes = (doc.get("components") or {}).get("securitySchemes") or {}
    for template, item in doc["paths"].items():
        if not template.startswith("/"):
            raise ContractError("path %r must start with /" % template)
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            where = "%s %s" % (method.upper(), template)
            if not op.get("responses"):
                raise ContractError("%s: no responses" % where)
            for req in op.get("security", doc.get("security", [])) or []:
                for name in req:
                    if name not in schemes:
                        raise ContractError("%s: unknown security scheme %r"
                                            % (where, name))
    # Every schema, wherever it sits, must itself be valid JSON Schema.
    converted = _nullable_to_union(doc)
    for name, schema in ((converted.get("components") or {})
                         .get("schemas") or {}).items():
        try:
            jsonschema.Draft4Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            raise ContractError("components/schemas/%s: %s"
                                % (name, e.message))


def load(path):
    with open(path, "r", encoding="utf-8") as f:
        try:
            doc = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ContractError("%s: not YAML: %s" % (path, e))
    _check_document(doc)
    return Contract(doc)
