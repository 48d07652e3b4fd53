#!/usr/bin/python3
"""[metrics] on a running server: /metrics and /healthz over HTTP (Boost.Beast).

Traffic of known shape (an accepted inbound message, a refusal at RCPT, a STARTTLS session,
a submission with AUTH over implicit TLS) must move the counters by exactly what was sent; the
exposition must pass `promtool check metrics`, and docs/alerts.yml `promtool check rules`.
The endpoint is a network input: an oversized request gets 431, a slowloris client is cut off
at the read deadline, and a crowd of connections is bounded - while the SMTP listeners keep
serving.

usage: test_metrics.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import http.client
import os
import re
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pigeon_harness as h  # noqa: E402
import peers  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()
DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs")
SENDER = "someone@example.org"  # example.org's SPF allows loopback (pigeon_harness.DEFAULT_ZONE)
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')


def parse(text):
    """{'name{labels}': value} for every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def message(token):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@metrics.test>\r\n\r\n"
            "Body of %s.\r\n" % (SENDER, h.address("bob"), token, token, token))


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = peers.free_port()
        cls.srv = h.PigeonServer(BIN, extra_config='\n[metrics]\nlisten = "127.0.0.1:%d"\n' % cls.port)
        cls.srv.start()
        p = cls.srv.ports
        cls.label = {k: '127.0.0.1:%d' % p[k] for k in p}

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def get(self, path, method="GET"):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request(method, path)
            r = c.getresponse()
            return r.status, r.getheader("Content-Type"), r.read().decode()
        finally:
            c.close()

    def scrape(self):
        status, ctype, body = self.get("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        return body

    def value(self, samples, name):
        return samples.get(name, 0.0)

    def test_counts_move_by_what_was_sent(self):
        before = parse(self.scrape())
        L = self.label
        # 1. an inbound message, accepted (SPF pass), and 2. a refusal at RCPT, on one connection
        with h.SmtpClient(self.srv.ports["inbound"]) as c:
            c.expect(220)
            c.cmd("EHLO client.test", 250)
            # scraped during the session: the connection is already counted
            during = parse(self.scrape())
            self.assertEqual(self.value(during, 'pigeon_connections_total{listener="%s"}' % L["inbound"])
                             - self.value(before, 'pigeon_connections_total{listener="%s"}' % L["inbound"]), 1)
            c.cmd("MAIL FROM:<%s>" % SENDER, 250)
            c.cmd("RCPT TO:<nobody@%s>" % h.DOMAIN, 550)
            c.cmd("RCPT TO:<%s>" % h.address("bob"), 250)
            c.cmd("DATA", 354)
            c.send(message("metrics-inbound").encode() + b".\r\n")
            c.expect(250)
            c.cmd("QUIT", 221)
        # 3. STARTTLS on inbound, then a message
        r = h.send_message(self.srv.ports["inbound"], SENDER, [h.address("bob")], message("metrics-tls"), tls=True)
        self.assertEqual(r.code, 250)
        # 4. submission with AUTH over implicit TLS
        alice = (h.address("alice"), h.password("alice"))
        body = ("From: <%s>\r\nTo: <%s>\r\nSubject: metrics-sub\r\n\r\nhi\r\n" % (alice[0], h.address("bob")))
        r = h.send_message(self.srv.ports["submissions"], alice[0], [h.address("bob")], body,
                           implicit_tls=True, auth=alice)
        self.assertEqual(r.code, 250)
        self.srv.wait_for_messages("bob", 3, timeout=20)

        def delta(name):
            return self.value(after, name) - self.value(before, name)

        def settled():
            nonlocal after
            after = parse(self.scrape())
            return delta('pigeon_deliveries_total{where="local",result="sent"}') >= 3

        after = {}
        self.assertTrue(h.wait_until(settled, 20), after)
        self.assertEqual(delta('pigeon_connections_total{listener="%s"}' % L["inbound"]), 2)
        self.assertEqual(delta('pigeon_connections_total{listener="%s"}' % L["submissions"]), 1)
        self.assertEqual(delta('pigeon_connections_total{listener="%s"}' % L["submission"]), 0)
        self.assertEqual(delta('pigeon_messages_accepted_total{listener="%s"}' % L["inbound"]), 2)
        self.assertEqual(delta('pigeon_messages_accepted_total{listener="%s"}' % L["submissions"]), 1)
        self.assertEqual(delta('pigeon_smtp_refusals_total{stage="rcpt",code="550",enhanced="5.1.1"}'), 1)
        self.assertEqual(delta('pigeon_tls_handshakes_total{listener="%s",result="ok"}' % L["inbound"]), 1)
        self.assertEqual(delta('pigeon_tls_handshakes_total{listener="%s",result="ok"}' % L["submissions"]), 1)
        self.assertEqual(delta('pigeon_auth_attempts_total{result="success"}'), 1)
        self.assertEqual(delta('pigeon_auth_verdicts_total{check="spf",result="pass"}'), 2)
        self.assertEqual(delta('pigeon_deliveries_total{where="local",result="sent"}'), 3)
        self.assertEqual(delta('pigeon_delivery_delay_seconds_count{where="local"}'), 3)
        self.assertEqual(delta('pigeon_spool_commit_batch_messages_sum'), 3)
        self.assertGreaterEqual(delta('pigeon_spool_sync_seconds_count'), 3)
        self.assertGreaterEqual(delta('pigeon_dns_query_duration_seconds_count'), 2)  # SPF lookups
        self.assertIn('pigeon_queue_messages{state="held"}', after)

    def test_exposition_passes_promtool(self):
        h.send_message(self.srv.ports["inbound"], SENDER, [h.address("bob")], message("metrics-lint"))
        text = self.scrape()
        self.assertEqual(text.count("# TYPE pigeon_connections_total "), 1)
        p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode() + text)
        p = subprocess.run(["promtool", "check", "rules", os.path.join(DOCS, "alerts.yml")],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())

    def test_health_methods_and_paths(self):
        status, _, body = self.get("/healthz")
        self.assertEqual((status, body), (200, "ok\n"))
        self.assertEqual(self.get("/healthz", "HEAD")[0], 200)
        self.assertEqual(self.get("/metrics", "POST")[0], 405)
        self.assertEqual(self.get("/other")[0], 404)

    def raw(self, data, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out
                out += chunk
        except (ConnectionResetError, BrokenPipeError):
            return out
        finally:
            s.close()

    def test_oversized_request_is_refused(self):
        out = self.raw(b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 431"), out[:100])

    def test_slowloris_is_cut_off_and_smtp_keeps_serving(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=15)
        start = time.monotonic()
        try:
            s.sendall(b"GET /metrics HTTP/1.1\r\n")
            closed = False
            for _ in range(14):  # a byte a second: never a full request
                try:
                    s.sendall(b"X")
                    if s.recv(1, socket.MSG_DONTWAIT) == b"":
                        closed = True
                        break
                except BlockingIOError:
                    pass
                except (ConnectionResetError, BrokenPipeError):
                    closed = True
                    break
                time.sleep(1)
        finally:
            s.close()
        self.assertTrue(closed, "the endpoint kept a slowloris client open")
        self.assertLess(time.monotonic() - start, 10)  # read_timeout is 5 s
        h.normal_client_works(self.srv, label="metrics-slowloris")

    def test_many_connections_are_bounded(self):
        held = []
        try:
            for _ in range(40):
                held.append(socket.create_connection(("127.0.0.1", self.port), timeout=5))
            # the SMTP listeners serve while the endpoint is crowded
            h.normal_client_works(self.srv, label="metrics-crowd")
        finally:
            for s in held:
                s.close()
        # the crowd leaves no trace: the endpoint answers again (at once or within its deadline)
        self.assertTrue(h.wait_until(lambda: self.get("/healthz")[0] == 200, 15))


if __name__ == "__main__":
    unittest.main(verbosity=2)
