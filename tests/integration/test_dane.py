#!/usr/bin/python3
"""DANE for outbound SMTP (RFC 7672) through the real binary, with real DNSSEC: NSD serves a
zone signed with ldns-signzone on loopback; Pigeon's libunbound validates it (a stub zone and
the zone's DS as trust anchor) and looks up TLSA records for each MX host.

- good.dane.example: the MX's TLSA record (3 1 1) matches the certificate of the Postfix behind
  it: the message is delivered over TLS (Postfix's Received: says ESMTPS).
- bad.dane.example: same Postfix, but the TLSA record names another key: the handshake fails the
  DANE check, the recipient stays deferred, Postfix never sees its RCPT.
- strip.dane.example: the MX answers without STARTTLS (what a STARTTLS-stripping attacker
  shows): the delivery is deferred and no MAIL or RCPT is sent in clear.

The zone is dane.example, not under .test: libunbound, like unbound, answers the special-use
names of RFC 6761 (test., invalid., ...) itself with NXDOMAIN before any stub zone is asked.

usage: test_dane.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()
ALICE = h.address("alice")
TOOLS = ("nsd", "ldns-keygen", "ldns-signzone")


def spki_sha256(public_key):
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60).stdout.decode().strip()


class PlainSmtp:
    """A minimal SMTP server on 127.0.0.2:<port> that never offers STARTTLS and records every
    command line it gets (the attacker's view)."""

    def __init__(self, port):
        self.commands = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.2", port))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stop_flag = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        deadline = time.monotonic() + 300
        while not self.stop_flag and time.monotonic() < deadline:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            conn.settimeout(5)
            try:
                conn.sendall(b"220 strip.test ESMTP\r\n")
                buf = b""
                while True:
                    data = conn.recv(4096)
                    if not data:
                        break
                    buf += data
                    while b"\r\n" in buf:
                        line, buf = buf.split(b"\r\n", 1)
                        self.commands.append(line.decode(errors="replace"))
                        verb = line[:4].upper()
                        if verb == b"EHLO":
                            conn.sendall(b"250-strip.test\r\n250 PIPELINING\r\n")
                        elif verb == b"QUIT":
                            conn.sendall(b"221 bye\r\n")
                            raise EOFError
                        else:
                            conn.sendall(b"250 ok\r\n")
            except (EOFError, OSError):
                pass
            finally:
                conn.close()

    def close(self):
        self.stop_flag = True
        self.thread.join(timeout=5)
        self.sock.close()


@unittest.skipUnless(all(shutil.which(t) for t in TOOLS), "nsd and ldnsutils are needed")
class Dane(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pigeon-dane-")
        cls.pf = peers.PostfixPeer(domain="good.dane.example", relay_domain="unused.test")
        cls.pf.start()
        port = cls.pf.port
        with open(os.path.join(cls.pf.conf_dir, "tls", "cert.pem"), "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        good = spki_sha256(cert.public_key())
        other = spki_sha256(ec.generate_private_key(ec.SECP256R1()).public_key())
        cls.strip = PlainSmtp(port)

        zone = """$ORIGIN dane.example.
$TTL 300
@        IN SOA ns.dane.example. admin.dane.example. 1 3600 600 86400 300
@        IN NS  ns.dane.example.
ns       IN A   127.0.0.1
good     IN MX  10 mx-good.dane.example.
mx-good  IN A   127.0.0.1
_{p}._tcp.mx-good IN TLSA 3 1 1 {good}
bad      IN MX  10 mx-bad.dane.example.
mx-bad   IN A   127.0.0.1
_{p}._tcp.mx-bad  IN TLSA 3 1 1 {other}
strip    IN MX  10 mx-strip.dane.example.
mx-strip IN A   127.0.0.2
_{p}._tcp.mx-strip IN TLSA 3 1 1 {good}
""".format(p=port, good=good, other=other)
        with open(os.path.join(cls.tmp, "dane.example.zone"), "w") as f:
            f.write(zone)
        zsk = run(["ldns-keygen", "-a", "ECDSAP256SHA256", "dane.example."], cls.tmp)
        ksk = run(["ldns-keygen", "-k", "-a", "ECDSAP256SHA256", "dane.example."], cls.tmp)
        run(["ldns-signzone", "-n", "dane.example.zone", zsk, ksk], cls.tmp)
        anchor = os.path.join(cls.tmp, ksk + ".ds")
        cls.nsd_port = h.free_port()
        conf = """server:
  ip-address: 127.0.0.1@{port}
  zonesdir: "{d}"
  pidfile: "{d}/nsd.pid"
  database: ""
  username: ""
  xfrdfile: "{d}/xfrd.state"
  zonelistfile: "{d}/zone.list"
  xfrdir: "{d}"
  logfile: "{d}/nsd.log"
remote-control:
  control-enable: no
zone:
  name: dane.example.
  zonefile: dane.example.zone.signed
""".format(port=cls.nsd_port, d=cls.tmp)
        with open(os.path.join(cls.tmp, "nsd.conf"), "w") as f:
            f.write(conf)
        cls.nsd = subprocess.Popen(["nsd", "-d", "-c", os.path.join(cls.tmp, "nsd.conf")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   preexec_fn=h._die_with_parent)
        if not h.wait_until(lambda: cls._nsd_answers(), 15):
            raise RuntimeError("nsd did not start")
        cls.srv = h.PigeonServer(
            BIN,
            dns_lines=['trust_anchor_file = %s' % h._toml_str(anchor), "timeout_seconds = 3",
                       "", "[[dns.stub_zones]]", 'zone = "dane.example"',
                       'addresses = ["127.0.0.1@%d"]' % cls.nsd_port],
            spf={"check": False},
            extra_config="\n[outbound]\nmx_port = %d\nfirst_retry_seconds = 600\n"
                         "max_retry_interval_seconds = 600\n" % port)
        cls.srv.start()

    @classmethod
    def _nsd_answers(cls):
        try:
            with socket.create_connection(("127.0.0.1", cls.nsd_port), timeout=0.2):
                return True
        except OSError:
            return cls.nsd.poll() is not None and False

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        cls.pf.cleanup()
        cls.strip.close()
        cls.nsd.terminate()
        try:
            cls.nsd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            cls.nsd.kill()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def submit(self, rcpt, tok):
        r = h.send_message(self.srv.ports["submission"], ALICE, [rcpt],
                           "From: <%s>\r\nSubject: %s\r\n\r\nDANE test\r\n" % (ALICE, tok),
                           tls=True, auth=(ALICE, h.password("alice")))
        self.assertEqual(r.code, 250, r.lines)

    def test_matching_tlsa_delivers_over_tls(self):
        tok = "dane-good-%d" % os.getpid()
        self.submit("user@good.dane.example", tok)
        got = self.pf.wait_for_messages("user", 1, timeout=30)
        mine = [m for m in got if tok.encode() in m]
        self.assertEqual(len(mine), 1, self.srv.log_text()[-3000:])
        self.assertIn(b"with ESMTPS", mine[0])
        self.assertIn("TLS required, DANE", self.srv.log_text())

    def test_mismatching_tlsa_defers(self):
        tok = "dane-bad-%d" % os.getpid()
        self.submit("user@bad.dane.example", tok)
        self.assertTrue(h.wait_until(lambda: "to=<user@bad.dane.example>, relay=none" in self.srv.log_text() and "status=deferred" in self.srv.log_text(),
                                     30), self.srv.log_text()[-3000:])
        self.assertIn("DANE", self.srv.log_text())
        self.assertNotIn("bad.dane.example", self.pf.log())
        listing = self.srv.queue_list()
        self.assertIn("user@bad.dane.example", listing)
        self.assertIn("pending", listing)

    def test_stripped_starttls_defers_and_nothing_goes_in_clear(self):
        tok = "dane-strip-%d" % os.getpid()
        self.submit("user@strip.dane.example", tok)
        self.assertTrue(h.wait_until(
            lambda: "to=<user@strip.dane.example>, relay=none" in self.srv.log_text() and "status=deferred" in self.srv.log_text(), 30),
            self.srv.log_text()[-3000:])
        self.assertTrue(any(c.upper().startswith("EHLO") for c in self.strip.commands),
                        self.strip.commands)
        for c in self.strip.commands:
            self.assertFalse(c.upper().startswith(("MAIL", "RCPT", "DATA", "AUTH")), c)


if __name__ == "__main__":
    unittest.main(verbosity=2)
