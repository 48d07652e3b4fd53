#!/usr/bin/python3
"""Addressing people expect, against the real server (docs/configuration.md, [delivery]
recipient_delimiter and catch-all aliases):

- with `recipient_delimiter = "+"`, RCPT bob+lists@ is accepted and the message lands in bob's
  Maildir, alice may send as alice+news@ (submission, AUTH), and an address that is itself a
  user's (exact match) wins over the cut;
- a catch-all alias "@test.example" of carol takes mail for any unknown address of the domain,
  but gives carol no right to send as those addresses (553);
- without the delimiter and the catch-all, bob+lists@ and unknown@ get 550 5.1.1.

usage: test_addressing.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pigeon_harness as harness  # noqa: E402
from pigeon_harness import address, password  # noqa: E402

BIN = harness.pigeon_binary()
harness.strip_binary_arg()
D = harness.DOMAIN

CAROL = {"carol": ("carol-Catch-4ll!", ["@" + D]), "first+last": ("first-Plus-last?", [])}


def body(token, sender="someone@client.example"):
    return "From: %s\r\nTo: whoever@%s\r\nSubject: %s\r\n\r\n%s\r\n" % (sender, D, token, token)


def rcpt_reply(port, rcpt):
    with harness.SmtpClient(port) as c:
        c.expect(220)
        c.cmd("EHLO client.example", 250)
        c.cmd("MAIL FROM:<someone@client.example>", 250)
        r = c.cmd("RCPT TO:<%s>" % rcpt)
        return r.code, " ".join(r.lines)


class WithDelimiterAndCatchAll(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.PigeonServer(BIN, extra_users=CAROL,
                                       extra_config='\n[delivery]\nrecipient_delimiter = "+"\n')
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_an_extension_delivers_to_the_user(self):
        r = harness.send_message(self.srv.ports["inbound"], "someone@client.example", ["bob+lists@" + D],
                                 body("to-bob-plus-lists"))
        self.assertEqual(r.code, 250, r.lines)
        got = self.srv.wait_for_messages("bob", 1, token="to-bob-plus-lists")
        self.assertEqual(len(got), 1)
        self.assertEqual(self.srv.messages_with("carol", "to-bob-plus-lists"), [])

    def test_an_exact_address_wins_over_the_cut(self):
        r = harness.send_message(self.srv.ports["inbound"], "someone@client.example", ["first+last@" + D],
                                 body("to-first-plus-last"))
        self.assertEqual(r.code, 250, r.lines)
        self.assertEqual(len(self.srv.wait_for_messages("first+last", 1, token="to-first-plus-last")), 1)

    def test_the_catch_all_takes_unknown_addresses(self):
        r = harness.send_message(self.srv.ports["inbound"], "someone@client.example", ["nobody-knows@" + D],
                                 body("to-the-catch-all"))
        self.assertEqual(r.code, 250, r.lines)
        self.assertEqual(len(self.srv.wait_for_messages("carol", 1, token="to-the-catch-all")), 1)

    def test_a_user_may_send_with_an_extension_but_not_as_the_catch_all(self):
        r = harness.send_message(self.srv.ports["submission"], "alice+news@" + D, ["someone@client.example"],
                                 body("alice-news", "alice+news@" + D), tls=True,
                                 auth=(address("alice"), password("alice")))
        self.assertEqual(r.code, 250, r.lines)
        with harness.SmtpClient(self.srv.ports["submission"]) as c:
            c.expect(220)
            c.cmd("EHLO client.example", 250)
            c.starttls()
            c.cmd("EHLO client.example", 250)
            c.auth_plain(address("carol"), CAROL["carol"][0])
            r = c.cmd("MAIL FROM:<stranger@%s>" % D)
            self.assertEqual(r.code, 553, r.lines)


class WithoutThem(unittest.TestCase):
    def test_extensions_and_unknown_addresses_are_refused(self):
        with harness.PigeonServer(BIN) as srv:
            for rcpt in ("bob+lists@" + D, "nobody-knows@" + D):
                code, text = rcpt_reply(srv.ports["inbound"], rcpt)
                self.assertEqual(code, 550, text)
                self.assertIn("5.1.1", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
