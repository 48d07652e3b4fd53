#!/usr/bin/python3
"""Pigeon and a real Dovecot (dovecot-imapd, dovecot-lmtpd), both on loopback: Pigeon receives
mail over SMTP and delivers it over LMTP (RFC 2033) to a private Dovecot, and Python's imaplib
reads it back.

- a message reaches INBOX intact: the octets sent are the end of what IMAP returns (Pigeon
  and Dovecot only add trace fields on top), dot-stuffed lines included;
- a recipient Dovecot refuses (5xx, a Pigeon user Dovecot does not know): a failure notice
  (DSN) to the sender, itself delivered over LMTP and read over IMAP;
- DMARC p=quarantine: the message is in bob's Junk mailbox over IMAP, not in INBOX;
- Dovecot stopped: the recipient is deferred (the queue keeps it), and delivered once Dovecot
  runs again (retried with the queue's backoff, first_retry_seconds = 1);
- the same over TCP ([delivery] lmtp = "127.0.0.1:port");
- [delivery] maildir with Dovecot's letters and no LMTP: Dovecot (mail_location with %d/%n)
  serves what Pigeon wrote.

usage: test_lmtp.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()
BOB = h.address("bob")
ALICE = h.address("alice")
CAROL = h.address("carol")  # a Pigeon user Dovecot does not know: LMTP refuses her

ZONE = h.DEFAULT_ZONE + '_dmarc.quarantine.example. IN TXT "v=DMARC1; p=quarantine"\n'
DOVECOT_USERS = {"alice": h.USERS["alice"][0], "bob": h.USERS["bob"][0]}


def token(label):
    return "lmtp-%s-%d-%d" % (label, os.getpid(), time.monotonic_ns())


def message(from_addr, to_addr, tok):
    # A line that starts with "." (dot-stuffed on both hops), a long line, 8-bit UTF-8 text.
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Sun, 22 Nov 2026 06:00:00 +0000\r\n"
            "Message-ID: <%s@client.example.org>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            "body of %s\r\n.a line with a leading dot\r\n..two dots\r\n%s\r\n"
            "caf\u00e9 \u2014 \u00fcber\r\n" % (from_addr, to_addr, tok, tok, tok, "x" * 900))


def send(srv, mail_from, rcpt, text):
    code, reply = h.peers.send(srv.ports["inbound"], mail_from, rcpt, text.encode("utf-8"),
                               ehlo="client.example.org")
    return code


def pigeon_with_lmtp(dovecot, **kw):
    extra = ('\n[outbound]\nfirst_retry_seconds = 1\nmax_retry_interval_seconds = 2\n'
             '\n[delivery]\nlmtp = %s\n' % h._toml_str(dovecot.lmtp_endpoint))
    return h.PigeonServer(BIN, zone=ZONE, dmarc={"check": True}, extra_config=extra,
                          extra_users={"carol": ("carol-Th1rd-pw!", [])}, **kw)


class LmtpToDovecot(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dovecot = h.DovecotPeer(DOVECOT_USERS)
        cls.dovecot.start()
        cls.srv = pigeon_with_lmtp(cls.dovecot)
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.cleanup()
        finally:
            cls.dovecot.cleanup()

    def test_a_message_reaches_inbox_intact(self):
        tok = token("intact")
        text = message("Alice <a@example.org>", BOB, tok)
        self.assertEqual(send(self.srv, "a@example.org", BOB, text), 250)
        found = self.dovecot.wait_for_imap("bob", tok)
        self.assertEqual(len(found), 1, self.srv.log_text() + self.dovecot.log())
        raw = found[0]
        sent = text.encode("utf-8")
        self.assertTrue(raw.endswith(sent), raw[-400:])
        # Above it: only trace fields (Dovecot's Return-Path and Delivered-To, Pigeon's own).
        added = raw[:len(raw) - len(sent)].decode("utf-8", "replace")
        names = re.findall(r"^([A-Za-z-]+):", added, re.M)
        self.assertIn("Return-Path", names)
        self.assertIn("Received", names)
        self.assertTrue(set(names) <= {"Return-Path", "Delivered-To", "Received", "Authentication-Results",
                                       "Received-SPF"}, names)
        self.assertIn("<a@example.org>", added)
        # Delivered over LMTP, so nothing in Pigeon's own Maildir.
        self.assertFalse(os.path.exists(self.srv.maildir("bob")))
        self.assertTrue(h.wait_until(lambda: re.search(r"to=<bob@test.example>, relay=lmtp:unix:.*status=sent",
                                                       self.srv.log_text()), 10), self.srv.log_text())

    def test_a_refused_recipient_gets_a_failure_notice(self):
        tok = token("refused")
        text = message(ALICE, "%s, %s" % (CAROL, BOB), tok)
        self.assertEqual(send(self.srv, ALICE, [CAROL, BOB], text), 250)
        # bob gets it; carol is refused by Dovecot (550 5.1.1) and alice gets the DSN.
        self.assertEqual(len(self.dovecot.wait_for_imap("bob", tok)), 1)
        dsn = self.dovecot.wait_for_imap("alice", "Final-Recipient: rfc822; " + CAROL, timeout=20)
        self.assertEqual(len(dsn), 1, self.srv.log_text())
        notice = dsn[0].decode("utf-8", "replace")
        self.assertIn("Action: failed", notice)
        self.assertRegex(notice, r"Status: 5\.1\.1")
        self.assertRegex(notice, r"Diagnostic-Code: smtp; 550")
        self.assertIn(tok, notice)  # the original message (or its headers) is returned
        self.assertTrue(h.wait_until(lambda: tok not in self.srv.queue_list() and CAROL not in self.srv.queue_list(),
                                     10), self.srv.queue_list())

    def test_quarantine_lands_in_junk(self):
        tok = token("junk")
        text = message("News <news@quarantine.example>", BOB, tok)
        self.assertEqual(send(self.srv, "a@example.org", BOB, text), 250)
        junk = self.dovecot.wait_for_imap("bob", tok, mailbox="Junk")
        self.assertEqual(len(junk), 1, self.srv.log_text() + self.dovecot.log())
        self.assertIn(b"dmarc=fail", junk[0])
        self.assertEqual(self.dovecot.imap_messages("bob", "INBOX").count(junk[0]), 0)
        self.assertTrue(any('"Junk"' in m or " Junk" in m for m in self.dovecot.imap_mailboxes("bob")))

    def test_z_dovecot_stopped_then_back(self):
        # (named to run last: it stops and restarts the store the others use)
        self.dovecot.stop()
        tok = token("retry")
        self.assertEqual(send(self.srv, "a@example.org", BOB, message("a@example.org", BOB, tok)), 250)
        # Deferred (the session Pigeon kept is gone), then retried: the socket refuses now.
        self.assertTrue(h.wait_until(lambda: re.search(r"status=deferred \(451 4\.4\.1 LMTP connection to unix:.* failed",
                                                       self.srv.log_text()), 15), self.srv.log_text())
        self.assertIn(BOB, self.srv.queue_list())  # kept, pending
        deferrals = len(re.findall(r"status=deferred", self.srv.log_text()))
        self.assertTrue(h.wait_until(lambda: len(re.findall(r"status=deferred", self.srv.log_text())) > deferrals,
                                     15), "no retry while Dovecot was down:\n" + self.srv.log_text())
        self.dovecot.start()
        found = self.dovecot.wait_for_imap("bob", tok, timeout=30)
        self.assertEqual(len(found), 1, self.srv.log_text())
        self.assertTrue(h.wait_until(lambda: BOB not in self.srv.queue_list(), 10))


class LmtpOverTcp(unittest.TestCase):
    """[delivery] lmtp = "127.0.0.1:port": the same delivery over a TCP connection."""

    def test_delivered_over_tcp(self):
        with h.DovecotPeer(DOVECOT_USERS) as dovecot:
            extra = '\n[delivery]\nlmtp = %s\n' % h._toml_str(dovecot.lmtp_tcp_endpoint)
            with h.PigeonServer(BIN, extra_config=extra) as srv:
                tok = token("tcp")
                text = message("a@example.org", BOB, tok)
                self.assertEqual(send(srv, "a@example.org", BOB, text), 250)
                found = dovecot.wait_for_imap("bob", tok)
                self.assertEqual(len(found), 1, srv.log_text() + dovecot.log())
                self.assertTrue(found[0].endswith(text.encode("utf-8")))
                self.assertTrue(h.wait_until(lambda: "relay=lmtp:%s" % dovecot.lmtp_tcp_endpoint in srv.log_text(),
                                             10), srv.log_text())


class MaildirTemplateForDovecot(unittest.TestCase):
    """[delivery] maildir = Dovecot's mail_location, no LMTP: Dovecot reads Pigeon's Maildir."""

    def test_dovecot_serves_what_pigeon_wrote(self):
        with h.DovecotPeer(DOVECOT_USERS) as dovecot:
            extra = '\n[delivery]\nmaildir = %s\n' % h._toml_str(dovecot.maildir_template)
            with h.PigeonServer(BIN, extra_config=extra) as srv:
                tok = token("maildir")
                text = message("a@example.org", BOB, tok)
                self.assertEqual(send(srv, "a@example.org", BOB, text), 250)
                new = os.path.join(dovecot.maildir("bob"), "new")
                self.assertTrue(h.wait_until(lambda: os.path.isdir(new) and os.listdir(new), 20), srv.log_text())
                self.assertFalse(os.path.exists(srv.maildir("bob")))  # not under state_dir
                dovecot.give_mailboxes_to_vmail()  # Pigeon ran as root here; Dovecot runs as vmail
                found = dovecot.wait_for_imap("bob", tok)
                self.assertEqual(len(found), 1, dovecot.log())
                self.assertTrue(found[0].endswith(text.encode("utf-8")), found[0][-300:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
