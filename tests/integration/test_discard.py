#!/usr/bin/python3
"""[delivery] discard on a running server: mail to a discard address is accepted like a local
user's (250 at RCPT and at the end of data, the spool's usual promise), then local delivery
drops it: no Maildir copy anywhere, and the spool empties. A message to a discard address and
a user together reaches the user only. An unknown local address is still refused.

usage: test_discard.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()

NOREPLY = h.address("noreply")
SINK = h.address("bench-sink")
SENDER = "someone@example.org"  # example.org's SPF allows loopback (pigeon_harness.DEFAULT_ZONE)


def message(token, to):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@discard.test>\r\n\r\n"
            "Body of %s.\r\n" % (SENDER, to, token, token, token))


def mail_files(srv):
    """Every file under <state>/mail (Maildir copies of any user)."""
    out = []
    for root, _dirs, files in os.walk(os.path.join(srv.state_dir, "mail")):
        out += [os.path.join(root, f) for f in files]
    return out


def queue_is_empty(srv):
    return "queue is empty" in srv.queue_list()


class Discard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = h.PigeonServer(
            BIN, extra_config='\n[delivery]\ndiscard = ["%s", "%s"]\n' % (NOREPLY, SINK.upper()))
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def smtp(self):
        s = smtplib.SMTP("127.0.0.1", self.srv.ports["inbound"], local_hostname="client.test",
                         timeout=15)
        self.addCleanup(s.close)
        self.assertEqual(s.ehlo()[0], 250)
        return s

    def test_a_discarded_message_is_accepted_and_leaves_no_trace(self):
        s = self.smtp()
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(NOREPLY)[0], 250)
        self.assertEqual(s.rcpt(SINK)[0], 250)  # configured in upper case: matched regardless
        code, text = s.data(message("discard-only", NOREPLY))
        self.assertEqual(code, 250, text)
        s.quit()
        self.assertTrue(h.wait_until(lambda: queue_is_empty(self.srv), 20),
                        self.srv.queue_list() + self.srv.log_text())
        self.assertEqual(mail_files(self.srv), [])

    def test_a_mixed_message_reaches_only_the_user(self):
        s = self.smtp()
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt(NOREPLY)[0], 250)
        self.assertEqual(s.rcpt(h.address("bob"))[0], 250)
        code, text = s.data(message("discard-mixed", h.address("bob")))
        self.assertEqual(code, 250, text)
        s.quit()
        msgs = self.srv.wait_for_messages("bob", 1, token="discard-mixed")
        self.assertEqual(len(msgs), 1)
        self.assertTrue(h.wait_until(lambda: queue_is_empty(self.srv), 20),
                        self.srv.queue_list() + self.srv.log_text())
        self.assertFalse(os.path.exists(self.srv.maildir("noreply")))
        self.assertTrue(all("/bob/Maildir/" in f for f in mail_files(self.srv)), mail_files(self.srv))

    def test_an_unknown_local_address_is_still_refused(self):
        s = self.smtp()
        self.assertEqual(s.mail(SENDER)[0], 250)
        code, text = s.rcpt(h.address("noreply2"))
        self.assertEqual(code, 550, text)
        s.rset()
        s.quit()

    def test_show_config_prints_the_discard_list(self):
        r = self.srv.pigeon("show-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('[delivery]\ndiscard = ["%s", "%s"]' % (NOREPLY, SINK.upper()),
                      r.stdout.decode())


if __name__ == "__main__":
    unittest.main()
