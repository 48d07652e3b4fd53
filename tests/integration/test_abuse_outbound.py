#!/usr/bin/python3
"""Issue 13, the outbound side, against the real `pigeon serve` on loopback:

- a trickling MX (a fake one here, on 127.0.0.1) that sends its greeting one octet per second:
  with command_timeout_seconds = 3 Pigeon gives up on it within a bounded time, defers the
  recipient (4.4.x, one attempt counted, shown by `pigeon queue list`), frees its only
  connection slot (outbound.max_connections = 1) and delivers other mail meanwhile;
- `pigeon queue hold|release|delete` against a running server go through the server (one
  spool, never a second writer): a held message is not delivered even when flushed, survives a
  restart and is delivered after release; a deleted message is gone, and stays gone after a
  restart; the server keeps accepting and delivering other mail throughout;
- a server that holds the lock but does not answer (SIGSTOP) gets a clear refusal: non-zero
  exit, "did not answer", and nothing changed.

usage: test_abuse_outbound.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import os
import re
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()
ALICE = h.address("alice")


class FakeMx:
    """A minimal SMTP server on 127.0.0.1, one thread per connection, bounded in time.

    trickle: the greeting goes out one octet per `interval` seconds (at most `max_octets` of
    it), and nothing else is ever answered. Otherwise it answers like smtp-sink and keeps each
    message. Every loop is bounded: connections end after `life` seconds."""

    def __init__(self, trickle=False, interval=1.0, life=60, port=None):
        self.trickle = trickle
        self.interval = interval
        self.life = life
        self.messages = []
        self.trickled = []  # octets sent per trickling connection
        self.connections = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port or 0))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
            target = self._trickle if self.trickle else self._serve
            threading.Thread(target=target, args=(conn,), daemon=True).start()

    def _trickle(self, conn):
        greeting = b"220 trickle.test ESMTP a very slow greeting indeed\r\n"
        sent = 0
        deadline = time.monotonic() + self.life
        try:
            for octet in greeting:
                if self.stopping or time.monotonic() > deadline:
                    break
                conn.sendall(bytes([octet]))
                sent += 1
                time.sleep(self.interval)
        except OSError:
            pass  # Pigeon closed the connection: what we wait for
        finally:
            with self.lock:
                self.trickled.append(sent)
            conn.close()

    def _serve(self, conn):
        conn.settimeout(self.life)
        f = conn.makefile("rb")
        try:
            conn.sendall(b"220 good.test ESMTP\r\n")
            while True:
                line = f.readline(1000)
                if not line:
                    return
                cmd = line.strip().upper()
                if cmd.startswith(b"EHLO"):
                    conn.sendall(b"250-good.test\r\n250 8BITMIME\r\n")
                elif cmd == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    body = b""
                    while True:
                        part = f.readline(100000)
                        if not part or part == b".\r\n":
                            break
                        body += part
                    with self.lock:
                        self.messages.append(body)
                    conn.sendall(b"250 2.0.0 queued\r\n")
                elif cmd == b"QUIT":
                    conn.sendall(b"221 2.0.0 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 2.0.0 OK\r\n")
        except OSError:
            return
        finally:
            conn.close()

    def received(self, token):
        with self.lock:
            return [m for m in self.messages if token.encode() in m]

    def stop(self):
        self.stopping = True
        self.sock.close()
        self.thread.join(5)


def routes(*items):
    text = ""
    for domain, port in items:
        text += ('\n[[outbound.routes]]\ndomain = "%s"\nhost = "127.0.0.1"\nport = %d\ntls = "none"\n'
                 % (domain, port))
    return text


def submit(srv, rcpt, token):
    body = "From: <%s>\r\nSubject: %s\r\n\r\n%s\r\n" % (ALICE, token, token)
    r = h.send_message(srv.ports["submission"], ALICE, [rcpt], body, tls=True,
                       auth=(ALICE, h.password("alice")))
    if r.code != 250:
        raise h.SmtpError("expected 250 to the end of data, got %r" % r.lines)
    m = re.search(r"queued as ([0-9A-Z]{16})", r.text)
    return m.group(1) if m else None


def queue_id_for(srv, rcpt):
    """The queue id of the (one) queued message with this recipient, or None."""
    current = None
    for line in srv.queue_list().splitlines():
        m = re.match(r"^([0-9A-Z]{16})  ", line)
        if m:
            current = m.group(1)
        elif rcpt in line and current:
            return current
    return None


def run(srv, *args, timeout=60):
    r = srv.pigeon(*args, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


class TricklingMx(unittest.TestCase):
    def test_a_trickling_mx_is_given_up_and_other_mail_still_leaves(self):
        slow = FakeMx(trickle=True, interval=1.0, life=40)
        good = FakeMx()
        srv = h.PigeonServer(BIN, extra_config=(
            "\n[outbound]\nmax_connections = 1\nconnect_timeout_seconds = 5\n"
            "command_timeout_seconds = 3\nfirst_retry_seconds = 600\n" +
            routes(("trickle.test", slow.port), ("good.test", good.port))))
        try:
            srv.start()
            started = time.monotonic()
            submit(srv, "victim@trickle.test", "to-the-trickler")
            # The trickler takes the only slot first; then mail for another domain.
            self.assertTrue(h.wait_until(lambda: slow.connections >= 1, 10), srv.log_text()[-2000:])
            tok = "meanwhile-%d" % os.getpid()
            submit(srv, "someone@good.test", tok)
            self.assertTrue(h.wait_until(lambda: good.received(tok), 20),
                            "other mail was not delivered:\n" + srv.log_text()[-3000:])
            delivered_after = time.monotonic() - started
            self.assertTrue(h.wait_until(lambda: "timed out waiting for greeting" in srv.log_text(), 10),
                            srv.log_text()[-3000:])
            # Bound: the 3 s reply deadline plus scheduling slack, never the 52 s the whole
            # trickled greeting would take (each octet used to re-arm the timer).
            self.assertLess(delivered_after, 15, srv.log_text()[-3000:])
            self.assertTrue(h.wait_until(lambda: slow.trickled, 10))
            self.assertLessEqual(slow.trickled[0], 8, "Pigeon kept listening to the trickle")
            listing = srv.queue_list()
            self.assertRegex(listing, r"<victim@trickle.test>  pending  attempts 1, next ")
            self.assertIn("Timeout waiting for the greeting reply", listing)
            self.assertNotIn("someone@good.test", listing)  # delivered and removed
            self.assertEqual(slow.connections, 1, "retried before first_retry_seconds")
            h.normal_client_works(srv, label="after-trickle")
        finally:
            srv.cleanup()
            slow.stop()
            good.stop()


class QueueControlWithAServer(unittest.TestCase):
    def test_hold_release_delete_through_the_running_server(self):
        later_port = peers.free_port()  # nothing listens there yet: mail for held.test waits
        srv = h.PigeonServer(BIN, extra_config=(
            "\n[outbound]\nconnect_timeout_seconds = 2\nfirst_retry_seconds = 600\n" +
            routes(("held.test", later_port), ("gone.test", later_port))))
        mx = None
        try:
            srv.start()
            submit(srv, "a@held.test", "held-message")
            submit(srv, "b@gone.test", "deleted-message")
            self.assertTrue(h.wait_until(lambda: "attempts 1" in srv.queue_list()
                                         and srv.queue_list().count("attempts 1") == 2, 20),
                            srv.queue_list() + srv.log_text()[-2000:])
            held = queue_id_for(srv, "a@held.test")
            gone = queue_id_for(srv, "b@gone.test")
            self.assertTrue(held and gone, srv.queue_list())

            code, out, err = run(srv, "queue", "hold", held)
            self.assertEqual(code, 0, err)
            self.assertEqual(out, "held %s (by the running server)\n" % held)
            self.assertRegex(srv.queue_list(), held + r".*HELD")
            code, out, err = run(srv, "queue", "delete", gone)
            self.assertEqual(code, 0, err)
            self.assertEqual(out, "deleted %s (by the running server)\n" % gone)
            self.assertIsNone(queue_id_for(srv, "b@gone.test"))
            code, out, err = run(srv, "queue", "delete", gone)
            self.assertEqual(code, 1)
            self.assertIn("the running server refused: no message %s" % gone, err)

            # The MX comes up and everything is flushed: the held message stays.
            mx = FakeMx(port=later_port)
            code, out, err = run(srv, "queue", "flush")
            self.assertEqual(code, 0, err)
            self.assertEqual(out, "nothing to retry: the 1 queued message(s) are held "
                                  "(`pigeon queue release ID`)\n")
            code, out, err = run(srv, "queue", "retry", held)  # due now, but still held
            self.assertEqual(code, 0, err)
            time.sleep(3)
            self.assertEqual(mx.connections, 0, srv.log_text()[-2000:])
            self.assertIn(held, srv.queue_list())

            # Held survives a restart; the deleted message does not come back.
            srv.stop()
            srv.start()
            listing = srv.queue_list()
            self.assertRegex(listing, held + r".*HELD")
            self.assertNotIn(gone, listing)
            time.sleep(2)
            self.assertEqual(mx.connections, 0)
            h.normal_client_works(srv, label="while-held")

            # A server that holds the lock but does not answer: refused, nothing changed.
            srv.signal(signal.SIGSTOP)
            try:
                code, out, err = run(srv, "queue", "release", held, timeout=40)
            finally:
                srv.signal(signal.SIGCONT)
            self.assertEqual(code, 1, out)
            self.assertIn("did not answer within 10 s; nothing was changed", err)
            time.sleep(1)
            self.assertRegex(srv.queue_list(), held + r".*HELD")
            self.assertEqual(mx.connections, 0)

            # Release: delivered now (the retry above made it due), and the queue empties.
            code, out, err = run(srv, "queue", "release", held)
            self.assertEqual(code, 0, err)
            self.assertEqual(out, "released %s (by the running server)\n" % held)
            self.assertTrue(h.wait_until(lambda: mx.received("held-message"), 20),
                            srv.log_text()[-3000:])
            self.assertTrue(h.wait_until(lambda: "queue is empty" in srv.queue_list(), 10),
                            srv.queue_list())
            self.assertEqual(len(mx.received("deleted-message")), 0)
            h.normal_client_works(srv, label="after-release")
            self.assertNotIn("control request", srv.log_text())  # no malformed requests
        finally:
            srv.cleanup()
            if mx:
                mx.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
