"""Slow clients against Odoo's prefork workers, with and without the proxy
(a benchmark, not a test): the figures behind README "Deploying".

Starts Odoo with 2 workers on a free loopback port against ``--db`` (any
database of the suite) and nginx in front of it with
``deploy/nginx.conf.example`` (rewritten to loopback ports and a throw-away
self-signed certificate). Then, for each target (Odoo directly, then nginx):

1. opens ``--slow`` connections to the public API that send their headers
   and body one byte every ``--drip`` seconds (a slowloris-style client);
2. meanwhile times ``--pings`` sequential ``GET /web/health`` requests;
3. prints the median and worst ping, and the ratio of the worst direct ping
   to the worst ping through nginx.

    .venv/bin/python bench/slow_clients.py --db crm_demo
    .venv/bin/python bench/slow_clients.py --db crm_demo --slow 4 --seconds 20

Needs nginx (Debian's ``nginx`` package) and openssl on the PATH. Only
loopback traffic; every loop is bounded in count and time.
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from ingest import free_port, start_server

ROOT = Path(__file__).resolve().parent.parent


def nginx_conf(tmp, odoo_port, gevent_port, http_port, https_port):
    """The shipped sample, pointed at loopback ports and a temporary cert."""
    conf = (ROOT / "deploy" / "nginx.conf.example").read_text()
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    replacements = {
        "/etc/ssl/certs/ssl-cert-snakeoil.pem": str(cert),
        "/etc/ssl/private/ssl-cert-snakeoil.key": str(key),
        "127.0.0.1:8069": f"127.0.0.1:{odoo_port}",
        "127.0.0.1:8072": f"127.0.0.1:{gevent_port}",
        "listen 443": f"listen 127.0.0.1:{https_port}",
        "listen [::]:443": f"listen 127.0.0.1:{https_port + 1}",
        "listen 80": f"listen 127.0.0.1:{http_port}",
        "listen [::]:80": f"listen 127.0.0.1:{http_port + 1}",
    }
    for old, new in replacements.items():
        conf = conf.replace(old, new)
    conf = f"pid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'};\n" + conf
    conf = conf.replace("http {", f"http {{\n    access_log off;\n    client_body_temp_path {tmp};\n"
                        f"    proxy_temp_path {tmp};\n", 1)  # fmt: skip
    path = tmp / "nginx.conf"
    path.write_text(conf)
    return path


def slow_client(host, port, stop, tls, drip):
    """Send a request to the API one byte at a time until ``stop``."""
    body = b'{"events": [' + b" " * 4000 + b"]}"
    request = (
        b"POST /crm_contact_center/v1/events HTTP/1.1\r\nHost: odoo.example.com\r\n"
        b"Authorization: Bearer nope\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    while not stop.is_set():
        try:
            sock = socket.create_connection((host, port), timeout=5)
            if tls:
                import ssl

                ctx = ssl.create_default_context()
                ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
                sock = ctx.wrap_socket(sock, server_hostname="odoo.example.com")
            for byte in request:
                if stop.is_set():
                    break
                sock.send(bytes([byte]))
                time.sleep(drip)
            sock.close()
        except OSError:
            time.sleep(drip)  # the server closed us: come back, as an attacker would


def measure(name, url, host, port, tls, args):
    stop = threading.Event()
    threads = [
        threading.Thread(target=slow_client, args=(host, port, stop, tls, args.drip), daemon=True)
        for _ in range(args.slow)
    ]
    for thread in threads:
        thread.start()
    time.sleep(2)  # let the slow clients take the workers
    times = []
    deadline = time.monotonic() + args.seconds
    session = requests.Session()
    for _ in range(args.pings):
        if time.monotonic() > deadline:
            break
        start = time.monotonic()
        try:
            session.get(url + "/web/health", timeout=args.seconds, verify=False)
        except requests.RequestException:
            pass  # counted at its full wait
        times.append(time.monotonic() - start)
    stop.set()
    for thread in threads:
        thread.join(10)
    median, worst = statistics.median(times), max(times)
    print(
        f"{name:<8} {len(times):>5} pings  median {median * 1000:8.1f} ms  worst {worst * 1000:8.1f} ms"
    )
    return worst


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--slow", type=int, default=2, help="slow clients (default: the workers)")
    parser.add_argument("--drip", type=float, default=0.5, help="seconds between bytes")
    parser.add_argument("--pings", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30, help="bound of each measurement")
    args = parser.parse_args()
    if not shutil.which("nginx"):
        sys.exit("nginx is not installed (apt-get install nginx)")
    requests.packages.urllib3.disable_warnings()
    odoo_port, gevent_port = free_port(), free_port()
    http_port, https_port = free_port(), free_port()
    server, url = start_server(args.db, 2, odoo_port, gevent_port)
    tmp = Path(tempfile.mkdtemp(prefix="crm_nginx_"))
    proxy = None
    try:
        conf = nginx_conf(tmp, odoo_port, gevent_port, http_port, https_port)
        proxy = subprocess.Popen(["nginx", "-c", str(conf), "-g", "daemon off;"])
        time.sleep(1)
        direct = measure("direct", url, "127.0.0.1", odoo_port, False, args)
        proxied = measure(
            "nginx", f"https://127.0.0.1:{https_port}", "127.0.0.1", https_port, True, args
        )
        print(f"worst ping, direct / through nginx: {direct / proxied:.1f}x")
    finally:
        if proxy:
            proxy.terminate()
            proxy.wait(10)
        server.terminate()
        server.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
