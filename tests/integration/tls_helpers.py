"""tls_helpers: what the HTTPS tests share, stdlib only (and the openssl
command to make certificates).

- self_signed(dir, name): a self-signed EC certificate for localhost and
  127.0.0.1, made with openssl at run time; (cert path, key path).
- https(port, method, path, cafile, ...): one request over a new TLS
  connection that verifies the certificate against cafile and the host
  name; (status, lower-cased headers, body bytes).
- HttpsMaisond: maison_test.Maisond whose readiness probe speaks TLS.
"""

import http.client
import os
import shutil
import socket
import ssl
import subprocess
import time

import maison_test as mt


def have_openssl():
    return shutil.which("openssl") is not None


def self_signed(directory, name, san="DNS:localhost,IP:127.0.0.1"):
    """Makes DIR/name.crt and DIR/name.key (EC P-256, CN=localhost, two
    days); returns their paths."""
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=" + san],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)
    return cert, key


def context(cafile):
    """A client context trusting only cafile, verifying host names."""
    ctx = ssl.create_default_context(cafile=cafile)
    mt.check(ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED,
             "the client verifies the certificate and the host name")
    return ctx


def connect(port, cafile, host="localhost", timeout=30.0):
    """An HTTPSConnection to 127.0.0.1:port verified as host (maisond
    listens on IPv4 only; "localhost" may resolve to ::1 first)."""
    conn = http.client.HTTPSConnection(host, port, timeout=timeout,
                                       context=context(cafile))
    conn.sock = context(cafile).wrap_socket(
        socket.create_connection(("127.0.0.1", port), timeout=timeout),
        server_hostname=host)
    return conn


def https(port, method, path, cafile, body=None, key=None, timeout=30.0,
          host="localhost", headers=None):
    """One request on a new verified connection: (status, headers, body).
    key: an API key sent as Authorization: Bearer; body: a JSON text;
    headers: more header fields to send."""
    conn = connect(port, cafile, host, timeout)
    try:
        headers = dict(headers or {}, Connection="close")
        if key:
            headers["Authorization"] = "Bearer " + key
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


class HttpsMaisond(mt.Maisond):
    """maisond with --tls-cert/--tls-key; readiness probed over TLS with
    cafile."""

    def __init__(self, cert, key, cafile=None, extra_args=(), **kw):
        super().__init__(extra_args=["--tls-cert", cert, "--tls-key", key] +
                         list(extra_args), **kw)
        self.cafile = cafile or cert

    def wait_ready(self, timeout_s=60.0):
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise mt.StartError("%s exited with %s before ready; log:\n%s"
                                    % (self.name, self.proc.returncode,
                                       self.log_tail()))
            try:
                status, _, _ = https(self.port, "GET", "/readyz", self.cafile,
                                     timeout=2.0)
                if status == 200:
                    return
                last = "HTTP %d" % status
            except (OSError, http.client.HTTPException) as e:
                last = str(e)
            time.sleep(0.05)
        raise mt.StartError("%s not ready over TLS after %.0f s (last: %s); "
                            "log:\n%s" % (self.name, timeout_s, last,
                                          self.log_tail()))
