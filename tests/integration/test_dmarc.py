#!/usr/bin/python3
"""DKIM and DMARC at the inbound role's end of DATA, through the real server, DNS from a zone
file: aligned SPF or DKIM gives dmarc=pass in one Authentication-Results field; p=reject
without alignment is refused with 550 5.7.1 before the final reply; p=quarantine goes to the
Junk folder (and so does p=reject for a dmarc.never_reject domain); a message without a From:
domain is refused (RFC 7489 6.6.1); a message signed by dkimpy (Debian's python3-dkim)
verifies, and a changed body fails; a forged Authentication-Results field carrying our
authserv-id is renamed.

usage: test_dmarc.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import base64
import os
import sys
import time
import unittest
from xml.dom import minidom

import dkim
import nacl.signing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()
BOB = h.address("bob")

SEED = bytes(range(32))  # a fixed Ed25519 key: the test needs no randomness
PUBLIC = base64.b64encode(nacl.signing.SigningKey(SEED).verify_key.encode()).decode()

ZONE = h.DEFAULT_ZONE + """
_dmarc.example.org.     IN TXT "v=DMARC1; p=reject"
reject.example.         IN TXT "v=spf1 -all"
_dmarc.reject.example.  IN TXT "v=DMARC1; p=reject"
_dmarc.quarantine.example. IN TXT "v=DMARC1; p=quarantine"
_dmarc.spared.example.  IN TXT "v=DMARC1; p=reject"
_dmarc.dkim.example.    IN TXT "v=DMARC1; p=reject"
sel._domainkey.dkim.example. IN TXT "v=DKIM1; k=ed25519; p=%s"
""" % PUBLIC


def token(label):
    return "dmarc-%s-%d-%d" % (label, os.getpid(), time.monotonic_ns())


def message(from_addr, tok, extra=""):
    head = "From: %s\r\n" % from_addr if from_addr else ""
    return ("%s%sTo: %s\r\nSubject: %s\r\nDate: Sun, 22 Nov 2026 06:00:00 +0000\r\n"
            "Message-ID: <%s@test>\r\n\r\nbody of %s\r\n" % (extra, head, BOB, tok, tok, tok))


def send(srv, mail_from, text):
    """The whole transaction; returns the final reply."""
    c = h.SmtpClient(srv.ports["inbound"])
    try:
        c.expect(220)
        c.cmd("EHLO client.example.org", 250)
        c.cmd("MAIL FROM:<%s>" % mail_from, 250)
        c.cmd("RCPT TO:<%s>" % BOB, 250)
        c.cmd("DATA", 354)
        body = text.replace("\r\n.", "\r\n..")
        c.send(body + ".\r\n")
        r = c.reply()
        c.cmd("QUIT", 221)
        return r
    finally:
        c.sock.close()


def submit_as_alice(srv, text):
    """Alice's submission (STARTTLS, AUTH) of `text` to bob; returns the final reply."""
    alice = h.address("alice")
    c = h.SmtpClient(srv.ports["submission"])
    try:
        c.expect(220)
        c.cmd("EHLO client.test", 250)
        c.starttls()
        c.cmd("EHLO client.test", 250)
        c.auth_plain(alice, h.password("alice"))
        c.cmd("MAIL FROM:<%s>" % alice, 250)
        c.cmd("RCPT TO:<%s>" % BOB, 250)
        c.cmd("DATA", 354)
        c.send(text.replace("\r\n.", "\r\n..") + ".\r\n")
        r = c.reply()
        c.cmd("QUIT", 221)
        return r
    finally:
        c.sock.close()


def junk_messages(srv, tok):
    d = os.path.join(srv.maildir("bob"), ".Junk", "new")
    out = []
    if os.path.isdir(d):
        for name in os.listdir(d):
            with open(os.path.join(d, name), "rb") as f:
                data = f.read().decode("utf-8", "replace")
            if tok in data:
                out.append(data)
    return out


class Dmarc(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = h.PigeonServer(BIN, zone=ZONE,
                                 dmarc={"check": True, "never_reject": ["spared.example"]})
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def delivered(self, tok):
        name, raw = self.srv.wait_for_messages("bob", 1, token=tok)[0]
        return raw.decode("utf-8", "replace")

    def test_aligned_spf_passes_with_one_authentication_results(self):
        tok = token("spf")
        r = send(self.srv, "a@example.org", message("Alice <a@example.org>", tok))
        self.assertEqual(r.code, 250, r.lines)
        msg = self.delivered(tok)
        self.assertEqual(msg.count("Authentication-Results:"), 1, msg)
        self.assertIn("Authentication-Results: mx.test.example;", msg)
        self.assertIn("spf=pass smtp.mailfrom=example.org", msg)
        self.assertIn("dmarc=pass", msg)
        self.assertIn("header.from=example.org", msg)

    def test_reject_policy_without_alignment_is_refused_before_the_final_reply(self):
        tok = token("reject")
        r = send(self.srv, "a@example.org", message("boss@reject.example", tok))
        self.assertEqual(r.code, 550, r.lines)
        self.assertEqual(r.lines[-1], "550 5.7.1 Unauthenticated email from reject.example is "
                                      "not accepted due to domain's DMARC policy")
        time.sleep(0.5)
        self.assertEqual(self.srv.messages_with("bob", tok), [])

    def test_evaluations_are_recorded_for_the_aggregate_report(self):
        send(self.srv, "a@example.org", message("boss@reject.example", token("report")))
        out = self.srv.pigeon("dmarc", "report", "reject.example", "--since", "2000-01-01")
        self.assertEqual(out.returncode, 0, out.stderr)
        report = out.stdout if isinstance(out.stdout, str) else out.stdout.decode()
        self.assertIn("<domain>reject.example</domain>", report)
        self.assertIn("<disposition>reject</disposition>", report)
        self.assertIn("<source_ip>127.0.0.1</source_ip>", report)
        minidom.parseString(report)  # well-formed

    def test_quarantine_goes_to_junk(self):
        tok = token("quarantine")
        r = send(self.srv, "a@example.org", message("news@quarantine.example", tok))
        self.assertEqual(r.code, 250, r.lines)
        self.assertTrue(h.wait_until(lambda: junk_messages(self.srv, tok), 10))
        self.assertIn("dmarc=fail", junk_messages(self.srv, tok)[0])

    def test_never_reject_turns_reject_into_quarantine(self):
        tok = token("spared")
        r = send(self.srv, "a@example.org", message("x@spared.example", tok))
        self.assertEqual(r.code, 250, r.lines)
        self.assertTrue(h.wait_until(lambda: junk_messages(self.srv, tok), 10))

    def test_message_without_from_is_refused(self):
        r = send(self.srv, "a@example.org", message(None, token("nofrom")))
        self.assertEqual(r.code, 550, r.lines)
        self.assertTrue(r.lines[-1].startswith("550 5.7.1 Message must have exactly one From: domain"),
                        r.lines)

    def test_dkimpy_signature_aligns_and_a_changed_body_fails(self):
        tok = token("dkim")
        text = message("news@dkim.example", tok)
        sig = dkim.sign(text.encode(), b"sel", b"dkim.example", base64.b64encode(SEED),
                        signature_algorithm=b"ed25519-sha256",
                        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
        signed = sig.decode().replace("\n", "\r\n").replace("\r\r\n", "\r\n") + text
        r = send(self.srv, "bounce@example.org", signed)  # SPF passes for example.org, unaligned
        self.assertEqual(r.code, 250, r.lines)
        msg = self.delivered(tok)
        self.assertIn("dkim=pass header.d=dkim.example header.s=sel", msg)
        self.assertIn("dmarc=pass", msg)
        tampered = signed.replace("body of", "BODY OF")
        r = send(self.srv, "bounce@example.org", tampered)
        self.assertEqual(r.code, 550, r.lines)

    def test_forged_authentication_results_is_renamed(self):
        tok = token("forged")
        forged = "Authentication-Results: mx.test.example; dmarc=pass header.from=example.org\r\n"
        r = send(self.srv, "a@example.org", message("a@example.org", tok, extra=forged))
        self.assertEqual(r.code, 250, r.lines)
        msg = self.delivered(tok)
        self.assertIn("X-Original-Authentication-Results: mx.test.example; dmarc=pass", msg)
        self.assertEqual(msg.count("\nAuthentication-Results:"), 1, msg)


class SubmissionSigning(unittest.TestCase):
    """[[dkim.keys]]: what a user submits is signed with d= its From: domain, and the signature
    verifies with dkimpy (Debian's python3-dkim)."""

    @classmethod
    def setUpClass(cls):
        cls.srv = h.PigeonServer(BIN, zone=ZONE)
        key_file = os.path.join(cls.srv.state_dir, "s1.key")
        with open(key_file, "w") as f:  # dkimpy's Ed25519 format: base64 of the 32-byte seed
            f.write(base64.b64encode(SEED).decode() + "\n")
        os.chmod(key_file, 0o600)  # a private key others may read is refused
        cls.srv.extra_config = ('\n[[dkim.keys]]\ndomain = "test.example"\nselector = "s1"\n'
                                'key_file = %s\n' % h._toml_str(key_file))
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_submitted_mail_is_signed_and_verifies_with_dkimpy(self):
        tok = token("signed")
        alice = h.address("alice")
        r = submit_as_alice(self.srv, "From: Alice <%s>\r\nTo: %s\r\nSubject: %s\r\n\r\nsigned body\r\n"
                            % (alice, BOB, tok))
        self.assertEqual(r.code, 250, r.lines)
        name, raw = self.srv.wait_for_messages("bob", 1, token=tok)[0]
        self.assertIn(b"DKIM-Signature:", raw)
        self.assertIn(b"d=test.example", raw)
        crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        record = ("v=DKIM1; k=ed25519; p=%s" % PUBLIC).encode()

        def dnsfunc(name, timeout=5):
            return record if name.rstrip(b".") == b"s1._domainkey.test.example" else None

        self.assertTrue(dkim.verify(crlf, dnsfunc=dnsfunc), "dkimpy refused Pigeon's signature")
        self.assertFalse(dkim.verify(crlf.replace(b"signed body", b"SIGNED BODY"), dnsfunc=dnsfunc))


class ForgedResultsAlwaysRenamed(unittest.TestCase):
    """RFC 8601 5: an Authentication-Results field claiming our authserv-id is renamed however
    the server is configured: with DMARC off, whatever the case of its name and id, and on
    submission (a user's forged field must not reach a local reader). Inbound mail whose header
    does not parse is stored as it came (DMARC off), and its forged fields are still renamed;
    submission refuses such a header whole (550 5.6.0)."""

    FORGED = ("Authentication-Results: mx.test.example; dmarc=pass header.from=bank.example\r\n"
              "authentication-results: (x) MX.TEST.EXAMPLE; dkim=pass header.d=bank.example\r\n")

    @classmethod
    def setUpClass(cls):
        cls.srv = h.PigeonServer(BIN, zone=ZONE)  # dmarc.check = false
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def check_renamed(self, tok, count=2):
        name, raw = self.srv.wait_for_messages("bob", 1, token=tok)[0]
        msg = raw.decode("utf-8", "replace")
        self.assertEqual(msg.count("X-Original-Authentication-Results: "), count, msg)
        self.assertNotIn("\nAuthentication-Results", msg, msg)
        return msg

    def test_inbound_without_dmarc(self):
        tok = token("forged-nodmarc")
        r = send(self.srv, "a@example.org", message("a@example.org", tok, extra=self.FORGED))
        self.assertEqual(r.code, 250, r.lines)
        self.check_renamed(tok)

    def test_inbound_header_that_does_not_parse(self):
        tok = token("forged-malformed")
        extra = (self.FORGED + "this line is not a header field\r\n"
                 "Authentication-Results : mx.test.example; dmarc=pass\r\n")
        r = send(self.srv, "a@example.org", message("a@example.org", tok, extra=extra))
        self.assertEqual(r.code, 250, r.lines)
        self.assertIn("this line is not a header field", self.check_renamed(tok, count=3))

    def test_submission(self):
        tok = token("forged-submission")
        r = submit_as_alice(self.srv, self.FORGED + "From: <%s>\r\nTo: %s\r\nSubject: %s\r\n\r\nhi\r\n"
                            % (h.address("alice"), BOB, tok))
        self.assertEqual(r.code, 250, r.lines)
        self.check_renamed(tok)

    def test_submission_header_that_does_not_parse_is_refused(self):
        r = submit_as_alice(self.srv, "Authentication-Results : mx.test.example; dmarc=pass\r\n"
                                      "From: <%s>\r\n\r\nx\r\n" % h.address("alice"))
        self.assertEqual(r.code, 550, r.lines)
        self.assertTrue(r.lines[-1].startswith("550 5.6.0 Message header is malformed"), r.lines)


if __name__ == "__main__":
    unittest.main(verbosity=2)
