#!/usr/bin/python3
"""Parses DSNs made by queue/dsn.hpp (through pigeon-dsn-sample) with Python's email package
and checks them against RFC 6522 (multipart/report) and RFC 3464 (message/delivery-status).

Usage: check_dsn.py PATH/TO/pigeon-dsn-sample
Prints one line per check and "N passed, N failed"; exits 1 if any check failed.
"""
import email
import email.policy
import subprocess
import sys

sample = sys.argv[1]
passed = failed = 0


def check(condition, what):
    global passed, failed
    if condition:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def run(variant):
    p = subprocess.run([sample, variant], capture_output=True, check=True)
    return p.stdout, p.stderr.decode("utf-8", "replace")


def lines_ok(raw, variant):
    lines = raw.split(b"\r\n")
    check(lines[-1] == b"", f"{variant}: ends with CRLF")
    check(all(b"\n" not in l and b"\r" not in l for l in lines), f"{variant}: only CRLF line ends")
    check(max(len(l) for l in lines) <= 998, f"{variant}: every line <= 998 octets")


def parts_of(raw, variant):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    check(msg.get_content_type() == "multipart/report", f"{variant}: multipart/report")
    check(msg.get_param("report-type") == "delivery-status", f"{variant}: report-type")
    boundary = msg.get_boundary()
    check(boundary is not None, f"{variant}: has a boundary")
    # The boundary occurs only in the Content-Type parameter and the delimiter lines.
    delimiters = raw.count(b"\r\n--" + boundary.encode())
    check(raw.count(boundary.encode()) == delimiters + 1, f"{variant}: boundary only where it belongs")
    parts = msg.get_payload()
    check(isinstance(parts, list) and len(parts) == 3, f"{variant}: three parts")
    check(not msg.defects, f"{variant}: no parser defects {msg.defects}")
    return msg, parts


def delivery_status(part):
    """The per-message block and the per-recipient blocks (email parses each as a Message)."""
    blocks = part.get_payload()
    return blocks[0], blocks[1:]


def common(raw, variant, recipients):
    lines_ok(raw, variant)
    msg, parts = parts_of(raw, variant)
    check(msg["From"] == "Mail Delivery System <MAILER-DAEMON@mx.pigeon.example>", f"{variant}: From")
    check(msg["Auto-Submitted"] == "auto-replied", f"{variant}: Auto-Submitted")
    check(msg["MIME-Version"] == "1.0", f"{variant}: MIME-Version")
    check(msg["Date"].endswith("+0000"), f"{variant}: Date in UTC")
    check(email.utils.parsedate_to_datetime(msg["Date"]).timestamp() == 1790003600, f"{variant}: Date value")
    check(msg["Message-ID"].startswith("<0123456789ABCDEF.dsn."), f"{variant}: Message-ID")
    human, status, headers = parts
    check(human.get_content_type() == "text/plain", f"{variant}: part 1 text/plain")
    check(human.get_content_charset() == "us-ascii", f"{variant}: part 1 us-ascii")
    human_bytes = human.get_payload(decode=True)
    check(all(b < 0x80 for b in human_bytes), f"{variant}: part 1 is 7-bit")
    check(status.get_content_type() == "message/delivery-status", f"{variant}: part 2 type")
    per_message, per_recipient = delivery_status(status)
    check(per_message["Reporting-MTA"] == "dns; mx.pigeon.example", f"{variant}: Reporting-MTA")
    check(per_message["X-Pigeon-Queue-ID"] == "0123456789ABCDEF", f"{variant}: queue id")
    check(email.utils.parsedate_to_datetime(per_message["Arrival-Date"]).timestamp() == 1790000000,
          f"{variant}: Arrival-Date")
    check(len(per_recipient) == len(recipients), f"{variant}: {len(recipients)} recipient block(s)")
    for block, (final, action, status_code) in zip(per_recipient, recipients):
        check(block["Final-Recipient"] == final, f"{variant}: Final-Recipient {block['Final-Recipient']}")
        check(block["Action"] == action, f"{variant}: Action {block['Action']}")
        check(block["Status"] == status_code, f"{variant}: Status {block['Status']}")
        check(block["Last-Attempt-Date"] is not None, f"{variant}: Last-Attempt-Date")
        if action == "delayed":
            check(email.utils.parsedate_to_datetime(block["Will-Retry-Until"]).timestamp()
                  == 1790000000 + 5 * 86400, f"{variant}: Will-Retry-Until")
        else:
            check(block["Will-Retry-Until"] is None, f"{variant}: no Will-Retry-Until when failed")
    check(headers.get_content_type() == "text/rfc822-headers", f"{variant}: part 3 type")
    return msg, human_bytes.decode("ascii"), per_recipient, headers


raw, env = run("failed")
msg, human, blocks, headers = common(raw, "failed", [("rfc822; bob@example.net", "failed", "5.1.1")])
check(env.strip() == "MAIL FROM:<> BODY=7BIT SMTPUTF8=no RCPT TO:<alice@example.org>", "failed: envelope")
check(msg["To"] == "<alice@example.org>", "failed: To is the original sender")
check(msg["Subject"] == "Undelivered Mail Returned to Sender", "failed: Subject")
check(blocks[0]["Remote-MTA"] == "dns; mx.example.net", "failed: Remote-MTA")
diag = " ".join(blocks[0]["Diagnostic-Code"].split())
check(diag == "smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown",
      f"failed: Diagnostic-Code unfolds to the peer's reply ({diag})")
check("bob@example.net" in human and "5.1.1" in human, "failed: human part names recipient and status")
original = email.message_from_bytes(headers.get_payload(decode=True))
check(original["Subject"] == "Quarterly numbers", "failed: original Subject in the headers part")
check(original["Message-ID"] == "<original.1@example.org>", "failed: original Message-ID")
check(b"The body is never quoted" not in raw, "failed: the original body is left out")

raw, env = run("delayed")
msg, human, blocks, headers = common(raw, "delayed", [("rfc822; carol@example.com", "delayed", "4.4.1")])
check(msg["Subject"] == "Delayed Mail (still being retried)", "delayed: Subject")
check(blocks[0]["Diagnostic-Code"] is None, "delayed: no Diagnostic-Code for our own reason")
check(blocks[0]["X-Pigeon-Reason"] == "connection to mx.example.com timed out", "delayed: X-Pigeon-Reason")
check(blocks[0]["Remote-MTA"] is None, "delayed: no Remote-MTA when none was reached")

raw, env = run("mixed")
msg, human, blocks, headers = common(raw, "mixed", [("rfc822; bob@example.net", "failed", "5.1.1"),
                                                     ("rfc822; carol@example.com", "delayed", "4.4.1")])
check(msg["Subject"] == "Undelivered Mail Returned to Sender", "mixed: Subject says failed")

raw, env = run("utf8")
msg, human, blocks, headers = common(raw, "utf8", [(r"utf-8; \x{65E5}\x{672C}\x{2B}x@example.net", "failed", "5.1.1")])
check("BODY=8BITMIME SMTPUTF8=yes" in env, f"utf8: 8BITMIME and SMTPUTF8 in the envelope ({env.strip()})")
check(msg["Content-Transfer-Encoding"] == "8bit", "utf8: top level 8bit")
check(headers["Content-Transfer-Encoding"] == "8bit", "utf8: headers part 8bit")
check("J\u00f6rg".encode() in headers.get_payload(decode=True), "utf8: original header octets kept")
status_bytes = raw.split(b"message/delivery-status")[1].split(b"text/rfc822-headers")[0]
check(all(b < 0x80 for b in status_bytes), "utf8: delivery-status part is 7-bit")

raw, env = run("long")
msg, human, blocks, headers = common(raw, "long", [("rfc822; bob@example.net", "failed", "5.1.1"),
                                                   ("rfc822; carol@example.com", "delayed", "4.4.1")])
check("word59" in blocks[0]["Diagnostic-Code"], "long: folded Diagnostic-Code keeps every word")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
