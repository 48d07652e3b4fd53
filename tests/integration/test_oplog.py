#!/usr/bin/python3
"""The operator's log (issue 15, "Logs operators can read"): Postfix-shaped lines that pflogsumm
(Debian's, a real log reader) counts right; JSON lines that Python's json reads with every field;
a remote bounce counted as bounced; a file target that logrotate can move (SIGUSR2 reopens it, no line lost); the syslog target's
datagrams, read from a socket the test owns (never the machine's syslog).

usage: test_oplog.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()

PFLOGSUMM = "/usr/sbin/pflogsumm"
ALICE, BOB = h.address("alice"), h.address("bob")
REMOTE = "someone@remote.example"
# remote.example's MX is loopback, at a port nothing listens on: its mail is deferred.
ZONE = h.DEFAULT_ZONE + "remote.example. IN MX 10 mx.remote.example.\nmx.remote.example. IN A 127.0.0.1\n"
QID = r"[0-9A-Z]{16}"


def closed_port():
    return h.free_port()


class FileServer(h.PigeonServer):
    """A server whose log is a file (log_text reads it, and the file it was rotated to)."""

    def __init__(self, binary, log_file, **kw):
        self.log_file = log_file
        self.rotated = log_file + ".1"
        super().__init__(binary, **kw)

    def log_text(self):
        text = ""
        for path in (self.rotated, self.log_file):
            if os.path.exists(path):
                with open(path, "rb") as f:
                    text += f.read().decode("utf-8", "replace")
        return text + super().log_text()  # stderr: only what could not go to the file


class SyslogServer(h.PigeonServer):
    """A server logging to a datagram socket this test binds (log_text: what arrived)."""

    def __init__(self, binary, sock_path, **kw):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(sock_path)
        self.sock.settimeout(0.2)
        self.datagrams = []
        self.lock = threading.Lock()
        self.running = True
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        super().__init__(binary, **kw)

    def _read(self):
        while self.running:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.datagrams.append(data.decode("utf-8", "replace"))

    def log_text(self):
        with self.lock:
            return "\n".join(self.datagrams) + "\n" + super().log_text()

    def close_socket(self):
        self.running = False
        self.reader.join(timeout=5)
        self.sock.close()


def send_inbound(srv, to, subject):
    with smtplib.SMTP("127.0.0.1", srv.ports["inbound"], timeout=15) as s:
        s.ehlo("client.test")
        s.sendmail("sender@example.org", [to], "Subject: %s\r\n\r\nhello\r\n" % subject)


def submit_remote(srv, subject):
    """Alice, authenticated on submission, sends to REMOTE."""
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=15) as s:
        s.ehlo("client.test")
        s.starttls(context=h.client_tls_context())
        s.ehlo("client.test")
        s.login(ALICE, h.password("alice"))
        s.sendmail(ALICE, [REMOTE], "From: %s\r\nSubject: %s\r\n\r\nbody\r\n" % (ALICE, subject))


def send_scenario(srv):
    """3 local messages, 1 refused at RCPT, 1 remote (deferred). Returns the counts sent."""
    for i, to in enumerate((BOB, ALICE, BOB)):
        send_inbound(srv, to, "local %d" % i)
    with smtplib.SMTP("127.0.0.1", srv.ports["inbound"], timeout=15) as s:
        s.ehlo("client.test")
        s.mail("sender@example.org")
        code, _ = s.rcpt("nobody@test.example")
        assert code == 550, code
        s.rset()
    submit_remote(srv, "out")
    srv.wait_for_messages("bob", 2, timeout=20)
    srv.wait_for_messages("alice", 1, timeout=20)
    assert h.wait_until(lambda: "status=deferred" in srv.log_text() or
                        '"status":"deferred"' in srv.log_text(), 30), srv.log_text()[-3000:]
    return {"received": 4, "delivered": 3, "rejected": 1, "deferred": 1, "bounced": 0}


def outbound_config():
    return "\n[outbound]\nmx_port = %d\n" % closed_port()


def pflogsumm_totals(log_path):
    out = subprocess.run([PFLOGSUMM, "--syslog-name=pigeon", log_path], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=60, check=True).stdout.decode()
    totals = {}
    for word in ("received", "delivered", "deferred", "bounced", "rejected"):
        m = re.search(r"^\s*(\d+)\s+%s\b" % word, out, re.M)
        assert m, "pflogsumm printed no %s count:\n%s" % (word, out)
        totals[word] = int(m.group(1))
    return totals, out


class OperatorLog(unittest.TestCase):
    maxDiff = None

    def test_pflogsumm_counts_what_was_sent(self):
        srv = h.PigeonServer(BIN, zone=ZONE, extra_config=outbound_config())
        try:
            srv.start()
            expected = send_scenario(srv)
            self.assertEqual(srv.stop(), 0)
            totals, report = pflogsumm_totals(srv.log_path)
            text = srv.log_text()
        finally:
            srv.cleanup()
        self.assertEqual(totals, expected, report)
        # pflogsumm's detail sections name who sent and where it went.
        self.assertIn("sender@example.org", report)
        self.assertIn("test.example", report)
        # The deferred recipient's line, as Postfix writes it.
        self.assertRegex(text, r"pigeon/smtp\[\d+\]: %s: to=<%s>, relay=none, delay=\d+, "
                               r"delays=\d+/0/\d+/\d+, dsn=4\.\d+\.\d+, status=deferred \(" % (QID, REMOTE))
        self.assertRegex(text, r"pigeon/local\[\d+\]: %s: to=<%s>, relay=local, delay=\d+, "
                               r"delays=\d+/0/0/\d+, dsn=2\.0\.0, status=sent \(delivered to maildir\)"
                         % (QID, re.escape(BOB)))
        self.assertRegex(text, r"pigeon/submission/smtpd\[\d+\]: %s: client=unknown\[127\.0\.0\.1\], "
                               r"sasl_username=%s" % (QID, re.escape(ALICE)))

    def test_pflogsumm_counts_a_bounce(self):
        """A remote recipient the next hop refuses (smtp-sink, 5xx at RCPT): status=bounced, and
        the failure notice delivered to the (local) sender is a delivery of its own."""
        with peers.SmtpSink(hard=["RCPT"]) as sink:
            srv = h.PigeonServer(BIN, zone=ZONE, extra_config="\n[outbound]\nmx_port = %d\n" % sink.port)
            try:
                srv.start()
                submit_remote(srv, "bounce me")
                notices = srv.wait_for_messages("alice", 1, timeout=30)
                self.assertEqual(len(notices), 1, srv.log_text()[-3000:])
                self.assertEqual(srv.stop(), 0)
                totals, report = pflogsumm_totals(srv.log_path)
                text = srv.log_text()
            finally:
                srv.cleanup()
        self.assertEqual(totals, {"received": 1, "delivered": 1, "rejected": 0, "deferred": 0, "bounced": 1}, report)
        self.assertRegex(text, r"pigeon/smtp\[\d+\]: %s: to=<%s>, relay=mx\.remote\.example\[127\.0\.0\.1\]:%d, "
                               r"delay=\d+, delays=\d+/0/\d+/\d+, dsn=5\.\d+\.\d+, status=bounced \(5\d\d "
                         % (QID, REMOTE, sink.port))
        self.assertEqual(len(re.findall(r"status=bounced", text)), 1, text[-3000:])  # one line per event

    def test_json_lines_carry_the_fields(self):
        srv = h.PigeonServer(BIN, zone=ZONE,
                             extra_config=outbound_config() + '\n[log]\nformat = "json"\n')
        try:
            srv.start()
            send_scenario(srv)
            self.assertEqual(srv.stop(), 0)
            raw = srv.log_text()
        finally:
            srv.cleanup()
        objects = [json.loads(line) for line in raw.splitlines()]  # every line is one object
        for o in objects:
            self.assertRegex(o["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertIn(o["level"], ("error", "warn", "info"))
            self.assertIsInstance(o["pid"], int)
            self.assertTrue("msg" in o or "event" in o, o)
        events = [o for o in objects if "event" in o]
        by = lambda name: [o for o in events if o["event"] == name]  # noqa: E731
        queued = by("queued")
        self.assertEqual(len(queued), 4, queued)
        for q in queued:
            self.assertRegex(q["queue_id"], "^%s$" % QID)
            self.assertEqual(q["nrcpt"], 1)
            self.assertIsInstance(q["size"], int)
            self.assertEqual(q["service"], "qmgr")
        self.assertEqual(sorted(q["from"] for q in queued), sorted(["sender@example.org"] * 3 + [ALICE]))
        received = by("received")
        self.assertEqual(sorted(r["queue_id"] for r in received), sorted(q["queue_id"] for q in queued))
        self.assertEqual([r.get("sasl_username") for r in received if r["service"] == "submission/smtpd"], [ALICE])
        sent = [d for d in by("delivery") if d["status"] == "sent"]
        self.assertEqual(sorted(d["to"] for d in sent), sorted([BOB, ALICE, BOB]))
        for d in sent:
            self.assertEqual((d["relay"], d["dsn"], d["service"]), ("local", "2.0.0", "local"))
            self.assertIsInstance(d["delay"], int)
        deferred = [d for d in by("delivery") if d["status"] == "deferred"]
        self.assertEqual([(d["to"], d["service"], d["relay"]) for d in deferred], [(REMOTE, "smtp", "none")])
        self.assertTrue(deferred[0]["dsn"].startswith("4."), deferred)
        self.assertEqual(sorted(r["queue_id"] for r in by("removed")), sorted(d["queue_id"] for d in sent))
        rejects = by("reject")
        self.assertEqual(len(rejects), 1, rejects)
        self.assertEqual((rejects[0]["stage"], rejects[0]["to"], rejects[0]["from"], rejects[0]["helo"],
                          rejects[0]["reply"][:3]),
                         ("RCPT", "nobody@test.example", "sender@example.org", "client.test", "550"))
        self.assertEqual(len(by("connect")), len(by("disconnect")))

    def private_path(self, name):
        """A path in a directory of this test's own, removed when the test ends."""
        d = tempfile.mkdtemp(prefix="pigeon-oplog-")
        self.addCleanup(shutil.rmtree, d, True)
        return os.path.join(d, name)

    def test_file_target_is_reopened_on_sigusr2_and_loses_nothing(self):
        log_file = self.private_path("pigeon.log")
        srv = FileServer(BIN, log_file,
                         extra_config='\n[log]\ntarget = "file"\nfile = "%s"\n' % log_file)
        try:
            srv.start()
            for i in range(3):
                send_inbound(srv, BOB, "before %d" % i)
            srv.wait_for_messages("bob", 3, timeout=20)
            os.rename(log_file, srv.rotated)  # what logrotate does, then its postrotate:
            os.kill(srv.proc.pid, signal.SIGUSR2)
            self.assertTrue(h.wait_until(lambda: os.path.exists(log_file), 10), "no new log file")
            for i in range(3):
                send_inbound(srv, BOB, "after %d" % i)
            srv.wait_for_messages("bob", 6, timeout=20)
            self.assertEqual(srv.stop(), 0)
            with open(srv.rotated) as f:
                old = f.read()
            with open(log_file) as f:
                new = f.read()
            stderr = h.PigeonServer.log_text(srv)
        finally:
            srv.cleanup()
        self.assertEqual(stderr, "")  # everything went to the file
        self.assertIn(" ready", old)
        self.assertIn("log file reopened (SIGUSR2)", new)
        self.assertIn("stopped", new.splitlines()[-1])
        # Each of the six messages has its four lines, each exactly once, across the two files;
        # the three sent after the rotation are all in the new file.
        qids = re.findall(r": (%s): client=" % QID, old + new)
        self.assertEqual(len(qids), 6, qids)
        for n, qid in enumerate(qids):
            for shape in (": client=", ": from=<sender@example.org>, size=", ", status=sent", ": removed"):
                self.assertEqual(sum(1 for line in (old + new).splitlines()
                                     if qid in line and shape in line), 1, (qid, shape))
            if n >= 3:
                self.assertIn(qid + ": removed", new)

    def test_syslog_target_sends_tagged_datagrams(self):
        sock_path = self.private_path("log")
        srv = SyslogServer(BIN, sock_path,
                           extra_config='\n[log]\ntarget = "syslog"\nsyslog_socket = "%s"\n' % sock_path)
        try:
            srv.start()
            pid = srv.proc.pid
            send_inbound(srv, BOB, "via syslog")
            srv.wait_for_messages("bob", 1, timeout=20)
            self.assertEqual(srv.stop(), 0)
            srv.close_socket()
            datagrams = list(srv.datagrams)
        finally:
            srv.cleanup()
        self.assertTrue(datagrams)
        # RFC 3164: <PRI> (mail * 8 + severity), the time stamp, the tag, the text; one line each.
        line_re = re.compile(r"^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d pigeon/([a-z/]+)\[%d\]: (.*)$" % pid)
        parsed = []
        for d in datagrams:
            m = line_re.match(d)
            self.assertIsNotNone(m, d)
            self.assertNotIn("\n", d)
            parsed.append((int(m.group(1)), m.group(2), m.group(3)))
        self.assertIn((22, "smtpd", "connect from unknown[127.0.0.1]"), parsed)  # mail.info
        self.assertTrue(any(p == 22 and s == "local" and "status=sent" in t for p, s, t in parsed), parsed)
        self.assertTrue(any(s == "master" and t.startswith("ready") for _p, s, t in parsed), parsed)
        self.assertTrue(all(p // 8 == 2 for p, _s, _t in parsed), parsed)


if __name__ == "__main__":
    unittest.main(verbosity=2)
