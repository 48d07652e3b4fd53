#!/usr/bin/python3
"""The outbound role through the real server, against real peers on loopback:

- a message submitted on the submission port (STARTTLS + AUTH) to a remote domain is
  DKIM-signed, queued, routed and delivered to a real Postfix over STARTTLS, with its headers
  intact and dot-stuffing undone correctly; dkimpy verifies the signature as Postfix stored it;
- Postfix relays mail for Pigeon's domain to Pigeon's inbound role;
- against Postfix's smtp-sink: a 4xx at RCPT defers (attempts recorded, `pigeon queue list`
  shows it), a later attempt succeeds; a 5xx fails the recipient and an RFC 3464 DSN lands in
  the sender's Maildir (parsed with Python's email package); `pigeon queue flush` reaches a
  running server;
- SIGKILL while messages are being delivered loses nothing: after a restart every message
  arrives, and duplicates are bounded by what was in flight.

usage: test_outbound.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import base64
import email
import email.policy
import os
import signal
import sys
import time
import unittest

import dkim
import nacl.signing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()
ALICE = h.address("alice")
SEED = bytes(range(32, 64))
PUBLIC = base64.b64encode(nacl.signing.SigningKey(SEED).verify_key.encode()).decode()
COUNTER = [0]


def token(name):
    COUNTER[0] += 1
    return "%s-%d-%d" % (name, os.getpid(), COUNTER[0])


def outbound_config(routes, extra=""):
    text = ("\n[outbound]\nfirst_retry_seconds = 1\nmax_retry_interval_seconds = 2\n"
            "connect_timeout_seconds = 5\ncommand_timeout_seconds = 20\n" + extra)
    for domain, port, tls in routes:
        text += ('\n[[outbound.routes]]\ndomain = "%s"\nhost = "127.0.0.1"\nport = %d\n'
                 'tls = "%s"\n' % (domain, port, tls))
    return text


def submit(srv, rcpts, body, sender=ALICE):
    """alice submits on the submission port with STARTTLS and AUTH PLAIN (submission requires
    a From: field; one is added when the body has none). The body is dot-stuffed here."""
    if not body.startswith("From:") and "\r\nFrom:" not in body.split("\r\n\r\n")[0]:
        body = "From: <%s>\r\n" % sender + body
    stuffed = "\r\n".join(("." + l) if l.startswith(".") else l for l in body.split("\r\n"))
    r = h.send_message(srv.ports["submission"], sender, rcpts, stuffed, tls=True,
                       auth=(ALICE, h.password("alice")))
    if r.code != 250:
        raise h.SmtpError("expected 250 to the end of data, got %r" % r.lines)


class PostfixBothWays(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = h.PigeonServer(BIN)
        cls.pf = peers.PostfixPeer(relay_domain=h.DOMAIN, relay_port=cls.srv.ports["inbound"])
        cls.pf.start()
        key_file = os.path.join(cls.srv.state_dir, "s1.key")
        with open(key_file, "w") as f:  # dkimpy's Ed25519 format: base64 of the 32-byte seed
            f.write(base64.b64encode(SEED).decode() + "\n")
        os.chmod(key_file, 0o600)  # a private key others may read is refused
        cls.srv.extra_config = ('\n[[dkim.keys]]\ndomain = "%s"\nselector = "s1"\nkey_file = %s\n'
                                % (h.DOMAIN, h._toml_str(key_file)) +
                                outbound_config([("postfix.test", cls.pf.port, "required")]))
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        cls.pf.cleanup()

    def test_submitted_mail_reaches_postfix_signed_over_tls(self):
        tok = token("to-postfix")
        body = ("From: Alice <%s>\r\nTo: <user@postfix.test>\r\nSubject: %s\r\n"
                "Message-ID: <%s@test.example>\r\n\r\n"
                ".leading dot\r\n..two dots\r\n.\r\nline after a lone dot\r\nend\r\n"
                % (ALICE, tok, tok))
        submit(self.srv, ["user@postfix.test"], body)
        got = self.pf.wait_for_messages("user", 1, timeout=30)
        mine = [m for m in got if tok.encode() in m]
        self.assertEqual(len(mine), 1, "Postfix log:\n" + self.pf.log()[-3000:] +
                         "\nPigeon log:\n" + self.srv.log_text()[-3000:])
        raw = mine[0]
        self.assertIn(b"\n.leading dot\n..two dots\n.\nline after a lone dot\nend\n", raw)
        self.assertIn(b"Subject: " + tok.encode(), raw)
        self.assertIn(b"DKIM-Signature:", raw)
        # Postfix's Received: records that the hop from Pigeon used TLS.
        self.assertRegex(raw.decode(errors="replace"), r"with ESMTPS")
        crlf = raw.replace(b"\n", b"\r\n")
        record = ("v=DKIM1; k=ed25519; p=%s" % PUBLIC).encode()

        def dnsfunc(name, timeout=5):
            return record if name.rstrip(b".") == ("s1._domainkey." + h.DOMAIN).encode() else None

        self.assertTrue(dkim.verify(crlf, dnsfunc=dnsfunc), "dkimpy refused the delivered copy")
        self.assertTrue(h.wait_until(lambda: "queue is empty" in self.srv.queue_list(), 10),
                        self.srv.queue_list())
        self.assertIn("delivered", self.srv.log_text())

    def test_postfix_relays_to_pigeon_inbound(self):
        tok = token("from-postfix")
        peers.send(self.pf.port, "someone@example.org", h.address("bob"),
                   "From: someone@example.org\r\nSubject: %s\r\n\r\nvia Postfix\r\n" % tok)
        got = self.srv.wait_for_messages("bob", 1, token=tok, timeout=30)
        self.assertEqual(len(got), 1, self.pf.log()[-3000:])
        raw = got[0][1]
        self.assertIn(b"via Postfix", raw)
        # Both Received fields: Postfix's, then ours on top.
        self.assertLess(raw.find(b"by " + h.HOSTNAME.encode()), raw.find(b"by postfix.test"))


class RelayhostWithAuth(unittest.TestCase):
    """[outbound.relayhost] with tls = "required" (or "verify") and AUTH: Pigeon A hands
    everything to the submission port of Pigeon B (STARTTLS, then AUTH PLAIN as alice), and B
    routes it on to Postfix. A's password comes from its password_file."""

    def chain(self, tls_lines, zone=None, expect_delivery=True):
        with peers.PostfixPeer() as pf:
            b = h.PigeonServer(BIN, extra_config=outbound_config([("postfix.test", pf.port,
                                                                  "opportunistic")]))
            a = h.PigeonServer(BIN, zone=zone)
            try:
                b.start()
                pw_file = os.path.join(a.state_dir, "relay-password")
                with open(pw_file, "w") as f:
                    f.write(h.password("alice") + "\n")
                a.extra_config = outbound_config([]) + (
                    '\n[outbound.relayhost]\n%s\nport = %d\nusername = %s\npassword_file = %s\n'
                    % (tls_lines(a, b), b.ports["submission"], h._toml_str(ALICE),
                       h._toml_str(pw_file)))
                a.start()
                tok = token("via-relayhost")
                submit(a, ["carol@postfix.test"], "Subject: %s\r\n\r\nrelayed twice\r\n" % tok)
                logs = lambda: "A:\n" + a.log_text()[-2500:] + "\nB:\n" + b.log_text()[-2500:]
                if not expect_delivery:
                    self.assertTrue(h.wait_until(lambda: "certificate rejected" in a.log_text(), 30),
                                    logs())
                    self.assertNotIn("sasl_username=", b.log_text(), logs())
                    self.assertNotIn("AUTH failed", b.log_text(), logs())
                    return a.log_text()
                got = pf.wait_for_messages("carol", 1, timeout=30)
                mine = [m for m in got if tok.encode() in m]
                self.assertEqual(len(mine), 1, logs())
                # B accepted it from A's authenticated hop (its client= line names the user).
                self.assertIn("sasl_username=%s" % ALICE, b.log_text())
                # B's Received: says A's hop used TLS and AUTH (ESMTPSA, RFC 3848).
                self.assertRegex(mine[0].decode(errors="replace"), r"with ESMTPSA")
                self.assertNotIn(h.password("alice"), a.log_text())
                return a.log_text()
            finally:
                a.cleanup()
                b.cleanup()

    def test_chain_through_an_authenticating_relayhost(self):
        # tls = "required" is named explicitly (a password alone would mean "verify", which an
        # IP address cannot pass): accepted, with the start-up warning naming the key.
        log = self.chain(lambda a, b: 'host = "127.0.0.1"\ntls = "required"')
        self.assertIn('warning: config: outbound.relayhost.tls = "required": the password for %s goes '
                      'to 127.0.0.1 over TLS whose certificate is not checked' % ALICE, log)

    # With tls = "verify" the relayhost is a name (A's zone points it at loopback) and B's
    # self-signed certificate, which names it, is the one CA A trusts (pinned).
    VERIFY_ZONE = h.DEFAULT_ZONE + "%s. IN A 127.0.0.1\n" % h.HOSTNAME

    def test_verify_authenticates_the_relayhost_before_auth(self):
        log = self.chain(lambda a, b: 'host = %s\ntls = "verify"\nca_file = %s' % (
            h._toml_str(h.HOSTNAME), h._toml_str(os.path.join(b.state_dir, "tls", "cert.pem"))),
            zone=self.VERIFY_ZONE)
        self.assertIn("certificate verified", log)

    def test_verify_refuses_an_untrusted_certificate_and_sends_no_credentials(self):
        # A trusts only its own certificate: B's (same name, another key) is refused.
        log = self.chain(lambda a, b: 'host = %s\ntls = "verify"\nca_file = %s' % (
            h._toml_str(h.HOSTNAME), h._toml_str(os.path.join(a.state_dir, "tls", "cert.pem"))),
            zone=self.VERIFY_ZONE, expect_delivery=False)
        self.assertIn("not trusted", log)


class SinkFailures(unittest.TestCase):
    def setUp(self):
        self.sink = peers.SmtpSink(extra_args=["-a", "-C", "-F"])
        self.sink.start()
        self.srv = h.PigeonServer(BIN, extra_config=outbound_config(
            [("sink.test", self.sink.port, "opportunistic")]))
        self.srv.start()

    def tearDown(self):
        self.srv.cleanup()
        self.sink.cleanup()

    def test_soft_failure_is_retried_until_it_succeeds(self):
        self.sink.restart(soft=["RCPT"])
        tok = token("soft")
        submit(self.srv, ["x@sink.test"], "Subject: %s\r\n\r\nretry me\r\n" % tok)
        self.assertTrue(h.wait_until(lambda: "attempt" in self.srv.queue_list(), 15),
                        self.srv.log_text()[-3000:])
        listing = self.srv.queue_list()
        self.assertIn("x@sink.test", listing)
        self.assertIn("pending", listing)
        self.assertEqual(self.sink.messages(), [])
        self.sink.restart()
        got = self.sink.wait_for_messages(1, timeout=30)
        self.assertEqual(len(got), 1, self.srv.log_text()[-3000:])
        self.assertIn(tok.encode(), got[0].data)
        self.assertIn("deferred", self.srv.log_text())
        self.assertTrue(h.wait_until(lambda: "queue is empty" in self.srv.queue_list(), 10))

    def test_hard_failure_bounces_to_the_sender(self):
        self.sink.restart(hard=["RCPT"])
        tok = token("hard")
        submit(self.srv, ["nobody@sink.test"],
               "From: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@x>\r\n\r\nbounce me\r\n"
               % (ALICE, tok, tok))
        got = self.srv.wait_for_messages("alice", 1, timeout=30)
        dsns = [raw for _n, raw in got if b"delivery-status" in raw and tok.encode() in raw]
        self.assertEqual(len(dsns), 1, self.srv.log_text()[-3000:])
        msg = email.message_from_bytes(dsns[0], policy=email.policy.default)
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "delivery-status")
        self.assertIn("MAILER-DAEMON@", msg["From"])
        self.assertEqual(msg["Auto-Submitted"], "auto-replied")
        parts = list(msg.iter_parts())
        self.assertEqual([p.get_content_type() for p in parts],
                         ["text/plain", "message/delivery-status", "text/rfc822-headers"])
        status = parts[1].as_string()
        self.assertIn("Final-Recipient: rfc822; nobody@sink.test", status)
        self.assertIn("Action: failed", status)
        self.assertRegex(status, r"Status: 5\.\d+\.\d+")
        self.assertIn("Diagnostic-Code: smtp; 5", status)
        self.assertIn(tok, parts[2].as_string())  # the original Subject: is in the headers part
        self.assertTrue(h.wait_until(lambda: "queue is empty" in self.srv.queue_list(), 10))

    def test_queue_flush_reaches_the_running_server(self):
        # Long backoff: only `queue flush` brings the next attempt forward.
        self.srv.stop()
        self.srv.extra_config = outbound_config([("sink.test", self.sink.port, "opportunistic")]
                                                ).replace("first_retry_seconds = 1",
                                                          "first_retry_seconds = 3000").replace(
            "max_retry_interval_seconds = 2", "max_retry_interval_seconds = 3000")
        self.srv.start()
        self.sink.restart(soft=["MAIL"])
        tok = token("flush")
        submit(self.srv, ["y@sink.test"], "Subject: %s\r\n\r\nflush me\r\n" % tok)
        self.assertTrue(h.wait_until(lambda: "deferred" in self.srv.log_text(), 15))
        self.sink.restart()
        time.sleep(1)
        self.assertEqual(self.sink.messages(), [])
        r = self.srv.pigeon("queue", "flush")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = self.sink.wait_for_messages(1, timeout=20)
        self.assertEqual(len(got), 1, self.srv.log_text()[-3000:])

        # `queue retry ID` brings one message forward, the same way.
        self.sink.restart(soft=["MAIL"])
        tok = token("retry")
        submit(self.srv, ["y@sink.test"], "Subject: %s\r\n\r\nretry me\r\n" % tok)
        self.assertTrue(h.wait_until(lambda: self.srv.log_text().count("deferred") >= 2, 15))
        qid = [l.split()[0] for l in self.srv.queue_list().splitlines()
               if l and not l.startswith(" ")][0]
        self.sink.restart()
        r = self.srv.pigeon("queue", "retry", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(h.wait_until(
            lambda: any(tok.encode() in m.data for m in self.sink.messages()), 20),
            self.srv.log_text()[-3000:])
        r = self.srv.pigeon("queue", "retry", "01NOSUCHMESSAGE0")
        self.assertEqual(r.returncode, 1, r.stdout)


class CrashDuringDelivery(unittest.TestCase):
    def test_sigkill_while_delivering_loses_nothing(self):
        with peers.SmtpSink(extra_args=["-a", "-C", "-F", "-w", "1"]) as sink:
            srv = h.PigeonServer(BIN, extra_config=outbound_config(
                [("sink.test", sink.port, "none")]))
            try:
                srv.start()
                toks = [token("crash") for _ in range(6)]
                for t in toks:
                    submit(srv, ["z@sink.test"], "Subject: %s\r\n\r\ncrash test\r\n" % t)
                # Kill it while deliveries are in flight (smtp-sink waits 1 s before DATA's 354).
                time.sleep(0.5)
                srv.kill()
                srv.start()

                def arrived():
                    data = b"".join(m.data for m in sink.messages())
                    return all(t.encode() in data for t in toks)

                self.assertTrue(h.wait_until(arrived, 40), srv.log_text()[-3000:])
                counts = {t: sum(t.encode() in m.data for m in sink.messages()) for t in toks}
                dups = sum(c - 1 for c in counts.values())
                # Only transactions in flight at the kill may arrive twice (4 per destination).
                self.assertLessEqual(dups, 4, counts)
                self.assertTrue(h.wait_until(lambda: "queue is empty" in srv.queue_list(), 15))
            finally:
                srv.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
