#!/usr/bin/python3
"""SPF at the inbound role's MAIL FROM, through the real server with DNS from a zone file
(pigeon_harness.DEFAULT_ZONE): pass is delivered with a Received-SPF field; fail is refused
with 550 5.7.23; a DNS timeout is deferred with 451 4.4.3 (or delivered and recorded when
spf.temperror = "accept"); the null reverse-path checks the HELO name; a domain without SPF
gets "none" and is delivered.

usage: test_spf.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()
BOB = h.address("bob")


def token(label):
    return "spf-%s-%d-%d" % (label, os.getpid(), time.monotonic_ns())


def transaction(srv, mail_from, helo="client.example.org"):
    """Runs EHLO + MAIL on the inbound port; returns (client, MAIL reply)."""
    c = h.SmtpClient(srv.ports["inbound"])
    c.expect(220)
    c.cmd("EHLO " + helo, 250)
    return c, c.cmd("MAIL FROM:<%s>" % mail_from)


def bye(c):
    c.cmd("QUIT", 221)
    c.sock.close()


def deliver(srv, mail_from, tok, helo="client.example.org"):
    c, r = transaction(srv, mail_from, helo)
    assert r.code == 250, r.lines
    c.cmd("RCPT TO:<%s>" % BOB, 250)
    c.cmd("DATA", 354)
    c.send("Subject: %s\r\n\r\nbody\r\n.\r\n" % tok)
    c.expect(250)
    bye(c)
    name, raw = srv.wait_for_messages("bob", 1, token=tok)[0]
    return raw.decode("utf-8", "replace")


class SpfDefaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = h.PigeonServer(BIN)
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_pass_is_delivered_with_received_spf(self):
        tok = token("pass")
        msg = deliver(self.srv, "someone@example.org", tok)
        self.assertIn("Received-SPF: pass (mx.test.example: domain of someone@example.org "
                      "designates 127.0.0.1 as permitted sender)", msg)
        self.assertIn('envelope-from="someone@example.org"', msg)
        self.assertIn("identity=mailfrom;", msg)
        # Our Received: is the first trace field; Received-SPF right below it.
        self.assertLess(msg.index("Received: from"), msg.index("Received-SPF:"))

    def test_fail_is_refused_with_5_7_23(self):
        c, r = transaction(self.srv, "forger@spf-fail.example")
        self.assertEqual(r.code, 550, r.lines)
        self.assertTrue(r.lines[-1].startswith("550 5.7.23 SPF validation failed"), r.lines)
        bye(c)

    def test_dns_timeout_is_deferred_with_4_4_3(self):
        c, r = transaction(self.srv, "someone@spf-temp.example")
        self.assertEqual(r.code, 451, r.lines)
        self.assertIn("451 4.4.3", r.lines[-1])
        bye(c)

    def test_domain_without_spf_gets_none_and_is_delivered(self):
        tok = token("none")
        msg = deliver(self.srv, "someone@no-spf.example", tok)
        self.assertIn("Received-SPF: none", msg)

    def test_null_reverse_path_checks_the_helo_name(self):
        c, r = transaction(self.srv, "", helo="spf-fail.example")
        self.assertEqual(r.code, 550, r.lines)
        bye(c)
        tok = token("helo")
        msg = deliver(self.srv, "", tok, helo="example.org")
        self.assertIn("Received-SPF: pass", msg)
        self.assertIn("identity=helo;", msg)

    def test_the_log_records_each_spf_result(self):
        bye(transaction(self.srv, "forger@spf-fail.example")[0])
        self.assertTrue(h.wait_until(
            lambda: "SPF fail for spf-fail.example from 127.0.0.1" in self.srv.log_text(), 5))


class SpfRelaxed(unittest.TestCase):
    """spf.temperror = "accept" and spf.reject_fail = false: deliver and record."""

    @classmethod
    def setUpClass(cls):
        cls.srv = h.PigeonServer(BIN, spf={"temperror": "accept", "reject_fail": False})
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_temperror_is_delivered_and_recorded(self):
        msg = deliver(self.srv, "someone@spf-temp.example", token("temp"))
        self.assertIn("Received-SPF: temperror", msg)

    def test_fail_is_delivered_and_recorded(self):
        msg = deliver(self.srv, "forger@spf-fail.example", token("fail"))
        self.assertIn("Received-SPF: fail", msg)


if __name__ == "__main__":
    unittest.main(verbosity=2)
