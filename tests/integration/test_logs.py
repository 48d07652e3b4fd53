#!/usr/bin/python3
"""The server's log (stderr): at "info", one Postfix-shaped line per connection and message event
(connect, client=, from=/size=/nrcpt=, NOQUEUE: reject, disconnect); at "debug" also one line per
session state change and the dialogue. Never a password or AUTH credentials in any form, at either
level; text quoted from the network (here a hostile DNS TXT record) is escaped and never breaks a
line.

usage: test_logs.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import base64
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()

ALICE, BOB = h.address("alice"), h.address("bob")
WRONG_PASSWORD = "Wr0ng-but-s3cret-pw"
LINE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (error|warn|info|debug) "
                     r"pigeon/([a-z/]+)\[(\d+)\]: (.*)$")
STATE_RE = re.compile(r"^c(\d+) state: (\w+) -> (\w+)$")


def b64(s):
    return base64.b64encode(s.encode()).decode()


def secrets():
    out = set(h.secret_strings())
    out |= {WRONG_PASSWORD, b64(WRONG_PASSWORD), b64("\0%s\0%s" % (ALICE, WRONG_PASSWORD))}
    for user in ("alice", "bob"):
        out.add(b64(h.password(user)))
        out.add(b64("\0%s\0%s" % (h.address(user), h.password(user))))
    # Trailing "=" padding aside, a base64 string's prefix is what would show up in a log.
    return sorted({s.rstrip("=") for s in out if len(s) >= 8})


class Session:
    """A scripted raw client that remembers every reply it got."""

    def __init__(self, port, implicit_tls=False):
        self.c = h.SmtpClient(port, implicit_tls=implicit_tls)
        self.replies = []
        self.replies.append(self.c.reply())

    def cmd(self, line, code=None):
        r = self.c.cmd(line)
        self.replies.append(r)
        if code is not None and r.code != code:
            raise AssertionError("%r -> %r" % (line, r.lines))
        return r

    def raw(self, data, n):
        self.c.send(data)
        for _ in range(n):
            self.replies.append(self.c.reply())
        return self.replies[-n:]

    def starttls(self):
        self.cmd("STARTTLS", 220)
        self.c.sock = h.client_tls_context().wrap_socket(self.c.sock)
        self.c.sock.settimeout(10)

    def negative_lines(self):
        return [r.lines[-1] for r in self.replies if r.code >= 400]

    def close(self):
        try:
            self.cmd("QUIT")
        except (OSError, EOFError, h.SmtpError):
            pass
        self.c.read_until_closed(timeout=5)
        self.c.close()


def scenario(srv):
    """Runs the scripted sessions one after another; returns (sessions, queued ids, auth counts)."""
    sessions, queued = [], []
    auth = {"ok": 0, "failed": 0, "rejects": []}  # rejects: (stage, code) the policy refused

    # 1. Inbound: accepted and refused recipients, one queued message, one refused message.
    s = Session(srv.ports["inbound"])
    s.cmd("EHLO client.test", 250)
    s.cmd("MAIL FROM:<sender@ext.example>", 250)
    s.cmd("RCPT TO:<%s>" % BOB, 250)
    s.cmd("RCPT TO:<nobody@test.example>", 550)
    s.cmd("RCPT TO:<victim@elsewhere.example>", 554)
    auth["rejects"] += [("RCPT", "550"), ("RCPT", "554")]
    s.cmd("DATA", 354)
    r = s.raw(b"Subject: log test\r\n\r\nhello\r\n.\r\n", 1)[0]
    queued.append(h.QUEUE_ID.search(r.lines[0]).group(1))
    s.cmd("MAIL FROM:<sender@ext.example>", 250)
    s.cmd("RCPT TO:<%s>" % BOB, 250)
    s.cmd("DATA", 354)
    r = s.raw(b"Subject: bare\r\n\r\nbare\nLF\r\n.\r\n", 1)[0]
    assert r.code == 554, r
    s.close()
    sessions.append(s)

    # 2. Submission with STARTTLS: a failed AUTH PLAIN (initial response), then a good one
    #    through the challenge, then a message.
    s = Session(srv.ports["submission"])
    s.cmd("EHLO client.test", 250)
    s.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (ALICE, h.password("alice"))), 530)  # before TLS
    s.starttls()
    s.cmd("EHLO client.test", 250)
    s.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (ALICE, WRONG_PASSWORD)), 535)
    auth["failed"] += 1
    s.cmd("AUTH PLAIN", 334)
    s.cmd(b64("\0%s\0%s" % (ALICE, h.password("alice"))), 235)
    auth["ok"] += 1
    s.cmd("MAIL FROM:<%s>" % ALICE, 250)
    s.cmd("RCPT TO:<%s>" % BOB, 250)
    s.cmd("DATA", 354)
    r = s.raw(("From: %s\r\nSubject: sub\r\n\r\nbody\r\n.\r\n" % ALICE).encode(), 1)[0]
    queued.append(h.QUEUE_ID.search(r.lines[0]).group(1))
    s.close()
    sessions.append(s)

    # 3. Implicit TLS: AUTH LOGIN (a wrong password, then right, the second with an initial
    #    response), and a sender the user does not own.
    s = Session(srv.ports["submissions"], implicit_tls=True)
    s.cmd("EHLO client.test", 250)
    s.cmd("AUTH LOGIN", 334)
    s.cmd(b64(BOB), 334)
    s.cmd(b64(WRONG_PASSWORD), 535)
    auth["failed"] += 1
    s.cmd("AUTH LOGIN " + b64(BOB), 334)
    s.cmd(b64(h.password("bob")), 235)
    auth["ok"] += 1
    s.cmd("MAIL FROM:<%s>" % ALICE, 553)
    auth["rejects"].append(("MAIL", "553"))
    s.close()
    sessions.append(s)

    # 4. swaks, a real client, with AUTH PLAIN over STARTTLS.
    r = subprocess.run(["/usr/bin/swaks", "--server", "127.0.0.1", "--port",
                        str(srv.ports["submission"]), "--tls", "--auth", "PLAIN", "--auth-user",
                        BOB, "--auth-password", h.password("bob"), "--from", BOB, "--to", ALICE,
                        "--helo", "client.test", "--timeout", "15"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out
    queued.append(h.QUEUE_ID.search(out).group(1))
    auth["ok"] += 1
    return sessions, queued, auth


class Logs(unittest.TestCase):
    maxDiff = None

    def run_level(self, level):
        srv = h.PigeonServer(BIN, log_level=level)
        try:
            srv.start()
            self.pid = srv.proc.pid
            sessions, queued, auth = scenario(srv)
            srv.wait_for_messages("bob", 2, timeout=20)
            srv.wait_for_messages("alice", 1, timeout=20)
            status = srv.stop()
            self.assertEqual(status, 0)
            log = srv.log_text()
        finally:
            srv.cleanup()
        self.check_log(level, log, sessions, queued, auth)

    def check_log(self, level, log, sessions, queued, auth):
        lines = log.splitlines()
        self.assertTrue(lines)
        messages = []
        for line in lines:
            m = LINE_RE.match(line)
            self.assertIsNotNone(m, "a log line without time stamp, level and tag: %r" % line)
            if level == "info":
                self.assertNotEqual(m.group(1), "debug", line)
            self.assertEqual(m.group(3), str(self.pid), line)
            messages.append(m.group(4))

        # Never a password, nor base64 of one, nor an AUTH initial response or SASL response.
        for secret in secrets():
            self.assertNotIn(secret, log, "a credential leaked into the %s log" % level)

        # The operator's lines (Postfix's shapes): one connect and one disconnect per session.
        n_sessions = len(sessions) + 1  # + swaks
        self.assertEqual(sum(1 for m in messages if m == "connect from unknown[127.0.0.1]"), n_sessions)
        self.assertEqual(sum(1 for m in messages if m == "disconnect from unknown[127.0.0.1]"), n_sessions)
        # Each queued message: one client= line and one from=, size=, nrcpt= line.
        for qid in queued:
            client = [m for m in messages if m.startswith(qid + ": client=unknown[127.0.0.1]")]
            self.assertEqual(len(client), 1, (qid, client))
            active = [m for m in messages if re.match(
                r"^%s: from=<[^>]*>, size=\d+, nrcpt=1 \(queue active\)$" % qid, m)]
            self.assertEqual(len(active), 1, (qid, active))
        # Submission's messages name the SASL user.
        self.assertTrue(any(re.match(r"^\w+: client=unknown\[127\.0\.0\.1\], sasl_username=%s$"
                                     % re.escape(ALICE), m) for m in messages), messages)
        # Each refusal of the policy: one NOQUEUE line with the reply and the envelope so far.
        rejects = [re.match(r"^NOQUEUE: reject: (\w+) from unknown\[127\.0\.0\.1\]: (\d{3}) .*; "
                            r"from=<[^>]*>( to=<[^>]*>)? proto=ESMTP helo=<client\.test>$", m)
                   for m in messages if m.startswith("NOQUEUE: ")]
        self.assertTrue(all(rejects), [m for m in messages if m.startswith("NOQUEUE: ")])
        self.assertEqual([(r.group(1), r.group(2)) for r in rejects], auth["rejects"])
        self.assertEqual(sum(1 for m in messages if re.match(r"^c\d+ AUTH failed$", m)), auth["failed"])
        self.assertEqual(sum(1 for m in messages if re.match(r"^c\d+ AUTH succeeded for ", m)),
                         auth["ok"] if level == "debug" else 0)
        self.assertTrue(any(m.startswith("ready") for m in messages))
        self.assertEqual(messages[-1], "stopped")
        if level == "info":
            self.assertFalse([m for m in messages if STATE_RE.match(m) or re.match(r"^c\d+ [CS]: ", m)])
            return

        # Debug: the connections in the order they were made, c<id> for each "connect from".
        conn_ids = [m.split(" ", 1)[0] for m in messages if re.match(r"^c\d+ connect from ", m)]
        self.assertEqual(len(conn_ids), n_sessions, conn_ids)
        # One line per state change: per connection, the changes form one unbroken chain
        # from Connected, with no repeated or no-op line.
        chains = {}
        for m in messages:
            sm = STATE_RE.match(m)
            if sm:
                chains.setdefault("c" + sm.group(1), []).append((sm.group(2), sm.group(3)))
        for cid in conn_ids:
            chain = chains.get(cid, [])
            self.assertTrue(chain, "%s: no state lines" % cid)
            self.assertEqual(chain[0][0], "Connected", (cid, chain))
            for (a, b), (c, _d) in zip(chain, chain[1:]):
                self.assertEqual(b, c, "%s: state lines do not chain: %r" % (cid, chain))
            for a, b in chain:
                self.assertNotEqual(a, b, cid)
        # The inbound session's first transaction, state by state (names: spec/machines/).
        first = [b for _a, b in chains[conn_ids[0]]]
        expected = ["Greeted", "CheckingSender", "MailGiven", "CheckingRecipient", "RcptGiven",
                    "CheckingRecipient", "RcptGiven", "CheckingRecipient", "RcptGiven",
                    "ReceivingData", "CheckingMessage", "Enqueuing", "Greeted"]
        self.assertEqual(first[:len(expected)], expected)
        # Each queued id once in the dialogue; every negative reply the client got is there.
        for qid in queued:
            n = sum(1 for m in messages if ("queued as " + qid) in m)
            self.assertEqual(n, 1, "queued id %s logged %d times" % (qid, n))
        for cid, s in zip(conn_ids, sessions):
            logged = [m.split(" S: ", 1)[1] for m in messages
                      if m.startswith(cid + " S: ") and m.split(" S: ", 1)[1][:1] in "45"]
            self.assertEqual(logged, s.negative_lines(), cid)
        for cid in conn_ids:
            self.assertEqual(messages.count(cid + " disconnect"), 1, cid)

    def test_info_log_has_message_events_and_no_credentials(self):
        self.run_level("info")

    def test_debug_log_has_state_changes_and_the_dialogue_and_no_credentials(self):
        self.run_level("debug")

    def test_debug_log_hides_sasl_responses_sent_after_a_refused_auth(self):
        # A client that does not wait for the 334 (or ignores a refusal) sends its base64
        # responses anyway; the server then reads them as commands. They are still
        # credentials and must not reach the debug log's "C:" lines.
        srv = h.PigeonServer(BIN, log_level="debug")
        try:
            srv.start()
            with h.SmtpClient(srv.ports["submission"]) as c:
                c.expect(220)
                c.cmd("EHLO client.test", 250)
                c.send("AUTH LOGIN\r\n%s\r\n%s\r\n" % (b64(ALICE), b64(h.password("alice"))))
                self.assertEqual(c.reply().code, 530)  # before TLS
                self.assertEqual(c.reply().code, 500)
                self.assertEqual(c.reply().code, 500)
                c.starttls()
                c.cmd("EHLO client.test", 250)
                c.cmd("MAIL FROM:<%s>" % ALICE, 530)
                c.send("AUTH PLAIN\r\n%s\r\n" % b64("\0%s\0%s" % (ALICE, h.password("alice"))))
                self.assertEqual(c.reply().code, 334)
                self.assertEqual(c.reply().code, 235)
                c.cmd("MAIL FROM:<%s>" % ALICE, 250)
                # AUTH in a transaction is refused (503); the pipelined response follows it.
                c.send("AUTH PLAIN\r\n%s\r\n" % b64("\0%s\0%s" % (BOB, h.password("bob"))))
                self.assertEqual(c.reply().code, 503)
                self.assertEqual(c.reply().code, 500)
            srv.stop()
            log = srv.log_text()
        finally:
            srv.cleanup()
        leaked = [sec for sec in secrets() if sec in log]
        leaked_lines = [l for l in log.splitlines() if any(sec in l for sec in leaked)]
        self.assertEqual(leaked_lines, [], "credentials in the debug log")


# A published SPF record whose second term carries CR, LF and an ESC sequence (zone-file
# \DDD escapes: 013 CR, 010 LF, 027 ESC) and a line that looks like one of ours. The SPF
# evaluator quotes the bad term in its permerror text, which the server logs.
FORGED = "2026-01-01T00:00:00Z-info-c99-AUTH-succeeded-for-root"
HOSTILE_ZONE = (h.DEFAULT_ZONE +
                'hostile.example. IN TXT "v=spf1 x\\013\\010%s\\027[2J -all"\n' % FORGED)


class LogInjection(unittest.TestCase):
    """Issue 13, item 5: hostile text quoted in a log line stays in that line, escaped."""

    def test_hostile_txt_record_is_logged_as_one_escaped_line(self):
        srv = h.PigeonServer(BIN, zone=HOSTILE_ZONE)
        try:
            srv.start()
            with h.SmtpClient(srv.ports["inbound"]) as c:
                c.expect(220)
                c.cmd("EHLO client.test", 250)
                c.cmd("MAIL FROM:<someone@hostile.example>")  # permerror: whatever the reply
                c.cmd("QUIT", 221)
            self.assertTrue(h.wait_until(
                lambda: "SPF permerror for hostile.example" in srv.log_text(), 10),
                srv.log_text())
            srv.stop()
            with open(srv.log_path, "rb") as f:
                raw = f.read()
        finally:
            srv.cleanup()
        # Not one raw control character anywhere but the line ends.
        for byte in raw:
            self.assertFalse(byte < 0x20 and byte != 0x0A or byte == 0x7F,
                             "raw control byte 0x%02x in the log" % byte)
        lines = raw.decode("utf-8").split("\n")
        self.assertEqual(lines[-1], "")
        for line in lines[:-1]:
            self.assertIsNotNone(LINE_RE.match(line), "a line the server did not write: %r" % line)
        spf = [l for l in lines if "SPF permerror for hostile.example" in l]
        self.assertEqual(len(spf), 1, spf)
        self.assertIn("x\\r\\n%s\\x1b[2J" % FORGED, spf[0])
        self.assertFalse(any(l.startswith(FORGED) for l in lines))


if __name__ == "__main__":
    unittest.main(verbosity=2)
