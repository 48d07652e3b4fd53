#!/usr/bin/python3
"""Crash consistency: SIGKILL the server at many points while clients send mail.

For N iterations (same state directory, same ports) the server is started, two clients send
messages as fast as they can, each with a unique token, and the server is killed with SIGKILL
after a random short delay. Each message is recorded as
    acked     -- the server answered 250 to the end of data
    refused   -- the server answered something else to the end of data
    unacked   -- the end-of-data mark was (or may have been) sent, no reply came
    not_sent  -- the connection died before the end-of-data mark was sent
Every 7th message is larger than the spill threshold, so it is received into an unnamed file in
<state>/incoming; no crash may leave a file there.
At the end the server runs once more until local delivery is done, and the Maildirs must show:
every acked message exactly once; no not_sent or refused message; unacked messages at most
once (RFC 5321 6.1 allows them either way; their count is printed); no message twice at all.

usage: test_crash.py PIGEON_BINARY [ITERATIONS] [SEED]    (or PIGEON_BIN=...)
"""
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
ARGS = [a for a in sys.argv[1:] if os.path.abspath(a) != BIN]
ITERATIONS = int(ARGS[0]) if len(ARGS) > 0 else int(os.environ.get("PIGEON_CRASH_ITERATIONS", 20))
SEED = int(ARGS[1]) if len(ARGS) > 1 else int(os.environ.get("PIGEON_CRASH_SEED", time.time()))
CLIENTS = 8
TIME_BUDGET = 60  # seconds for all iterations together; stop early rather than overrun
SPILL_OCTETS = 65536  # every 7th message is larger: it is received into a spill file
LARGE_LINES = 2000    # 200 KB
TOKEN_RE = re.compile(rb"X-Token: (crash-\d+-\d+-\d+)")

records = {}  # token -> [user, state]
records_lock = threading.Lock()


def record(tok, user, state):
    with records_lock:
        records[tok] = [user, state]


def client(port, iteration, index, stop):
    """Sends messages until the server dies (or stop is set)."""
    seq = 0
    try:
        c = h.SmtpClient(port, timeout=5)
        c.expect(220)
        c.cmd("EHLO crash-client-%d.test" % index, 250)
    except (OSError, EOFError, h.SmtpError):
        return
    try:
        while not stop.is_set() and seq < 100000:
            seq += 1
            tok = "crash-%d-%d-%d" % (iteration, index, seq)
            user = "alice" if seq % 2 else "bob"
            record(tok, user, "not_sent")
            c.send("MAIL FROM:<client%d@ext.example>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                   % (index, h.address(user)))
            codes = [c.reply().code for _ in range(3)]
            if codes != [250, 250, 354]:
                record(tok, user, "refused")
                c.cmd("RSET")
                continue
            body = ("From: <client%d@ext.example>\r\nTo: <%s>\r\nSubject: %s\r\n"
                    "Message-ID: <%s@crash.test>\r\nX-Token: %s\r\n\r\n" % (index, h.address(user),
                                                                           tok, tok, tok))
            if seq % 7 == 0:
                # Past the spill threshold: received into a file in <state>/incoming.
                body += "".join("%-98s\r\n" % ("spilled line %d of %s" % (i, tok))
                                for i in range(LARGE_LINES))
            else:
                body += "".join("line %d of %s\r\n" % (i, tok) for i in range(seq % 40))
            body += "END-%s\r\n" % tok
            c.send(body)
            record(tok, user, "unacked")  # from here on the mark may reach the server
            c.send(".\r\n")
            r = c.reply()
            record(tok, user, "acked" if r.code == 250 else "refused")
    except (OSError, EOFError, h.SmtpError):
        pass
    finally:
        c.close()


def delivered(srv):
    """token -> [(user, filename, bytes)] over both Maildirs (new/ and cur/)."""
    out = {}
    for user in ("alice", "bob"):
        for name, raw in srv.messages(user):
            m = TOKEN_RE.search(raw)
            key = m.group(1).decode() if m else "<no token: %s>" % name
            out.setdefault(key, []).append((user, name, raw))
    return out


def main():
    rng = random.Random(SEED)
    print("crash test: %d iterations, seed %d" % (ITERATIONS, SEED))
    state_dir = tempfile.mkdtemp(prefix="pigeon-crash-")
    ports = {"inbound": h.free_port(), "submission": h.free_port(), "submissions": h.free_port()}
    srv = h.PigeonServer(BIN, state_dir=state_dir, ports=ports,
                         limits={"shutdown_grace_seconds": 2,
                                 "message_spill_octets": SPILL_OCTETS})
    started = time.monotonic()
    ok = False
    try:
        done_iterations = 0
        for it in range(ITERATIONS):
            if time.monotonic() - started > TIME_BUDGET:
                print("time budget used up after %d iterations" % it)
                break
            srv.start(ready_timeout=30)
            stop = threading.Event()
            threads = [threading.Thread(target=client, args=(ports["inbound"], it, i, stop),
                                        daemon=True) for i in range(CLIENTS)]
            for t in threads:
                t.start()
            # Mostly short delays (mid-transaction, mid-commit, mid-delivery), some longer.
            delay = rng.choice([rng.uniform(0.0, 0.15), rng.uniform(0.05, 0.6), rng.uniform(0.3, 1.2)])
            time.sleep(delay)
            srv.kill()
            stop.set()
            for t in threads:
                t.join(timeout=15)
                if t.is_alive():
                    raise RuntimeError("a client thread did not finish")
            with records_lock:
                n = sum(1 for k in records if k.startswith("crash-%d-" % it))
                a = sum(1 for k, v in records.items() if k.startswith("crash-%d-" % it) and v[1] == "acked")
            print("iteration %2d: killed after %.3f s; %d messages tried, %d acked"
                  % (it, delay, n, a))
            done_iterations += 1

        # Final run: let recovery and local delivery finish.
        srv.start(ready_timeout=30)
        last = [None]
        stable_since = [time.monotonic()]

        def settled():
            listing = srv.queue_list()
            counts = (sum(len(v) for v in delivered(srv).values()), listing)
            if counts != last[0]:
                last[0] = counts
                stable_since[0] = time.monotonic()
                return False
            return "queue is empty" in listing and time.monotonic() - stable_since[0] > 1.0
        if not h.wait_until(settled, 30, interval=0.3):
            print("queue did not drain:\n" + srv.queue_list())
        status = srv.stop()
        print("final server exit status: %r" % (status,))

        got = delivered(srv)
        failures = []
        by_state = {}
        for tok, (user, state) in sorted(records.items()):
            copies = got.get(tok, [])
            by_state.setdefault(state, [0, 0])
            by_state[state][0] += 1
            by_state[state][1] += 1 if copies else 0
            wrong = [c for c in copies if c[0] != user]
            if wrong:
                failures.append("%s (%s) delivered to the wrong user %s" % (tok, state, wrong[0][0]))
            for c in copies:
                if ("END-%s" % tok).encode() not in c[2]:
                    failures.append("%s delivered truncated: %s" % (tok, c[1]))
            if len(copies) > 1:
                failures.append("DUPLICATE: %s (%s) delivered %d times: %s"
                                % (tok, state, len(copies), ", ".join(c[1] for c in copies)))
            if state == "acked" and not copies:
                failures.append("LOST: %s got 250 but is not in %s's Maildir" % (tok, user))
            if state in ("not_sent", "refused") and copies:
                failures.append("%s (%s: end of data %s) was delivered"
                                % (tok, state, "never sent" if state == "not_sent" else "refused"))
        for tok in got:
            if tok not in records:
                failures.append("unknown message in a Maildir: %s" % tok)
        for state, (n, d) in sorted(by_state.items()):
            print("%-9s %5d messages, %5d delivered" % (state, n, d))
        unacked_delivered = by_state.get("unacked", [0, 0])[1]
        print("sent but unacknowledged, delivered anyway (allowed, RFC 5321 6.1): %d"
              % unacked_delivered)
        leftovers = sum(len(os.listdir(os.path.join(srv.maildir(u), "tmp")))
                        for u in ("alice", "bob") if os.path.isdir(os.path.join(srv.maildir(u), "tmp")))
        print("files left in Maildir tmp/ by crashes: %d" % leftovers)
        spill_dir = os.path.join(state_dir, "incoming")
        spilled = os.listdir(spill_dir) if os.path.isdir(spill_dir) else None
        if spilled is None:
            failures.append("no spill directory %s: large messages were not spilled" % spill_dir)
        elif spilled:
            failures.append("crashes left spill files behind: %s" % spilled[:5])
        large = [t for t, (u, st) in records.items() if st == "acked" and int(t.rsplit("-", 1)[1]) % 7 == 0]
        print("large (spilled) messages acknowledged: %d" % len(large))
        if not large:
            failures.append("no large message was ever acknowledged: spilling was not tested")
        if by_state.get("acked", [0])[0] == 0:
            failures.append("no message was ever acknowledged: the test proved nothing")
        if done_iterations < min(ITERATIONS, 5):
            failures.append("only %d iterations ran" % done_iterations)
        log = srv.all_logs()
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            if bad in log:
                failures.append("sanitizer report in the server log (%s)" % bad)
        if failures:
            print("\nFAILED (seed %d; state kept in %s):" % (SEED, state_dir))
            for f in failures[:50]:
                print("  " + f)
            if len(failures) > 50:
                print("  ... and %d more" % (len(failures) - 50))
            return 1
        ok = True
        print("OK (%.1f s)" % (time.monotonic() - started))
        return 0
    finally:
        srv.kill()
        if ok and os.environ.get("PIGEON_KEEP_STATE") is None:
            shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
