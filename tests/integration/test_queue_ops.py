#!/usr/bin/python3
"""The queue commands against the real server (docs/operations.md, "The queue"):

- against a RUNNING server with outbound delivery off, so that mail for remote recipients stays
  queued: messages submitted with smtplib (STARTTLS, AUTH) show up in `pigeon queue list --json`
  (ids, sender, recipients, sizes, held flag) and in `pigeon mailq` (Postfix's layout, a "!"
  after a held id, the "-- N Kbytes in M Requests." trailer), both agreeing with each other and
  with `queue show`; `queue hold ID`, `hold --all`, `release --all` and `delete ID` change the
  spool through the control path (the CLI prints what the server answered);
- the same hold/release --all on the stopped server's spool directly (under the state lock);
- messages held while the server was down stay queued when it starts with outbound delivery to
  Postfix's smtp-sink, and `release --all` to the running server gets them delivered;
- usage errors (neither ID nor --all, both, an unknown flag) exit 64 naming the problem;
- `pigeon sendmail -bs` is refused with a clear message and a non-zero exit.

It reads the CLI's output and the spool, never the server's info log lines.

usage: test_queue_ops.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import json
import math
import os
import re
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()
ALICE = h.address("alice")
REMOTE = "sink.test"  # routed to smtp-sink in the last part; undeliverable before
EX_USAGE = 64
QUEUE_ID = re.compile(r"^[0-9A-Z]{16}$")
# Postfix's mailq: id (with "!" when held) padded to 17, size right-aligned in 8, the arrival
# time in 20, then the sender; recipients indented by 50 spaces; a blank line after each.
MAILQ_MESSAGE = re.compile(r"^([0-9A-Z]{16})(!?) +(\d+) (.{20}) (\S+)$")
MAILQ_TRAILER = re.compile(r"^-- (\d+) Kbytes in (\d+) Requests?\.$")


def outbound_off():
    return "\n[outbound]\nenabled = false\n"


def outbound_to(port):
    return ("\n[outbound]\nfirst_retry_seconds = 1\nmax_retry_interval_seconds = 2\n"
            "connect_timeout_seconds = 5\ncommand_timeout_seconds = 20\n"
            '\n[[outbound.routes]]\ndomain = "%s"\nhost = "127.0.0.1"\nport = %d\ntls = "none"\n'
            % (REMOTE, port))


def submit(srv, rcpts, subject, body_lines=1):
    """alice submits with smtplib on the submission port (STARTTLS, then AUTH)."""
    body = "From: <%s>\r\nTo: %s\r\nSubject: %s\r\n\r\n" % (ALICE, ", ".join(rcpts), subject)
    body += "".join("line %d of %s\r\n" % (i, subject) for i in range(body_lines))
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=15) as s:
        s.ehlo("client.test")
        s.starttls(context=h.client_tls_context())
        s.ehlo("client.test")
        s.login(ALICE, h.password("alice"))
        refused = s.sendmail(ALICE, rcpts, body.encode())
        if refused:
            raise AssertionError("recipients refused: %r" % refused)
    return body


def run(srv, *args):
    """`pigeon ARGS --config <srv's>`; `pigeon mailq|sendmail ARGS` take sendmail's -C instead."""
    if args[0] in ("mailq", "sendmail"):
        r = subprocess.run([BIN] + list(args) + ["-C", srv.config_path], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                           env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    else:
        r = srv.pigeon(*args)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def queue_json(srv):
    code, out, err = run(srv, "queue", "list", "--json")
    if code != 0:
        raise AssertionError("queue list --json: exit %d: %s" % (code, err))
    return json.loads(out)


def parse_mailq(text):
    """[(id, held, size, sender, [recipients])], and the trailer's (kbytes, requests)."""
    messages, trailer = [], None
    for line in text.splitlines():
        m = MAILQ_MESSAGE.match(line)
        if m:
            messages.append([m.group(1), m.group(2) == "!", int(m.group(3)), m.group(5), []])
        elif line.startswith(" " * 50) and messages:
            messages[-1][4].append(line.strip())
        elif MAILQ_TRAILER.match(line):
            t = MAILQ_TRAILER.match(line)
            trailer = (int(t.group(1)), int(t.group(2)))
    return messages, trailer


class QueueOperations(unittest.TestCase):
    def setUp(self):
        self.srv = h.PigeonServer(BIN, extra_config=outbound_off())
        self.srv.start()

    def tearDown(self):
        self.srv.cleanup()

    def held_flags(self):
        return {m["id"]: m["held"] for m in queue_json(self.srv)}

    def assert_cli(self, args, want_out):
        code, out, err = run(self.srv, *args)
        self.assertEqual(code, 0, "%s: %s" % (args, err))
        self.assertIn(want_out, out, args)
        return out

    def test_queue_commands_on_a_running_then_a_stopped_server(self):
        srv = self.srv
        sent = {}
        for i, (rcpts, lines) in enumerate([(["a@%s" % REMOTE], 1),
                                            (["b@%s" % REMOTE, "c@%s" % REMOTE], 40),
                                            (["d@%s" % REMOTE], 300),
                                            (["e@%s" % REMOTE], 5)]):
            subject = "queue-ops-%d-%d" % (os.getpid(), i)
            sent[subject] = (rcpts, submit(srv, rcpts, subject, lines))
        self.assertTrue(h.wait_until(lambda: len(queue_json(srv)) == 4, 10), srv.queue_list())

        # --json: every message with its id, sender, recipients, size and held flag.
        messages = queue_json(srv)
        by_id = {m["id"]: m for m in messages}
        self.assertEqual(len(by_id), 4)
        for m in messages:
            self.assertRegex(m["id"], QUEUE_ID)
            self.assertEqual(m["sender"], "<%s>" % ALICE)
            self.assertIs(m["held"], False)
            self.assertIsInstance(m["arrival"], int)
            for r in m["recipients"]:
                self.assertEqual(r["state"], "pending", r)
        by_rcpts = {tuple(r["address"] for r in m["recipients"]): m for m in messages}
        self.assertEqual(sorted(by_rcpts), sorted(tuple("<%s>" % a for a in rcpts)
                                                  for rcpts, _ in sent.values()))
        for rcpts, body in sent.values():
            m = by_rcpts[tuple("<%s>" % a for a in rcpts)]
            # What is stored is the message as submitted plus the fields the server adds.
            self.assertGreaterEqual(m["size"], len(body), m)
            code, out, err = run(srv, "queue", "show", m["id"])
            self.assertEqual(code, 0, err)
            self.assertIn("id:        %s\n" % m["id"], out)
            self.assertIn("from:      <%s>\n" % ALICE, out)
            self.assertIn("size:      %d octets\n" % m["size"], out)
            for a in rcpts:
                self.assertIn("    <%s>  pending" % a, out)
            self.assertIn(body.split("\r\n\r\n", 1)[1].split("\r\n")[0], out)  # the message itself
        sizes = sorted(m["size"] for m in messages)
        self.assertGreater(sizes[-1], 5000)  # the 300-line one: the Kbytes trailer is not trivial

        # mailq: the same messages, sizes and recipients, and the trailer's counts.
        code, mailq, err = run(srv, "mailq")
        self.assertEqual(code, 0, err)
        self.assertTrue(mailq.startswith("-Queue ID-        --Size-- ----Arrival Time---- "
                                         "-Sender/Recipient-------\n"), mailq)
        listed, trailer = parse_mailq(mailq)
        self.assertEqual({q[0]: (q[1], q[2], q[3], sorted(q[4])) for q in listed},
                         {m["id"]: (False, m["size"], ALICE,
                                    sorted(r["address"].strip("<>") for r in m["recipients"]))
                          for m in messages}, mailq)
        self.assertEqual(trailer, (math.ceil(sum(sizes) / 1024), 4), mailq)

        # hold ID through the running server: --json, the plain list, show and mailq agree.
        first = messages[0]["id"]
        self.assert_cli(("queue", "hold", first), "held %s (by the running server)" % first)
        self.assertEqual(self.held_flags(), {m["id"]: m["id"] == first for m in messages})
        self.assertRegex(srv.queue_list(), r"(?m)^%s .* HELD$" % first)
        self.assertIn("held:      yes", run(srv, "queue", "show", first)[1])
        self.assertIn(first + "! ", run(srv, "mailq")[1])

        # hold --all: the three others change; release --all: all four.
        self.assert_cli(("queue", "hold", "--all"), "held 3 of 4 queued message(s) (by the running server)")
        self.assertEqual(set(self.held_flags().values()), {True})
        self.assertEqual(sum(q[1] for q in parse_mailq(run(srv, "mailq")[1])[0]), 4)
        self.assert_cli(("queue", "hold", "--all"), "held 0 of 4 queued message(s)")
        self.assert_cli(("queue", "release", "--all"), "released 4 of 4 queued message(s) (by the running server)")
        self.assertEqual(set(self.held_flags().values()), {False})
        self.assertNotIn("HELD", srv.queue_list())

        # delete ID: the count drops in --json and in mailq's trailer.
        gone = messages[1]["id"]
        self.assert_cli(("queue", "delete", gone), "deleted %s (by the running server)" % gone)
        left = queue_json(srv)
        self.assertEqual(len(left), 3)
        self.assertNotIn(gone, {m["id"] for m in left})
        _, trailer = parse_mailq(run(srv, "mailq")[1])
        self.assertEqual(trailer, (math.ceil(sum(m["size"] for m in left) / 1024), 3))
        code, _, err = run(srv, "queue", "show", gone)
        self.assertEqual(code, 1)
        self.assertIn("no message %s in the queue" % gone, err)
        code, _, err = run(srv, "queue", "hold", gone)
        self.assertEqual(code, 1)
        self.assertIn("refused: no message %s" % gone, err)

        # Usage errors: exit 64 and what is wrong, nothing changed.
        for args, says in ((("queue", "hold"), "ID or --all is required"),
                           (("queue", "release"), "ID or --all is required"),
                           (("queue", "hold", "--all", first), "excludes --all"),
                           (("queue", "release", "--everything"), "--everything")):
            code, out, err = run(srv, *args)
            self.assertEqual(code, EX_USAGE, (args, out, err))
            self.assertIn(says, err, args)
        self.assertEqual(set(self.held_flags().values()), {False})

        # The stopped server: hold/release --all change the spool directly, under the lock.
        srv.stop()
        self.assert_cli(("queue", "hold", "--all"), "held 3 of 3 queued message(s)\n")
        self.assertEqual(set(self.held_flags().values()), {True})
        self.assertEqual(sum(q[1] for q in parse_mailq(run(srv, "mailq")[1])[0]), 3)
        self.assert_cli(("queue", "release", "--all"), "released 3 of 3 queued message(s)\n")
        self.assertEqual(set(self.held_flags().values()), {False})
        self.assert_cli(("queue", "hold", "--all"), "held 3 of 3 queued message(s)\n")
        self.assertFalse(os.path.exists(os.path.join(srv.state_dir, "control")) and
                         any(n.endswith(".req") for n in os.listdir(os.path.join(srv.state_dir, "control"))))

        # Started with delivery to smtp-sink: the held messages stay; release --all sends them.
        with peers.SmtpSink() as sink:
            srv.extra_config = outbound_to(sink.port)
            srv.start()
            time.sleep(2)
            self.assertEqual(sink.messages(), [])
            self.assertEqual(len(queue_json(srv)), 3)
            self.assert_cli(("queue", "release", "--all"), "released 3 of 3 queued message(s) (by the running server)")
            self.assertTrue(h.wait_until(lambda: len(queue_json(srv)) == 0, 20), srv.queue_list())
            got = sink.wait_for_messages(3, timeout=10)
            self.assertEqual(len(got), 3)
            subjects = {s for s in sent if any(s.encode() in m.data for m in got)}
            self.assertEqual(len(subjects), 3, subjects)
            self.assertEqual(run(srv, "mailq")[1], "Mail queue is empty\n")

    def test_sendmail_bs_is_refused_clearly(self):
        code, out, err = run(self.srv, "sendmail", "-bs")
        self.assertNotEqual(code, 0)
        self.assertEqual(code, EX_USAGE, err)
        self.assertIn("-bs", err)
        self.assertIn("not supported", err)
        self.assertEqual(queue_json(self.srv), [])  # nothing was queued


if __name__ == "__main__":
    unittest.main()
