#!/usr/bin/python3
"""Self-test of the test peers (peers.py), without Pigeon: a private Postfix delivers to its
Maildir (headers intact, a dot-stuffed line and an 8-bit line survive), offers STARTTLS,
relays pigeon.test to a small SMTP receiver written here (and queues, then flushes, while the
receiver is down); smtp-sink saves a message and fails RCPT with 5xx or 4xx as scripted; and
no process of any peer is left afterwards, also when a test body raises.

usage: /usr/bin/python3 tests/integration/test_peers.py   (a file argument, such as the pigeon
binary that ctest passes to every integration script, is ignored: Pigeon is not needed here)
"""
import os
import socketserver
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

SEEN_PIDS = set()   # every peer process seen while running: none may be alive at the end


def remember(peer):
    SEEN_PIDS.update(peer.pids())
    if peer._watchdog is not None:  # noqa: SLF001 - its watchdog must be gone too
        SEEN_PIDS.add(peer._watchdog.pid)


def alive(pid):
    """True while the pid exists at all, zombies included."""
    return os.path.exists("/proc/%d" % pid)


# ---------------------------------------------------------------------- a tiny SMTP receiver

class Receiver(socketserver.ThreadingTCPServer):
    """An SMTP server on 127.0.0.1 that accepts everything and keeps each message as
    (mail_from, [rcpts], data bytes with CRLF, dot-unstuffed). No TLS."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port):
        super().__init__(("127.0.0.1", port), _ReceiverHandler)
        self.received = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.shutdown()
        self.server_close()
        self.thread.join(5)


class _ReceiverHandler(socketserver.StreamRequestHandler):
    timeout = 15

    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        self.reply("220 receiver.test ESMTP")
        mail_from, rcpts = None, []
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb in (b"EHLO", b"HELO"):
                self.reply("250-receiver.test\r\n250-8BITMIME\r\n250 PIPELINING")
            elif verb == b"MAIL":
                mail_from, rcpts = line[10:].strip().decode(errors="replace"), []
                self.reply("250 2.1.0 ok")
            elif verb == b"RCPT":
                rcpts.append(line[8:].strip().decode(errors="replace"))
                self.reply("250 2.1.5 ok")
            elif verb == b"DATA":
                self.reply("354 go ahead")
                data = b""
                while True:
                    dl = self.rfile.readline(1 << 20)
                    if not dl or dl == b".\r\n":
                        break
                    data += dl[1:] if dl.startswith(b".") else dl
                with self.server.lock:
                    self.server.received.append((mail_from, rcpts, data))
                self.reply("250 2.0.0 stored")
            elif verb in (b"RSET", b"NOOP"):
                self.reply("250 2.0.0 ok")
            elif verb == b"QUIT":
                self.reply("221 2.0.0 bye")
                return
            else:
                self.reply("502 5.5.2 unknown")


# ---------------------------------------------------------------------- Postfix

MESSAGE = (b"From: Alice <alice@client.test>\r\n"
           b"To: <user@postfix.test>\r\n"
           b"Subject: peers self-test %s\r\n"
           b"Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
           b"Message-ID: <%s@client.test>\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n"
           b"\r\n"
           b"first line\r\n"
           b".starts with a dot\r\n"
           b"..two dots\r\n"
           b"caf\xc3\xa9 na\xc3\xafve \xe2\x82\xac\r\n"
           b"last line\r\n")


def message(token):
    return MESSAGE % (token.encode(), token.encode())


class PostfixTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.relay_port = peers.free_port()   # the receiver starts later, in a test
        cls.pf = peers.PostfixPeer(relay_port=cls.relay_port)
        t0 = time.monotonic()
        cls.pf.start()
        print("postfix peer up on port %d in %.2f s (%s)"
              % (cls.pf.port, time.monotonic() - t0, cls.pf.root), file=sys.stderr)
        remember(cls.pf)

    @classmethod
    def tearDownClass(cls):
        remember(cls.pf)
        cls.pf.cleanup()

    def explain(self):
        return "\n--- maillog ---\n" + self.pf.log() + "\n--- master ---\n" + self.pf.master_output()

    def test_1_maildir_delivery_keeps_headers_dots_and_8bit(self):
        code, text = peers.send(self.pf.port, "alice@client.test", "user@postfix.test",
                                message("maildir"))
        self.assertEqual(code, 250, text)
        msgs = self.pf.wait_for_messages("user", 1, timeout=15)
        remember(self.pf)
        self.assertEqual(len(msgs), 1, self.explain())
        raw = msgs[0]
        head, _, body = raw.partition(b"\n\n")
        # Every header field we sent is there, byte for byte (LF line ends in Maildir).
        for line in MESSAGE.split(b"\r\n\r\n")[0].split(b"\r\n"):
            line = line.replace(b"%s", b"maildir")
            self.assertIn(line + b"\n", head + b"\n", self.explain())
        self.assertIn(b"Received: from client.test (unknown [127.0.0.1])\n\tby postfix.test"
                      b" (Postfix) with ESMTP", head)
        self.assertTrue(head.startswith(b"Return-Path: <alice@client.test>\n"), head)
        self.assertIn(b"Delivered-To: user@postfix.test\n", head)
        self.assertEqual(body, b"first line\n.starts with a dot\n..two dots\n"
                               b"caf\xc3\xa9 na\xc3\xafve \xe2\x82\xac\nlast line\n")
        # Headers are not rewritten for loopback clients: nothing added but the trace fields.
        self.assertEqual(head.count(b"\nMessage-ID:") + head.count(b"\nMessage-Id:"), 1)

    def test_1b_no_headers_added_for_loopback_clients(self):
        # A real remote MX adds only trace fields: no Message-Id, Date or From for a bare
        # message (local_header_rewrite_clients is empty).
        peers.send(self.pf.port, "alice@client.test", "alice@postfix.test",
                   b"Subject: bare\r\n\r\nbody\r\n")
        msgs = self.pf.wait_for_messages("alice", 1, timeout=15)
        self.assertEqual(len(msgs), 1, self.explain())
        head = msgs[0].partition(b"\n\n")[0].lower()
        for name in (b"message-id:", b"date:", b"from:"):
            self.assertNotIn(b"\n" + name, head, msgs[0])

    def test_2_unknown_user_is_refused_5xx(self):
        with self.assertRaises(peers.SendError) as cm:
            peers.send(self.pf.port, "alice@client.test", "nobody-here@postfix.test", b"x\r\n")
        self.assertEqual((cm.exception.stage, cm.exception.code // 100), ("rcpt", 5),
                         str(cm.exception))

    def test_3_starttls_is_offered_and_works(self):
        code, _ = peers.send(self.pf.port, "alice@client.test", "bob@postfix.test",
                             message("tls"), starttls=True)
        self.assertEqual(code, 250)
        self.assertEqual(len(self.pf.wait_for_messages("bob", 1, timeout=15)), 1, self.explain())
        self.assertIn("Anonymous TLS connection established from unknown[127.0.0.1]",
                      self.pf.log())

    def test_4_relay_to_pigeon_test_queues_then_flushes(self):
        # Receiver down: Postfix accepts, the delivery attempt is refused, mail stays queued.
        code, text = peers.send(self.pf.port, "alice@client.test", "dave@pigeon.test",
                                message("relay"))
        self.assertEqual(code, 250, text)
        queued = peers.wait_until(lambda: "dave@pigeon.test" in self.pf.queue()
                                  and "Connection refused" in self.pf.queue(), 15)
        self.assertTrue(queued, self.pf.queue() + self.explain())
        print("queue while the receiver is down:\n" + self.pf.queue(), file=sys.stderr)
        # Receiver up: flush delivers it, with Postfix's Received field on top.
        rx = Receiver(self.relay_port)
        try:
            self.pf.flush()
            self.assertTrue(peers.wait_until(lambda: rx.received, 20), self.explain())
            remember(self.pf)
            mail_from, rcpts, data = rx.received[0]
            self.assertEqual(mail_from.split()[0], "<alice@client.test>")
            self.assertEqual(rcpts, ["<dave@pigeon.test>"])
            self.assertTrue(data.startswith(b"Received: from client.test (unknown [127.0.0.1])"
                                            b"\r\n\tby postfix.test (Postfix) with ESMTP id "),
                            data[:300])
            self.assertIn(b"\r\n.starts with a dot\r\n..two dots\r\n", data)
            self.assertIn(b"caf\xc3\xa9", data)
            self.assertTrue(peers.wait_until(self.pf.queue_empty, 10), self.pf.queue())
            self.assertIn("relay=127.0.0.1[127.0.0.1]:%d" % self.relay_port, self.pf.log())
        finally:
            rx.close()

    def test_5_other_domains_are_refused_without_dns(self):
        # default_transport = error: smtpd refuses at RCPT, before anything is queued.
        with self.assertRaises(peers.SendError) as cm:
            peers.send(self.pf.port, "alice@client.test", "x@elsewhere.example", b"x\r\n")
        self.assertEqual((cm.exception.stage, cm.exception.code), ("rcpt", 550))
        self.assertIn("no delivery outside loopback", cm.exception.text)


    def test_6_set_relay_port_restarts_on_the_same_port(self):
        port = self.pf.port
        rx_port = peers.free_port()
        rx = Receiver(rx_port)
        try:
            self.pf.set_relay_port(rx_port)
            remember(self.pf)
            self.assertEqual(self.pf.port, port)
            self.assertEqual(peers.send(port, "alice@client.test", "erin@pigeon.test",
                                        message("moved"))[0], 250)
            self.assertTrue(peers.wait_until(lambda: rx.received, 20), self.explain())
            self.assertEqual(rx.received[0][1], ["<erin@pigeon.test>"])
        finally:
            rx.close()
        # Mailboxes survive the restart.
        self.assertEqual(len(self.pf.messages("user")), 1)

    def test_7_relay_uses_starttls_when_the_next_hop_offers_it(self):
        # A second, independent instance plays Pigeon's inbound: it accepts pigeon.test.
        with peers.PostfixPeer(domain="pigeon.test", relay_domain="other.test",
                               users=["frank"], hostname="second.test") as second:
            remember(second)
            self.pf.set_relay_port(second.port)
            remember(self.pf)
            self.assertEqual(peers.send(self.pf.port, "alice@client.test", "frank@pigeon.test",
                                        message("tls-relay"))[0], 250)
            msgs = second.wait_for_messages("frank", 1, timeout=20)
            self.assertEqual(len(msgs), 1, self.explain() + second.log())
            self.assertIn(b"by second.test (Postfix) with ESMTPS", msgs[0])
            self.assertIn(b"by postfix.test (Postfix) with ESMTP id", msgs[0])
            self.assertTrue(peers.wait_until(
                lambda: "Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:%d"
                % second.port in self.pf.log(), 10), self.explain())


# ---------------------------------------------------------------------- smtp-sink

class SinkTests(unittest.TestCase):
    def test_accepts_saves_then_fails_hard_and_soft(self):
        with peers.SmtpSink() as sink:
            remember(sink)
            port = sink.port
            code, _ = peers.send(port, "alice@client.test", ["a@sink.test", "b@sink.test"],
                                 message("sink"))
            self.assertEqual(code, 250)
            msgs = sink.wait_for_messages(1, timeout=10)
            self.assertEqual(len(msgs), 1, sink.output())
            m = msgs[0]
            self.assertEqual(m.mail_from, "alice@client.test")
            self.assertEqual(m.rcpts, ["a@sink.test", "b@sink.test"])
            self.assertEqual(m.helo, "client.test")
            self.assertIn("BODY=8BITMIME", m.mail_args)
            self.assertEqual(m.data, MESSAGE.replace(b"%s", b"sink").replace(b"\r\n", b"\n"))

            sink.restart(hard=["RCPT"])
            self.assertEqual(sink.port, port)
            remember(sink)
            with self.assertRaises(peers.SendError) as cm:
                peers.send(port, "alice@client.test", "a@sink.test", b"x\r\n")
            self.assertEqual((cm.exception.stage, cm.exception.code // 100), ("rcpt", 5))

            sink.restart(soft=["RCPT"])
            remember(sink)
            with self.assertRaises(peers.SendError) as cm:
                peers.send(port, "alice@client.test", "a@sink.test", b"x\r\n")
            self.assertEqual((cm.exception.stage, cm.exception.code // 100), ("rcpt", 4))

            sink.restart(drop_421=["DATA"])
            remember(sink)
            with self.assertRaises(peers.SendError) as cm:
                peers.send(port, "alice@client.test", "a@sink.test", b"x\r\n")
            self.assertEqual((cm.exception.stage, cm.exception.code), ("data", 421))

            sink.restart()   # accepting again, same port
            remember(sink)
            self.assertEqual(peers.send(port, "a@client.test", "a@sink.test", b"y\r\n")[0], 250)
            self.assertEqual(len(sink.wait_for_messages(2, timeout=10)), 2)


# ---------------------------------------------------------------------- cleanup

class CleanupTests(unittest.TestCase):
    def test_z_exception_inside_with_still_stops_everything(self):
        groups = []
        with self.assertRaises(ZeroDivisionError):
            with peers.PostfixPeer() as pf, peers.SmtpSink() as sink:
                groups = [pf.proc.pid, sink.proc.pid]
                remember(pf)
                remember(sink)
                root = pf.root
                # Without a relay port, mail for the relay domain is deferred at RCPT rather
                # than looked up in DNS.
                with self.assertRaises(peers.SendError) as cm:
                    peers.send(pf.port, "a@client.test", "x@pigeon.test", b"x\r\n")
                self.assertEqual((cm.exception.stage, cm.exception.code), ("rcpt", 450))
                1 / 0
        for g in groups:
            self.assertEqual(peers.processes_in_group(g), [])
        self.assertFalse(os.path.exists(root))


def main():
    t0 = time.monotonic()
    sys.argv[:] = [sys.argv[0]] + [a for a in sys.argv[1:] if not os.path.isfile(a)]
    result = unittest.main(module=sys.modules[__name__], exit=False, verbosity=2).result
    left = sorted(p for p in SEEN_PIDS if alive(p))
    print("peer processes seen: %d; still alive: %r" % (len(SEEN_PIDS), left), file=sys.stderr)
    ok = result.wasSuccessful() and not left and SEEN_PIDS
    elapsed = time.monotonic() - t0
    print("elapsed %.1f s" % elapsed, file=sys.stderr)
    if elapsed > 60:
        print("too slow: the self-test must finish in under 60 s", file=sys.stderr)
        ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
