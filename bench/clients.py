"""Load generators for bench/run.

- smtp_source(): Postfix's smtp-source, timed; it aborts on any non-2xx reply (no -A), so a
  zero exit status means every message was accepted.
- smtp_load(): bench/smtp_load.cpp (built into build/release/bench): the same dialogue as
  smtp-source (no PIPELINING), with a bounded number of messages per connection and the
  latency of every final reply ("." -> 250).
- submit(): an asyncio client for submission: STARTTLS, optionally AUTH PLAIN, then several
  messages per connection, latency per message. Used where TLS is needed (Pigeon's submission
  requires TLS before AUTH), which smtp-source and smtp_load do not speak.
- idle_sessions(): smtp_load in idle mode, holding connections open until told to stop.
- fsync_rate(): this disk's create+write+fsync and fsync-one-file rates.
"""

import asyncio
import base64
import os
import resource
import ssl
import subprocess
import tempfile
import time

SMTP_SOURCE = "/usr/sbin/smtp-source"


class LoadError(RuntimeError):
    pass


def smtp_source(port, sessions, count, size, mail_from, rcpt, timeout=900):
    """Runs smtp-source; returns {"messages", "seconds"}."""
    args = [SMTP_SOURCE, "-4", "-s", str(sessions), "-m", str(count), "-l", str(size),
            "-M", "client.test", "-f", mail_from, "-t", rcpt, "127.0.0.1:%d" % port]
    t0 = time.monotonic()
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    seconds = time.monotonic() - t0
    if r.returncode != 0:
        raise LoadError("smtp-source failed (%d): %s\n%s" % (
            r.returncode, " ".join(args), r.stdout.decode(errors="replace")[-2000:]))
    return {"messages": count, "seconds": seconds}


def _parse_kv(line):
    parts = line.split()
    return {parts[i]: parts[i + 1] for i in range(0, len(parts) - 1, 2)}


def smtp_load(binary, port, sessions, per_conn, count, size, mail_from, rcpt, timeout=900):
    """Runs smtp_load; returns {"messages", "seconds", "p50_ms", "p99_ms"}."""
    args = [binary, "load", "--port", str(port), "--sessions", str(sessions),
            "--per-conn", str(per_conn), "--count", str(count), "--size", str(size),
            "--from", mail_from, "--to", rcpt, "--timeout", str(timeout)]
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout + 30)
    out = r.stdout.decode(errors="replace").strip()
    kv = _parse_kv(out) if out.startswith("ok ") else {}
    if r.returncode != 0 or not kv:
        raise LoadError("smtp_load failed (%d): %s\n%s %s" % (
            r.returncode, " ".join(args), out, r.stderr.decode(errors="replace")[-2000:]))
    return {"messages": int(kv["ok"]), "seconds": float(kv["seconds"]),
            "p50_ms": float(kv["p50_ms"]), "p99_ms": float(kv["p99_ms"])}


class IdleSessions:
    """smtp_load idle: `count` connections past EHLO, held until close()."""

    def __init__(self, binary, port, count, timeout=300):
        self.proc = subprocess.Popen([binary, "idle", "--port", str(port), "--sessions",
                                      str(count), "--timeout", str(timeout)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.count = count

    def wait_ready(self, timeout=300):
        """Blocks until every connection is open (or failed); returns the number open."""
        import select
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise LoadError("idle sessions: no answer within %d s" % timeout)
        line = self.proc.stdout.readline().decode(errors="replace").split()
        if len(line) < 4 or line[0] != "ready":
            raise LoadError("idle sessions: %r %s" % (line, self.proc.stderr.read().decode(errors="replace")))
        opened, failed = int(line[1]), int(line[3])
        if failed:
            raise LoadError("idle sessions: %d of %d connections failed" % (failed, self.count))
        return opened

    def close(self):
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


# ---------------------------------------------------------------------- submission (asyncio)

def _tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def _reply(reader, timeout):
    lines = []
    while True:
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line:
            raise LoadError("connection closed")
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]), b"".join(lines)


async def _cmd(reader, writer, line, code, timeout):
    writer.write(line + b"\r\n")
    got, text = await _reply(reader, timeout)
    if got != code:
        raise LoadError("%r: expected %d, got %r" % (line, code, text))


def make_message(mail_from, rcpt, size, n):
    head = ("From: <%s>\r\nTo: <%s>\r\nSubject: benchmark %d\r\n"
            "Date: Sat, 22 Nov 2025 07:00:00 +0000\r\nMessage-ID: <bench.%d.%d@bench.test>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"
            % (mail_from, rcpt, n, os.getpid(), n)).encode()
    line = b"x" * 76 + b"\r\n"
    body = line * max(1, size // len(line))
    return head + body + b".\r\n"


async def _session(port, state, starttls, auth, mail_from, rcpt, size, per_conn, timeout):
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        code, text = await _reply(reader, timeout)
        if code != 220:
            raise LoadError("greeting %r" % text)
        await _cmd(reader, writer, b"EHLO client.test", 250, timeout)
        if starttls:
            await _cmd(reader, writer, b"STARTTLS", 220, timeout)
            await writer.start_tls(_tls_context())
            await _cmd(reader, writer, b"EHLO client.test", 250, timeout)
        if auth:
            token = base64.b64encode(("\0%s\0%s" % auth).encode())
            await _cmd(reader, writer, b"AUTH PLAIN " + token, 235, timeout)
        sent_here = 0
        while state["started"] < state["count"] and sent_here < per_conn:
            state["started"] += 1
            sent_here += 1
            n = state["started"]
            await _cmd(reader, writer, b"MAIL FROM:<%s>" % mail_from.encode(), 250, timeout)
            await _cmd(reader, writer, b"RCPT TO:<%s>" % rcpt.encode(), 250, timeout)
            await _cmd(reader, writer, b"DATA", 354, timeout)
            writer.write(make_message(mail_from, rcpt, size, n))
            t0 = time.perf_counter()
            code, text = await _reply(reader, timeout)
            if code != 250:
                raise LoadError("end of data: %r" % text)
            state["latencies"].append((time.perf_counter() - t0) * 1000.0)
        writer.write(b"QUIT\r\n")
        try:
            await asyncio.wait_for(_reply(reader, timeout), timeout)
        except (LoadError, asyncio.TimeoutError, OSError, ssl.SSLError):
            pass
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 5)
        except (asyncio.TimeoutError, OSError, ssl.SSLError):
            pass


async def _submit(port, sessions, per_conn, count, size, mail_from, rcpt, starttls, auth,
                  timeout):
    state = {"started": 0, "count": count, "latencies": []}

    async def worker():
        while state["started"] < count:
            await _session(port, state, starttls, auth, mail_from, rcpt, size, per_conn, timeout)

    await asyncio.gather(*(worker() for _ in range(sessions)))
    return state["latencies"]


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]


def submit(port, sessions, per_conn, count, size, mail_from, rcpt, starttls=True, auth=None,
           timeout=60):
    """Runs the asyncio submission client; returns {"messages", "seconds", "p50_ms",
    "p99_ms", "client_cpu"} (client_cpu: this process's CPU seconds during the run)."""
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    lat = asyncio.run(_submit(port, sessions, per_conn, count, size, mail_from, rcpt,
                              starttls, auth, timeout))
    seconds = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    if len(lat) != count:
        raise LoadError("submission: %d of %d messages accepted" % (len(lat), count))
    return {"messages": count, "seconds": seconds, "p50_ms": percentile(lat, 0.5),
            "p99_ms": percentile(lat, 0.99),
            "client_cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)}


# ---------------------------------------------------------------------- the disk

def fsync_rate(directory, seconds=2.0):
    """(new files created+written(1 KB)+fsync'd per second, fsyncs of one rewritten file per
    second) in a temporary directory under `directory`."""
    payload = b"x" * 1024
    with tempfile.TemporaryDirectory(prefix="fsync-", dir=directory) as d:
        n = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            fd = os.open(os.path.join(d, "f%d" % n), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, payload)
            os.fsync(fd)
            os.close(fd)
            n += 1
        new_files = n / (time.monotonic() - t0)
        fd = os.open(os.path.join(d, "one"), os.O_WRONLY | os.O_CREAT, 0o600)
        n = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            os.pwrite(fd, payload, 0)
            os.fsync(fd)
            n += 1
        one_file = n / (time.monotonic() - t0)
        os.close(fd)
    return new_files, one_file
