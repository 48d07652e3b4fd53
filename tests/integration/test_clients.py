#!/usr/bin/python3
"""Real clients against a running pigeon: swaks and Python's smtplib.

Inbound delivery into Maildir (Received: on top, body intact, one file per recipient),
STARTTLS on the inbound and submission listeners, implicit TLS, AUTH PLAIN and LOGIN (and
535 5.7.8), AUTH before TLS (530 5.7.0), relay denied, unknown user, oversize message, too many
recipients, pipelining, and the submission policy: Date/Message-ID added, sender ownership
(553 5.7.1), relay via submission stays queued.

usage: test_clients.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import os
import smtplib
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()
SWAKS = "/usr/bin/swaks"
MAX_OCTETS = 65536

ALICE, BOB, SALES = h.address("alice"), h.address("bob"), h.address("sales")


def token(label):
    return "tok-%s-%d-%d" % (label, os.getpid(), time.monotonic_ns())


def swaks(*args, timeout=60):
    cmd = [SWAKS, "--server", "127.0.0.1", "--helo", "client.test", "--timeout", "15"] + list(args)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def body_of(raw):
    return raw.decode("utf-8", "replace").split("\n\n", 1)[1]


class Clients(unittest.TestCase):
    srv = None

    @classmethod
    def setUpClass(cls):
        cls.srv = h.PigeonServer(BIN, limits={"max_message_octets": MAX_OCTETS,
                                              "max_recipients": 100}).start()

    @classmethod
    def tearDownClass(cls):
        if cls.srv:
            status = cls.srv.stop()
            cls.srv.cleanup()
            assert status == 0, "pigeon exited with %r" % (status,)

    @property
    def inbound(self):
        return self.srv.ports["inbound"]

    @property
    def submission(self):
        return self.srv.ports["submission"]

    @property
    def submissions(self):
        return self.srv.ports["submissions"]

    def smtp(self, port, implicit=False):
        if implicit:
            return smtplib.SMTP_SSL("127.0.0.1", port, local_hostname="client.test", timeout=15,
                                    context=h.client_tls_context())
        return smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=15)

    def assert_delivered_once(self, user, tok, timeout=20):
        msgs = self.srv.wait_for_messages(user, 1, token=tok, timeout=timeout)
        time.sleep(0.2)  # a second copy would show up right behind the first
        msgs = self.srv.messages_with(user, tok)
        self.assertEqual(len(msgs), 1, "%s: expected exactly one file with %s, got %d"
                         % (user, tok, len(msgs)))
        return msgs[0][1]

    def assert_not_delivered(self, users, tok):
        # Delivery is one worker in arrival order: once a later probe is in, so is the rest.
        h.normal_client_works(self.srv, label="check")
        for u in users:
            self.assertEqual(self.srv.messages_with(u, tok), [], "%s got %s" % (u, tok))

    def assert_received_on_top(self, raw, protocol):
        names = h.field_names(raw)
        self.assertEqual(names[:3], ["return-path", "delivered-to", "received"], names)
        received = h.header_block(raw)[2]
        self.assertRegex(received, r"^Received: from client\.test \(\[127\.0\.0\.1\]\) "
                         r"by mx\.test\.example \(Pigeon\) with %s[ ;]" % protocol)

    # ------------------------------------------------------------------ swaks

    def test_swaks_plain_inbound_delivery_into_maildir(self):
        tok = token("swaks-plain")
        rc, out = swaks("--port", str(self.inbound), "--from", "sender@ext.example",
                        "--to", BOB, "--header", "Subject: " + tok,
                        "--body", "Hello %s\nsecond line\n.leading dot\n" % tok)
        self.assertEqual(rc, 0, out)
        self.assertIn("250 2.0.0 OK: queued as", out)
        raw = self.assert_delivered_once("bob", tok)
        self.assert_received_on_top(raw, "ESMTP")
        self.assertIn("Hello %s\nsecond line\n.leading dot\n" % tok, body_of(raw))
        self.assertEqual(self.srv.messages_with("alice", tok), [])

    def test_swaks_starttls_inbound(self):
        tok = token("swaks-starttls")
        rc, out = swaks("--port", str(self.inbound), "--tls", "--from", "sender@ext.example",
                        "--to", ALICE, "--header", "Subject: " + tok, "--body", "tls " + tok)
        self.assertEqual(rc, 0, out)
        self.assertIn("220 2.0.0 Ready to start TLS", out)
        raw = self.assert_delivered_once("alice", tok)
        self.assert_received_on_top(raw, "ESMTPS")

    def test_swaks_starttls_submission_auth_plain(self):
        tok = token("swaks-sub-plain")
        rc, out = swaks("--port", str(self.submission), "--tls", "--auth", "PLAIN",
                        "--auth-user", ALICE, "--auth-password", h.password("alice"),
                        "--from", ALICE, "--to", BOB, "--header", "Subject: " + tok,
                        "--body", "sub " + tok)
        self.assertEqual(rc, 0, out)
        self.assertIn("235 2.7.0 Authentication successful", out)
        raw = self.assert_delivered_once("bob", tok)
        self.assert_received_on_top(raw, "ESMTPSA")

    def test_swaks_implicit_tls_auth_login(self):
        tok = token("swaks-465-login")
        rc, out = swaks("--port", str(self.submissions), "--tlsc", "--auth", "LOGIN",
                        "--auth-user", BOB, "--auth-password", h.password("bob"),
                        "--from", BOB, "--to", ALICE, "--header", "Subject: " + tok,
                        "--body", "implicit " + tok)
        self.assertEqual(rc, 0, out)
        self.assertIn("334 VXNlcm5hbWU6", out)
        self.assertIn("235 2.7.0", out)
        raw = self.assert_delivered_once("alice", tok)
        self.assert_received_on_top(raw, "ESMTPSA")

    def test_swaks_auth_failure_535(self):
        rc, out = swaks("--port", str(self.submission), "--tls", "--auth", "PLAIN",
                        "--auth-user", ALICE, "--auth-password", "wrong-password",
                        "--from", ALICE, "--to", BOB)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("535 5.7.8", out)

    def test_swaks_relay_denied(self):
        rc, out = swaks("--port", str(self.inbound), "--from", "sender@ext.example",
                        "--to", "victim@elsewhere.example")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("554 5.7.1", out)

    def test_swaks_unknown_user(self):
        rc, out = swaks("--port", str(self.inbound), "--from", "sender@ext.example",
                        "--to", "nobody@test.example")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("550 5.1.1", out)

    def test_swaks_oversize_message(self):
        tok = token("swaks-big")
        body = tok + "\n" + ("x" * 70 + "\n") * (MAX_OCTETS // 71 + 100)
        rc, out = swaks("--port", str(self.inbound), "--from", "sender@ext.example",
                        "--to", BOB, "--header", "Subject: " + tok, "--body", body,
                        "--silent", "2")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("552 5.3.4", out)
        self.assert_not_delivered(["bob"], tok)

    def test_swaks_pipelined_transaction(self):
        tok = token("swaks-pipe")
        rc, out = swaks("--port", str(self.inbound), "--pipeline", "--from", "sender@ext.example",
                        "--to", "%s,%s" % (ALICE, BOB), "--header", "Subject: " + tok,
                        "--body", "pipelined " + tok)
        self.assertEqual(rc, 0, out)
        self.assertIn("PIPELINING", out)
        self.assert_delivered_once("alice", tok)
        self.assert_delivered_once("bob", tok)

    # ------------------------------------------------------------------ smtplib

    def test_smtplib_plain_inbound_one_file_per_recipient(self):
        tok = token("smtplib-plain")
        body = ("Hello %s\r\n.one leading dot\r\n..two leading dots\r\n\r\nlast line\r\n" % tok)
        msg = ("From: <sender@ext.example>\r\nTo: <%s>\r\nSubject: %s\r\n\r\n" % (ALICE, tok)) + body
        with self.smtp(self.inbound) as s:
            refused = s.sendmail("sender@ext.example", [ALICE, SALES, BOB], msg)
        self.assertEqual(refused, {})
        # alice and her alias sales share one Maildir: one file there, one for bob.
        for user in ("alice", "bob"):
            raw = self.assert_delivered_once(user, tok)
            self.assert_received_on_top(raw, "ESMTP")
            self.assertEqual(body_of(raw), body.replace("\r\n", "\n"))

    def _login(self, s, user, mech):
        s.user, s.password = h.address(user), h.password(user)
        authobj = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login}[mech]
        return s.auth(mech, authobj, initial_response_ok=(mech == "PLAIN"))

    def test_smtplib_starttls_submission_auth_plain_delivers(self):
        tok = token("smtplib-587-plain")
        # With Date: and Message-ID:, so that nothing is added (see the test below for that).
        msg = ("Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <%s@client.test>\r\n"
               "From: Alice <%s>\r\nTo: %s\r\nSubject: %s\r\n\r\nvia 587 %s\r\n"
               % (tok, ALICE, BOB, tok, tok))
        with self.smtp(self.submission) as s:
            s.starttls(context=h.client_tls_context())
            s.ehlo()
            code, resp = self._login(s, "alice", "PLAIN")
            self.assertEqual(code, 235, resp)
            self.assertEqual(s.sendmail(ALICE, [BOB], msg), {})
        raw = self.assert_delivered_once("bob", tok)
        self.assert_received_on_top(raw, "ESMTPSA")

    def test_smtplib_implicit_tls_auth_login_delivers(self):
        tok = token("smtplib-465-login")
        msg = "From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nvia 465 %s\r\n" % (BOB, ALICE, tok, tok)
        with self.smtp(self.submissions, implicit=True) as s:
            s.ehlo()
            self.assertIn("LOGIN", s.esmtp_features.get("auth", ""))
            self.assertFalse(s.has_extn("starttls"), "STARTTLS offered inside implicit TLS")
            code, resp = self._login(s, "bob", "LOGIN")
            self.assertEqual(code, 235, resp)
            self.assertEqual(s.sendmail(BOB, [ALICE], msg), {})
        self.assert_delivered_once("alice", tok)

    def test_smtplib_auth_failure_535_5_7_8(self):
        for mech, port, implicit in (("PLAIN", self.submission, False),
                                     ("LOGIN", self.submissions, True)):
            with self.smtp(port, implicit=implicit) as s:
                if not implicit:
                    s.starttls(context=h.client_tls_context())
                s.ehlo()
                s.user, s.password = ALICE, "not-the-password"
                authobj = s.auth_plain if mech == "PLAIN" else s.auth_login
                with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
                    s.auth(mech, authobj, initial_response_ok=(mech == "PLAIN"))
                self.assertEqual(cm.exception.smtp_code, 535)
                self.assertTrue(cm.exception.smtp_error.startswith(b"5.7.8"), cm.exception)
                # Unknown user: the same answer (no user enumeration).
                s.user = "nobody@test.example"
                with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
                    s.auth(mech, authobj, initial_response_ok=(mech == "PLAIN"))
                self.assertEqual(cm.exception.smtp_code, 535)

    def test_auth_refused_before_tls_on_submission_530(self):
        with self.smtp(self.submission) as s:
            s.ehlo()
            self.assertFalse(s.has_extn("auth"))
            code, resp = s.docmd("AUTH", "PLAIN AGFsaWNlQHRlc3QuZXhhbXBsZQB4")
            self.assertEqual(code, 530, resp)
            self.assertTrue(resp.startswith(b"5.7.0"), resp)
            code, resp = s.docmd("MAIL", "FROM:<%s>" % ALICE)
            self.assertEqual(code, 530, resp)
            self.assertTrue(resp.startswith(b"5.7.0"), resp)

    def test_smtplib_relay_denied_on_inbound(self):
        with self.smtp(self.inbound) as s:
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
                s.sendmail("sender@ext.example", ["victim@elsewhere.example"], "Subject: x\r\n\r\nx\r\n")
        code, text = cm.exception.recipients["victim@elsewhere.example"]
        self.assertEqual(code, 554)
        self.assertTrue(text.startswith(b"5.7.1"), text)

    def test_smtplib_unknown_user(self):
        tok = token("unknown-user")
        with self.smtp(self.inbound) as s:
            refused = s.sendmail("sender@ext.example", ["nobody@test.example", BOB],
                                 "Subject: %s\r\n\r\nx\r\n" % tok)
        code, text = refused["nobody@test.example"]
        self.assertEqual(code, 550)
        self.assertTrue(text.startswith(b"5.1.1"), text)
        self.assert_delivered_once("bob", tok)

    def test_smtplib_oversize_refused_by_size_parameter(self):
        tok = token("smtplib-big")
        msg = "Subject: %s\r\n\r\n" % tok + ("y" * 70 + "\r\n") * (MAX_OCTETS // 70 + 10)
        with self.smtp(self.inbound) as s:
            s.ehlo()
            self.assertEqual(s.esmtp_features.get("size"), str(MAX_OCTETS))
            with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
                s.sendmail("sender@ext.example", [BOB], msg)  # sends SIZE=
        self.assertEqual(cm.exception.smtp_code, 552)
        self.assertTrue(cm.exception.smtp_error.startswith(b"5.3.4"))
        # Without SIZE=: the whole message is read, then refused at the end of data.
        with self.smtp(self.inbound) as s:
            s.ehlo()
            self.assertEqual(s.mail("sender@ext.example")[0], 250)
            self.assertEqual(s.rcpt(BOB)[0], 250)
            code, resp = s.data(msg)  # data() returns the final reply, it does not raise
            self.assertEqual(code, 552, resp)
            self.assertTrue(resp.startswith(b"5.3.4"), resp)
            self.assertEqual(s.noop()[0], 250)  # the session goes on
        self.assert_not_delivered(["bob"], tok)

    def test_smtplib_too_many_recipients_452(self):
        tok = token("too-many-rcpts")
        rcpts = ["postmaster@test.example"] + [ALICE, SALES, BOB] * 33 + ["bob@TEST.example"]
        self.assertEqual(len(rcpts), 101)
        with self.smtp(self.inbound) as s:
            refused = s.sendmail("sender@ext.example", rcpts, "Subject: %s\r\n\r\nx\r\n" % tok)
        self.assertEqual(list(refused), ["bob@TEST.example"])
        code, text = refused["bob@TEST.example"]
        self.assertEqual(code, 452)
        self.assertTrue(text.startswith(b"4.5.3"), text)
        self.assert_delivered_once("alice", tok)  # postmaster goes to the first user
        self.assert_delivered_once("bob", tok)

    def test_raw_pipelined_transaction(self):
        tok = token("raw-pipe")
        with h.SmtpClient(self.inbound) as c:
            c.expect(220)
            ehlo = c.cmd("EHLO client.test", 250)
            self.assertIn("250-PIPELINING", ehlo.lines)
            c.send("MAIL FROM:<sender@ext.example>\r\nRCPT TO:<%s>\r\nRCPT TO:<nobody@test.example>\r\n"
                   "RCPT TO:<%s>\r\nDATA\r\n" % (ALICE, BOB))
            codes = [c.reply().code for _ in range(5)]
            self.assertEqual(codes, [250, 250, 550, 250, 354])
            c.send("Subject: %s\r\n\r\npipelined\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                   % (tok, BOB))
            r = c.reply()
            self.assertEqual(r.code, 250)
            self.assertRegex(r.lines[0], r"^250 2\.0\.0 OK: queued as [0-9A-Z]{16}$")
            self.assertEqual([c.reply().code for _ in range(3)], [250, 250, 354])
            c.send("Subject: %s-2\r\n\r\nsecond\r\n.\r\nQUIT\r\n" % tok)
            self.assertEqual(c.reply().code, 250)
            self.assertEqual(c.reply().code, 221)
        self.assert_delivered_once("alice", tok)
        self.assertEqual(len(self.srv.wait_for_messages("bob", 2, token=tok)), 2)
        self.assert_delivered_once("bob", tok + "-2")

    def test_pipeline_then_half_close_is_answered_in_full(self):
        # A client that writes everything and shuts down its sending side at once (nc -q,
        # scripts) still gets every reply and its message delivered.
        tok = token("half-close")
        with h.SmtpClient(self.inbound) as c:
            c.send("EHLO client.test\r\nMAIL FROM:<sender@ext.example>\r\nRCPT TO:<%s>\r\n"
                   "DATA\r\nSubject: %s\r\n\r\nbody\r\n.\r\nQUIT\r\n" % (BOB, tok))
            c.sock.shutdown(socket.SHUT_WR)
            codes = [c.reply().code for _ in range(7)]
            self.assertEqual(codes, [220, 250, 250, 250, 354, 250, 221])
        self.assert_delivered_once("bob", tok)

    # ------------------------------------------------------------------ submission policy

    def test_submission_adds_date_and_message_id_when_missing(self):
        tok = token("no-date")
        msg = "From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nno date, no id\r\n" % (ALICE, BOB, tok)
        with self.smtp(self.submissions, implicit=True) as s:
            s.ehlo()
            self._login(s, "alice", "PLAIN")
            s.sendmail(ALICE, [BOB], msg)
        raw = self.assert_delivered_once("bob", tok)
        fields = h.header_block(raw)
        names = [f.split(":", 1)[0].lower() for f in fields]
        self.assertEqual(names.count("date"), 1, fields)
        self.assertEqual(names.count("message-id"), 1, fields)
        mid = [f for f in fields if f.lower().startswith("message-id:")][0]
        self.assertRegex(mid, r"(?i)^message-id: <[^<>@ ]+@mx\.test\.example>$")
        date = [f for f in fields if f.lower().startswith("date:")][0]
        self.assertRegex(date, r"^Date: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}")
        # RFC 5321 4.4: the trace field goes at the very top; added fields come below it.
        self.assertEqual(names[:3], ["return-path", "delivered-to", "received"], names)

    def test_submission_keeps_existing_date_and_message_id(self):
        tok = token("has-date")
        msg = ("Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <%s@client.test>\r\n"
               "From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nbody\r\n" % (tok, ALICE, BOB, tok))
        with self.smtp(self.submissions, implicit=True) as s:
            s.ehlo()
            self._login(s, "alice", "PLAIN")
            s.sendmail(ALICE, [BOB], msg)
        raw = self.assert_delivered_once("bob", tok)
        names = h.field_names(raw)
        self.assertEqual(names.count("date"), 1)
        self.assertEqual(names.count("message-id"), 1)
        self.assertIn(("Message-ID: <%s@client.test>" % tok).encode(), raw)

    def test_submission_mail_from_not_owned_553(self):
        with self.smtp(self.submissions, implicit=True) as s:
            s.ehlo()
            self._login(s, "alice", "PLAIN")
            for sender in (BOB, "someone@elsewhere.example", ""):
                code, resp = s.mail(sender)
                self.assertEqual(code, 553, (sender, resp))
                self.assertTrue(resp.startswith(b"5.7.1"), resp)
            code, resp = s.mail(SALES)  # her alias
            self.assertEqual(code, 250, resp)
            s.rset()

    def test_submission_from_header_not_owned_553(self):
        tok = token("forged-from")
        msg = "From: Bob <%s>\r\nTo: %s\r\nSubject: %s\r\n\r\nforged\r\n" % (BOB, BOB, tok)
        with self.smtp(self.submission) as s:
            s.starttls(context=h.client_tls_context())
            s.ehlo()
            self._login(s, "alice", "PLAIN")
            with self.assertRaises(smtplib.SMTPDataError) as cm:
                s.sendmail(ALICE, [BOB], msg)
            self.assertEqual(cm.exception.smtp_code, 553)
            self.assertTrue(cm.exception.smtp_error.startswith(b"5.7.1"), cm.exception)
        self.assert_not_delivered(["bob", "alice"], tok)

    def test_submission_relay_to_a_domain_without_dns_bounces(self):
        # Authenticated relay is accepted and queued; the outbound role then finds no such
        # domain (the zone file has none: NXDOMAIN) and returns a DSN to the sender.
        tok = token("relay")
        rcpt = "friend-%d@elsewhere.example" % os.getpid()
        msg = "From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nrelay me\r\n" % (ALICE, rcpt, tok)
        with self.smtp(self.submissions, implicit=True) as s:
            s.ehlo()
            self._login(s, "alice", "PLAIN")
            s.mail(ALICE)
            self.assertEqual(s.rcpt(rcpt)[0], 250)
            code, resp = s.data(msg)
            self.assertEqual(code, 250, resp)
        m = h.QUEUE_ID.search(resp.decode())
        self.assertIsNotNone(m, resp)
        qid = m.group(1)
        got = self.srv.wait_for_messages("alice", 1, token=tok, timeout=20)
        dsn = [raw for _n, raw in got if b"delivery-status" in raw]
        self.assertEqual(len(dsn), 1, self.srv.log_text()[-2000:])
        self.assertIn(("Final-Recipient: rfc822; %s" % rcpt).encode(), dsn[0])
        self.assertIn(b"5.1.2", dsn[0])
        self.assertTrue(h.wait_until(lambda: qid not in self.srv.queue_list(), 10),
                        self.srv.queue_list())


if __name__ == "__main__":
    unittest.main(verbosity=2)
