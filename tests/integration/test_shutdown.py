#!/usr/bin/python3
"""Graceful shutdown: on SIGTERM (and SIGINT) an idle client gets 421 4.3.2 at once, a client
in the middle of a transaction may finish it (250) and then gets 421 4.3.2, a silent client in
a transaction is cut with 421 4.3.2 when the grace period ends, new connections are refused,
and the server exits (status 0) within the grace bound without losing an acknowledged message.

usage: test_shutdown.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()

BOB = h.address("bob")
GRACE = 3


def token(label):
    return "tok-%s-%d-%d" % (label, os.getpid(), time.monotonic_ns())


def connection_refused(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
    except (ConnectionRefusedError, socket.timeout, OSError):
        return True
    try:
        s.settimeout(2)
        data = s.recv(100)  # accepted in a race: must not be greeted
        return not data.startswith(b"220")
    except OSError:
        return True
    finally:
        s.close()


class Shutdown(unittest.TestCase):

    def start(self):
        srv = h.PigeonServer(BIN, limits={"shutdown_grace_seconds": GRACE})
        srv.start()
        self.addCleanup(srv.cleanup)
        return srv

    def test_sigterm_idle_busy_and_silent_clients(self):
        srv = self.start()
        port = srv.ports["inbound"]
        tok_busy, tok_silent = token("busy"), token("silent")
        idle = h.SmtpClient(port)
        busy = h.SmtpClient(port)
        silent = h.SmtpClient(port, implicit_tls=False)
        for c in (idle, busy, silent):
            self.addCleanup(c.close)
            c.expect(220)
            c.cmd("EHLO client.test", 250)
        busy.cmd("MAIL FROM:<sender@ext.example>", 250)
        busy.cmd("RCPT TO:<%s>" % BOB, 250)
        silent.cmd("MAIL FROM:<sender@ext.example>", 250)
        silent.cmd("RCPT TO:<%s>" % BOB, 250)
        silent.cmd("DATA", 354)
        silent.send("Subject: %s\r\n\r\nhalf a message" % tok_silent)

        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)

        # The idle client: 421 4.3.2 at once, then the connection closes.
        r = idle.reply(timeout=5)
        t_idle = time.monotonic() - t0
        self.assertTrue(r.lines[0].startswith("421 4.3.2"), r)
        self.assertLess(t_idle, 2.0)
        _, closed = idle.read_until_closed(timeout=5)
        self.assertTrue(closed)

        # No new connections.
        self.assertTrue(h.wait_until(lambda: connection_refused(port), 3, interval=0.2),
                        "still accepting connections after SIGTERM")

        # The busy client may finish its transaction, then gets 421.
        busy.cmd("DATA", 354)
        busy.send("Subject: %s\r\n\r\nfinished during shutdown\r\n.\r\n" % tok_busy)
        r = busy.reply()
        self.assertEqual(r.code, 250, r)
        r = busy.reply(timeout=5)
        self.assertTrue(r.lines[0].startswith("421 4.3.2"), r)
        _, closed = busy.read_until_closed(timeout=5)
        self.assertTrue(closed)

        # The silent client is cut when the grace period is over.
        r = silent.reply(timeout=GRACE + 5)
        t_silent = time.monotonic() - t0
        self.assertTrue(r.lines[0].startswith("421 4.3.2"), r)
        self.assertGreater(t_silent, GRACE - 1)
        self.assertLess(t_silent, GRACE + 3)
        _, closed = silent.read_until_closed(timeout=5)
        self.assertTrue(closed)

        status = srv.wait_exit(GRACE + 10)
        t_exit = time.monotonic() - t0
        print("421 to idle after %.2f s, to silent after %.2f s, exit after %.2f s (status %r)"
              % (t_idle, t_silent, t_exit, status))
        self.assertEqual(status, 0, "server did not exit cleanly within the grace bound")
        self.assertLess(t_exit, GRACE + 5)
        log = srv.log_text()
        self.assertIn("stopping:", log)
        self.assertTrue(log.rstrip().endswith("stopped"), log[-500:])
        srv.stop()

        # The acknowledged message is not lost: delivered, or still queued and delivered at
        # the next start. The cut one never appears.
        delivered = srv.messages_with("bob", tok_busy)
        if not delivered:
            self.assertNotIn("queue is empty", srv.queue_list())
            srv.start()
            delivered = srv.wait_for_messages("bob", 1, token=tok_busy)
            h.normal_client_works(srv, label="restart")
            self.assertEqual(srv.stop(), 0)
        self.assertEqual(len(srv.messages_with("bob", tok_busy)), 1)
        self.assertEqual(srv.messages_with("bob", tok_silent), [])

    def test_sigterm_without_clients_exits_promptly(self):
        srv = self.start()
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        status = srv.wait_exit(GRACE + 10)
        self.assertEqual(status, 0)
        self.assertLess(time.monotonic() - t0, 2.5)

    def test_sigint_idle_submission_client_gets_421(self):
        srv = self.start()
        c = h.SmtpClient(srv.ports["submissions"], implicit_tls=True)
        self.addCleanup(c.close)
        c.expect(220)
        c.cmd("EHLO client.test", 250)
        c.auth_plain(h.address("alice"), h.password("alice"))
        t0 = time.monotonic()
        srv.signal(signal.SIGINT)
        r = c.reply(timeout=5)
        self.assertTrue(r.lines[0].startswith("421 4.3.2"), r)
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertEqual(srv.wait_exit(GRACE + 10), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
