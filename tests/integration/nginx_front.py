"""nginx_front: deploy/nginx-maison.conf, as shipped, run by nginx in front
of maisond nodes on loopback, for the tests that need a balancer
(test_nginx_tls.py, test_cluster.py). Stdlib only, plus the nginx binary.

- binary(): the nginx executable, or None (the tests skip without it).
- Front(directory, node_ports, cert, key): writes a copy of the shipped
  file with the nodes' ports (one to three: the file lists three servers
  in each upstream, the ones left over are removed), a free HTTPS port,
  the certificate and an access log in directory, and an nginx.conf that
  includes it. Each substitution must apply, so the shipped file keeps the
  shape the tests know (StartError otherwise). start() runs nginx and
  waits until GET /healthz answers 200 through it; https() sends one
  request over verified TLS; stop() quits nginx (SIGQUIT, then kill).
"""

import os
import re
import shutil
import signal
import subprocess
import time

import maison_test as mt
import tls_helpers as th

# The three node addresses of the shipped upstream blocks.
SHIPPED_NODES = ("10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080")


def binary():
    for path in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if path and os.access(path, os.X_OK):
            return path
    return None


def srcdir():
    return os.environ.get("MAISON_SRCDIR") or os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def replace(text, pattern, new, what):
    """text with every match of pattern replaced; StartError when there is
    none (the shipped file changed shape)."""
    out, n = re.subn(pattern, new, text, flags=re.M)
    if n == 0:
        raise mt.StartError("deploy/nginx-maison.conf no longer has %s" % what)
    return out


class Front:
    """nginx with the shipped configuration in front of node_ports."""

    def __init__(self, directory, node_ports, cert, key):
        if not 1 <= len(node_ports) <= len(SHIPPED_NODES):
            raise ValueError("1 to %d nodes" % len(SHIPPED_NODES))
        self.dir = directory
        self.node_ports = list(node_ports)
        self.cert, self.key = cert, key
        self.port = mt.free_port()
        self.proc = None
        self.conf = self.write_config()

    def write_config(self):
        """The shipped file with the nodes, port, certificate and log;
        returns the path of an nginx.conf that includes it."""
        with open(os.path.join(srcdir(), "deploy", "nginx-maison.conf")) as f:
            text = f.read()
        for n, shipped in enumerate(SHIPPED_NODES):
            pattern = r"^(\s*server )%s" % re.escape(shipped)
            what = "the node %s in its upstreams" % shipped
            if n < len(self.node_ports):
                text = replace(text, pattern, r"\g<1>127.0.0.1:%d"
                               % self.node_ports[n], what)
            else:
                text = replace(text, pattern + r".*\n", "", what)
        text = replace(text, r"^(\s*)listen 443 ssl;",
                       r"\g<1>listen 127.0.0.1:%d ssl;" % self.port,
                       "listen 443 ssl")
        for directive, value in (("ssl_certificate", self.cert),
                                 ("ssl_certificate_key", self.key),
                                 ("access_log", os.path.join(
                                     self.dir, "access.log"))):
            text = replace(text, r"^(\s*)%s \S+;" % directive,
                           r"\g<1>%s %s;" % (directive, value), directive)
        maison = os.path.join(self.dir, "maison.conf")
        with open(maison, "w") as f:
            f.write(text)
        conf = os.path.join(self.dir, "nginx.conf")
        temp = "".join("    %s_temp_path %s/%s;\n" % (kind, self.dir, kind)
                       for kind in ("client_body", "proxy", "fastcgi",
                                    "uwsgi", "scgi"))
        with open(conf, "w") as f:
            f.write("%s"
                    "worker_processes 1;\n"
                    "pid %s/nginx.pid;\n"
                    "error_log %s/error.log info;\n"
                    "events { worker_connections 512; }\n"
                    "http {\n%s    include %s;\n}\n"
                    % ("user root root;\n" if os.getuid() == 0 else "",
                       self.dir, self.dir, temp, maison))
        return conf

    def check_config(self):
        """(exit status, output) of nginx -t on the configuration."""
        p = subprocess.run([binary(), "-t", "-c", self.conf, "-p", self.dir],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        return p.returncode, p.stdout.decode()

    def start(self, timeout_s=30.0):
        """Runs nginx; returns once /healthz answers 200 through it.
        StartError with its error log when it does not."""
        self.proc = subprocess.Popen(
            [binary(), "-c", self.conf, "-p", self.dir, "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if self.https("GET", "/healthz", key=None)[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                with open(os.path.join(self.dir, "error.log")) as f:
                    raise mt.StartError("nginx did not serve: %s"
                                        % f.read()[-2000:])
            time.sleep(0.1)

    def https(self, method, path, key=None, body=None, timeout=30.0,
              headers=None):
        """One request through nginx over verified TLS: (status, lower-cased
        headers, body bytes)."""
        return th.https(self.port, method, path, self.cert, body=body,
                        key=key, timeout=timeout, headers=headers)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
