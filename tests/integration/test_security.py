#!/usr/bin/python3
"""Hostile clients on raw sockets: SMTP smuggling, STARTTLS command injection, overlong lines,
NUL bytes, non-ASCII addresses, bad base64 in AUTH, floods of bad commands, slowloris, too many
connections from one address. After each group a normal client must still get its mail through.

usage: test_security.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import os
import socket
import ssl
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()

ALICE, BOB = h.address("alice"), h.address("bob")
MAX_ERRORS = 10

SMUGGLING_ENDS = {
    "LF.LF": b"\n.\n",
    "LF.CRLF": b"\n.\r\n",
    "CR.CR": b"\r.\r",
    "CRLF.LF": b"\r\n.\n",
    "CR.CRLF": b"\r.\r\n",
    "CRLF.CR": b"\r\n.\r",
    "LF.CR": b"\n.\r",
    "CR.LF": b"\r.\n",
}


def token(label):
    return "tok-%s-%d-%d" % (label, os.getpid(), time.monotonic_ns())


def greeted(port, ehlo=True, **kw):
    c = h.SmtpClient(port, **kw)
    c.expect(220)
    if ehlo:
        c.cmd("EHLO client.test", 250)
    return c


class Attacks(unittest.TestCase):
    srv = None

    @classmethod
    def setUpClass(cls):
        cls.srv = h.PigeonServer(BIN, limits={"max_errors_per_session": MAX_ERRORS}).start()

    @classmethod
    def tearDownClass(cls):
        if cls.srv:
            status = cls.srv.stop()
            log = cls.srv.log_text()
            cls.srv.cleanup()
            assert "AddressSanitizer" not in log and "runtime error" not in log, log[-4000:]
            assert status == 0, "pigeon exited with %r" % (status,)

    def setUp(self):
        self.assertTrue(self.srv.running(), "the server died during an earlier test")

    def still_serving(self, label):
        self.assertTrue(self.srv.running(), "server died after " + label)
        h.normal_client_works(self.srv, label=label)

    @property
    def inbound(self):
        return self.srv.ports["inbound"]

    def submission_tls(self):
        c = greeted(self.srv.ports["submission"])
        c.starttls()
        c.cmd("EHLO client.test", 250)
        return c

    # ------------------------------------------------------------------ SMTP smuggling

    def smuggle(self, name, end, pipelined):
        tok = token("smuggle-" + name + ("-pipe" if pipelined else ""))
        c = greeted(self.inbound)
        try:
            c.cmd("MAIL FROM:<sender@ext.example>", 250)
            c.cmd("RCPT TO:<%s>" % BOB, 250)
            c.cmd("DATA", 354)
            blob = b"From: <sender@ext.example>\r\nSubject: first-" + tok.encode() + \
                   b"\r\n\r\nfirst part " + tok.encode() + end
            if pipelined:
                blob += (b"MAIL FROM:<evil@ext.example>\r\nRCPT TO:<" + BOB.encode() +
                         b">\r\nDATA\r\nFrom: <evil@ext.example>\r\nSubject: smuggled-" +
                         tok.encode() + b"\r\n\r\nsmuggled " + tok.encode() + b"\r\n")
            else:
                blob += b"after the fake end " + tok.encode() + b"\r\n"
            blob += b".\r\nQUIT\r\n"
            c.send(blob)
            data, closed = c.read_until_closed(timeout=15)
        finally:
            c.close()
        replies = h.reply_codes(data)
        self.assertTrue(closed, "%s: connection not closed after QUIT: %r" % (name, data))
        # Exactly two replies: the end of the (single) message, and QUIT. A smuggled
        # MAIL/RCPT/DATA would have produced 250/250/354 in between.
        self.assertEqual(len(replies), 2, "%s: %r" % (name, replies))
        self.assertIn(replies[0][0], (250, 554), "%s: %r" % (name, replies))
        self.assertEqual(replies[1][0], 221, "%s: %r" % (name, replies))
        return tok, replies[0]

    def test_smtp_smuggling_over_implicit_tls_submission(self):
        # The same reader behind TLS records (other splits of the bytes), as an authenticated user.
        outcomes = []
        for name in ("LF.LF", "CR.CRLF", "CRLF.LF"):
            tok = token("smuggle-tls-" + name)
            c = greeted(self.srv.ports["submissions"], implicit_tls=True)
            try:
                c.auth_plain(ALICE, h.password("alice"))
                c.cmd("MAIL FROM:<%s>" % ALICE, 250)
                c.cmd("RCPT TO:<%s>" % BOB, 250)
                c.cmd("DATA", 354)
                blob = ("From: <%s>\r\nSubject: first-%s\r\n\r\nfirst part %s" % (ALICE, tok, tok)).encode()
                blob += SMUGGLING_ENDS[name]
                blob += ("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\nFrom: <%s>\r\n"
                         "Subject: smuggled-%s\r\n\r\nsmuggled\r\n.\r\nQUIT\r\n"
                         % (ALICE, BOB, ALICE, tok)).encode()
                c.send(blob)
                data, closed = c.read_until_closed(timeout=15)
            finally:
                c.close()
            replies = h.reply_codes(data)
            self.assertEqual([code for code, _ in replies][1:], [221], (name, replies))
            self.assertIn(replies[0][0], (250, 554), (name, replies))
            outcomes.append((name, tok, replies[0]))
        self.still_serving("smuggling-tls")
        for name, tok, final in outcomes:
            msgs = self.srv.messages_with("bob", tok)
            print("smuggling over TLS %-8s -> %s; %d message(s)" % (name, final[1], len(msgs)))
            self.assertEqual(len(msgs), 1 if final[0] == 250 else 0, name)

    def test_smtp_smuggling_variants_never_split_a_message(self):
        outcomes = []
        for name, end in SMUGGLING_ENDS.items():
            for pipelined in (False, True):
                with self.subTest(variant=name, pipelined=pipelined):
                    tok, final = self.smuggle(name, end, pipelined)
                    outcomes.append((name, pipelined, tok, final))
        self.still_serving("smuggling")  # also: every earlier delivery has happened
        for name, pipelined, tok, final in outcomes:
            with self.subTest(variant=name, pipelined=pipelined):
                msgs = self.srv.messages_with("bob", tok)
                print("smuggling %-8s pipelined=%-5s -> %s; %d message(s) delivered"
                      % (name, pipelined, final[1], len(msgs)))
                self.assertLessEqual(len(msgs), 1, "%s split into %d messages" % (name, len(msgs)))
                if final[0] == 250:
                    self.assertEqual(len(msgs), 1)
                    self.assertIn(("first part " + tok).encode(), msgs[0][1])
                else:
                    self.assertEqual(msgs, [], "refused message delivered")
                    self.assertIn("5.6.0", final[1])

    # ------------------------------------------------------------------ STARTTLS injection

    def test_starttls_command_injection_not_executed(self):
        # Inbound: HELP and MAIL in the same packet as STARTTLS.
        c = greeted(self.inbound)
        try:
            c.send(b"STARTTLS\r\nHELP\r\nMAIL FROM:<injected@ext.example>\r\n")
            r = c.reply()
            self.assertEqual(r.code, 220, r)
            self.assertEqual(c.buf, b"", "plaintext reply to injected commands: %r" % c.buf)
            c.sock = h.client_tls_context().wrap_socket(c.sock)
            c.sock.settimeout(10)
            # Nothing may arrive unprompted: the injected commands must not be answered.
            c.sock.settimeout(1.5)
            try:
                extra = c.sock.recv(4096)
            except (socket.timeout, TimeoutError):
                extra = b""
            self.assertEqual(extra, b"", "server answered injected commands: %r" % extra)
            c.sock.settimeout(10)
            ehlo = c.cmd("EHLO client.test", 250)
            self.assertIn("greets", ehlo.lines[0])
            self.assertNotIn("250-STARTTLS", ehlo.lines)
            # If the injected MAIL had run, this one would be a nested MAIL (503).
            c.cmd("MAIL FROM:<sender@ext.example>", 250)
            c.cmd("QUIT", 221)
        finally:
            c.close()
        # Submission: an injected AUTH must not authenticate the session.
        c = greeted(self.srv.ports["submission"])
        try:
            import base64
            cred = base64.b64encode(("\0%s\0%s" % (ALICE, h.password("alice"))).encode())
            c.send(b"STARTTLS\r\nAUTH PLAIN " + cred + b"\r\nMAIL FROM:<" + ALICE.encode() + b">\r\n")
            self.assertEqual(c.reply().code, 220)
            c.sock = h.client_tls_context().wrap_socket(c.sock)
            c.sock.settimeout(1.5)
            try:
                extra = c.sock.recv(4096)
            except (socket.timeout, TimeoutError):
                extra = b""
            self.assertEqual(extra, b"", "server answered injected commands: %r" % extra)
            c.sock.settimeout(10)
            c.cmd("EHLO client.test", 250)
            r = c.cmd("MAIL FROM:<%s>" % ALICE)
            self.assertEqual(r.code, 530, "injected AUTH took effect: %r" % r)
        finally:
            c.close()
        self.still_serving("starttls-injection")

    # ------------------------------------------------------------------ overlong lines

    def test_overlong_command_lines(self):
        with greeted(self.inbound) as c:
            r = c.cmd("NOOP " + "x" * 505)  # 512 octets with CRLF: allowed
            self.assertEqual(r.code, 250, r)
            r = c.cmd("NOOP " + "x" * 506)  # 513
            self.assertEqual((r.code, r.lines[0]), (500, "500 5.5.2 Line too long"))
            # 1 MiB without a line end, sent in pieces, then the CRLF: one reply.
            piece = b"A" * 65536
            for _ in range(16):
                c.send(piece)
            r = c.cmd("")
            self.assertEqual((r.code, r.lines[0]), (500, "500 5.5.2 Line too long"))
            c.cmd("NOOP", 250)
            r = c.cmd("MAIL FROM:<" + "a" * 600 + "@ext.example>")
            self.assertEqual(r.code, 500, r)
            c.cmd("QUIT", 221)
        with self.submission_tls() as c:
            r = c.cmd("AUTH PLAIN " + "QUFB" * 4000)
            self.assertEqual(r.lines[0][:9], "500 5.5.6", r)
            c.cmd("NOOP", 250)
        self.still_serving("overlong-commands")

    def test_overlong_text_lines_in_data(self):
        tok = token("longline")
        with greeted(self.inbound) as c:
            c.cmd("MAIL FROM:<sender@ext.example>", 250)
            c.cmd("RCPT TO:<%s>" % BOB, 250)
            c.cmd("DATA", 354)
            c.send("Subject: %s-ok\r\n\r\n%s\r\n.\r\n" % (tok, "y" * 998))  # 1000 with CRLF
            self.assertEqual(c.reply().code, 250)
            for n in (999, 200000):
                c.cmd("MAIL FROM:<sender@ext.example>", 250)
                c.cmd("RCPT TO:<%s>" % BOB, 250)
                c.cmd("DATA", 354)
                c.send("Subject: %s-bad%d\r\n\r\n%s\r\n.\r\n" % (tok, n, "z" * n))
                r = c.reply()
                self.assertEqual(r.lines[0],
                                 "554 5.6.0 Message rejected: text line longer than 1000 octets")
            c.cmd("QUIT", 221)
        self.still_serving("overlong-text")
        self.assertEqual(len(self.srv.messages_with("bob", tok + "-ok")), 1)
        self.assertEqual(self.srv.messages_with("bob", tok + "-bad"), [])

    # ------------------------------------------------------------------ NUL bytes

    def test_nul_bytes_in_commands(self):
        with greeted(self.inbound) as c:
            for line in (b"NO\0OP", b"\0", b"MAIL FROM:<a\0b@ext.example>", b"EHLO cli\0ent.test"):
                c.send(line + b"\r\n")
                r = c.reply()
                self.assertGreaterEqual(r.code, 500, (line, r))
            c.cmd("NOOP", 250)
            c.cmd("MAIL FROM:<sender@ext.example>", 250)
            c.send(b"RCPT TO:<b\0ob@test.example>\r\n")
            self.assertGreaterEqual(c.reply().code, 500)
            c.cmd("QUIT", 221)
        self.still_serving("nul-commands")

    def test_nul_bytes_in_data(self):
        tok = token("nul-data")
        with greeted(self.inbound) as c:
            c.cmd("MAIL FROM:<sender@ext.example>", 250)
            c.cmd("RCPT TO:<%s>" % BOB, 250)
            c.cmd("DATA", 354)
            c.send(b"Subject: " + tok.encode() + b"\r\n\r\nnul \0 here\r\n\0\r\n.\r\n")
            r = c.reply()
            c.cmd("QUIT", 221)
        print("NUL in DATA ->", r.lines[0])
        self.assertIn(r.code, (250, 550, 554), r)
        self.still_serving("nul-data")
        msgs = self.srv.messages_with("bob", tok)
        self.assertEqual(len(msgs), 1 if r.code == 250 else 0)
        if msgs:
            self.assertIn(b"nul \0 here\n\0\n", msgs[0][1], "NUL-bearing body altered")

    # ------------------------------------------------------------------ non-ASCII addresses

    def test_non_ascii_addresses_without_smtputf8(self):
        utf8_sender = "j\u00f6s\u00e9@ext.example".encode("utf-8")
        with greeted(self.inbound) as c:
            c.send(b"MAIL FROM:<" + utf8_sender + b">\r\n")
            self.assertEqual(c.reply().lines[0], "553 5.6.7 Non-ASCII address requires SMTPUTF8")
            c.cmd("MAIL FROM:<sender@ext.example>", 250)
            c.send("RCPT TO:<b\u00f8b@test.example>\r\n".encode("utf-8"))
            self.assertEqual(c.reply().lines[0], "553 5.6.7 Non-ASCII address requires SMTPUTF8")
            c.cmd("RSET", 250)
            # Invalid UTF-8: refused either as non-ASCII (553 5.6.7) or as bad syntax (501).
            for bad in (b"\xff\xfe@ext.example", b"a\xc3@ext.example", b"\xed\xa0\x80@ext.example"):
                c.send(b"MAIL FROM:<" + bad + b">\r\n")
                r = c.reply()
                print("MAIL FROM:<%r> -> %s" % (bad, r.lines[0]))
                self.assertIn(r.lines[0][:9], ("553 5.6.7", "501 5.1.7"), (bad, r))
            # With SMTPUTF8 the same sender is fine.
            c.send(b"MAIL FROM:<" + utf8_sender + b"> SMTPUTF8\r\n")
            self.assertEqual(c.reply().code, 250)
            c.cmd("QUIT", 221)
        self.still_serving("non-ascii")

    # ------------------------------------------------------------------ AUTH base64

    def test_auth_invalid_base64(self):
        with self.submission_tls() as c:
            self.assertEqual(c.cmd("AUTH PLAIN %%%").lines[0], "501 5.5.2 Cannot decode response")
            c.cmd("AUTH PLAIN", 334)
            self.assertEqual(c.cmd("!!!not-base64!!!").lines[0], "501 5.5.2 Cannot decode response")
            c.cmd("AUTH LOGIN", 334)
            self.assertEqual(c.cmd("YWxp?2U=").lines[0], "501 5.5.2 Cannot decode response")
            c.cmd("AUTH LOGIN", 334)
            c.cmd("YWxpY2VAdGVzdC5leGFtcGxl", 334)
            self.assertEqual(c.cmd("====").lines[0], "501 5.5.2 Cannot decode response")
            c.auth_plain(ALICE, h.password("alice"))  # still possible afterwards
            c.cmd("MAIL FROM:<%s>" % ALICE, 250)
        self.still_serving("auth-base64")

    # ------------------------------------------------------------------ floods

    def test_thousands_of_bad_commands_end_with_421(self):
        with greeted(self.inbound) as c:
            c.send(b"XYZZY\r\n" * 5000)
            data, closed = c.read_until_closed(timeout=15)
        replies = h.reply_codes(data)
        self.assertTrue(closed, "session not closed: %r" % replies[-3:])
        self.assertEqual([code for code, _ in replies], [500] * MAX_ERRORS + [421], replies)
        self.assertTrue(replies[-1][1].startswith("421 4.7.0"), replies[-1])
        # Many such sessions one after another: the server stays up.
        for _ in range(20):
            with greeted(self.inbound, ehlo=False) as c:
                c.send(b"BOGUS\r\n" * 200 + b"MAIL FROM:<x>\r\n" * 200)
                data, closed = c.read_until_closed(timeout=15)
                self.assertTrue(closed)
                self.assertIn(b"421 4.7.0", data)
        self.still_serving("bad-command-flood")


class Timeouts(unittest.TestCase):
    """A dedicated server with small timeouts and a per-IP connection limit."""
    srv = None
    COMMAND_TIMEOUT = 3
    DATA_BLOCK_TIMEOUT = 2
    DATA_TIMEOUT = 4
    PER_IP = 4

    @classmethod
    def setUpClass(cls):
        cls.srv = h.PigeonServer(BIN, limits={
            "command_timeout_seconds": cls.COMMAND_TIMEOUT,
            "data_block_timeout_seconds": cls.DATA_BLOCK_TIMEOUT,
            "data_timeout_seconds": cls.DATA_TIMEOUT,
            "max_connections_per_ip": cls.PER_IP}).start()

    @classmethod
    def tearDownClass(cls):
        if cls.srv:
            status = cls.srv.stop()
            cls.srv.cleanup()
            assert status == 0, "pigeon exited with %r" % (status,)

    def tearDown(self):
        self.assertTrue(self.srv.running(), "server died")
        self.assertTrue(h.wait_until(lambda: self._probe_ok(), 10, interval=0.3),
                        "normal client not served after " + self.id())

    def drip(self, c, data, limit):
        """Sends one byte per second until the server closes; returns (elapsed, received)."""
        start = time.monotonic()
        received = b""
        i = 0
        while time.monotonic() - start < limit:
            try:
                c.sock.sendall(data[i % len(data):i % len(data) + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            i += 1
            c.sock.settimeout(1.0)
            try:
                chunk = c.sock.recv(4096)
                if not chunk:
                    break
                received += chunk
                if b"421" in received:
                    # Give the close a moment, then stop.
                    more, _ = c.read_until_closed(timeout=2)
                    received += more
                    break
            except (socket.timeout, TimeoutError):
                pass
            except ConnectionResetError:
                break
        return time.monotonic() - start, received

    def test_slowloris_command_is_cut_with_421_4_4_2(self):
        c = h.SmtpClient(self.srv.ports["inbound"])
        try:
            c.expect(220)
            elapsed, received = self.drip(c, b"NOOP NOOP NOOP NOOP NOOP NOOP NOOP NOOP", 20)
        finally:
            c.close()
        print("slowloris (command): cut after %.1f s: %r" % (elapsed, received))
        self.assertIn(b"421 4.4.2", received)
        self.assertLess(elapsed, self.COMMAND_TIMEOUT + 3)

    def test_slowloris_data_is_cut_by_data_timeout(self):
        c = h.SmtpClient(self.srv.ports["inbound"])
        try:
            c.expect(220)
            c.cmd("EHLO client.test", 250)
            c.cmd("MAIL FROM:<sender@ext.example>", 250)
            c.cmd("RCPT TO:<%s>" % BOB, 250)
            c.cmd("DATA", 354)
            elapsed, received = self.drip(c, b"Subject: slow\r\n\r\nslow body text\r\n", 20)
        finally:
            c.close()
        print("slowloris (DATA): cut after %.1f s: %r" % (elapsed, received))
        self.assertIn(b"421 4.4.2", received)
        self.assertLess(elapsed, self.DATA_TIMEOUT + 3)

    def test_idle_client_is_cut_with_421_4_4_2(self):
        with h.SmtpClient(self.srv.ports["submission"]) as c:
            c.expect(220)
            start = time.monotonic()
            r = c.reply(timeout=self.COMMAND_TIMEOUT + 5)
            elapsed = time.monotonic() - start
            self.assertTrue(r.lines[0].startswith("421 4.4.2"), r)
            self.assertGreater(elapsed, self.COMMAND_TIMEOUT - 1)
            _, closed = c.read_until_closed(timeout=3)
            self.assertTrue(closed)

    def test_too_many_connections_from_one_ip_get_421_4_7_0(self):
        port = self.srv.ports["inbound"]
        held = []
        try:
            for _ in range(self.PER_IP):
                c = h.SmtpClient(port)
                held.append(c)
                c.expect(220)
            extra = h.SmtpClient(port)
            held.append(extra)
            r = extra.reply()
            self.assertRegex(r.lines[0], r"^421 4\.7\.0 \S+ Error: too many connections from "
                                         r"127\.0\.0\.1, try again later$")
            _, closed = extra.read_until_closed(timeout=5)
            self.assertTrue(closed)
            # Implicit TLS listener: no TLS session to say 421 in; the connection is just closed.
            raw = socket.create_connection(("127.0.0.1", self.srv.ports["submissions"]), timeout=5)
            try:
                with self.assertRaises((ssl.SSLError, ConnectionResetError, OSError)):
                    h.client_tls_context().wrap_socket(raw).recv(100)
            finally:
                raw.close()
            # Another client address is still served.
            with h.SmtpClient(port, source="127.0.0.2") as other:
                other.expect(220)
                other.cmd("QUIT", 221)
            # Once one connection goes, 127.0.0.1 gets a slot again (release is asynchronous).
            held[0].cmd("QUIT", 221)
            held[0].read_until_closed(timeout=5)

            def admitted():
                with h.SmtpClient(port) as again:
                    return again.reply().code == 220
            self.assertTrue(h.wait_until(admitted, 5, interval=0.2))
        finally:
            for c in held:
                c.close()
        time.sleep(0.5)
        h.wait_until(lambda: self.srv.running(), 1)
        self.assertTrue(h.wait_until(
            lambda: self._probe_ok(), 10, interval=0.3), "normal client not served afterwards")

    def _probe_ok(self):
        try:
            h.normal_client_works(self.srv, label="conn-limit")
            return True
        except (h.SmtpError, OSError, EOFError, AssertionError):
            return False


if __name__ == "__main__":
    unittest.main(verbosity=2)
