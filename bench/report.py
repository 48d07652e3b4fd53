"""Formatting for bench/run: the markdown table, the CSV beside it and the gnuplot chart."""

import csv
import os
import shutil
import statistics
import subprocess

METRICS = ("msgs_per_s", "cpu_per_1k", "rss_mb", "p50_ms", "p99_ms")


def median_metrics(runs):
    """Per metric, the median over the rounds of the numeric values; a string (a reason
    such as "n/a ...") when no round produced a number."""
    out = {}
    for m in METRICS:
        values = [r[m] for r in runs if isinstance(r.get(m), (int, float))]
        if values:
            out[m] = statistics.median(values)
        else:
            texts = [r[m] for r in runs if isinstance(r.get(m), str)]
            out[m] = texts[0] if texts else None
    rates = [r["msgs_per_s"] for r in runs if isinstance(r.get("msgs_per_s"), (int, float))]
    if len(rates) > 1:
        out["msgs_per_s_range"] = (min(rates), max(rates))
    out["msgs_per_s_rounds"] = rates
    cpu = [r["client_cpu"] for r in runs if isinstance(r.get("client_cpu"), (int, float))]
    if cpu:
        out["client_cpu"] = statistics.median(cpu)
    out["rounds"] = len(runs)
    return out


def fmt(value, digits=0):
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if digits == 0:
        return "{:,.0f}".format(value)
    return "{:,.{d}f}".format(value, d=digits)


def ratio(a, b, digits=2):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b:
        return "{:.{d}f}x".format(a / b, d=digits)
    return "n/a"


def rate(m):
    """msg/s as "median (min-max)" when there were several rounds."""
    text = fmt(m.get("msgs_per_s"))
    r = m.get("msgs_per_s_range")
    if r:
        text += " (%s-%s)" % (fmt(r[0]), fmt(r[1]))
    return text


def latency(m):
    p50, p99 = m.get("p50_ms"), m.get("p99_ms")
    if isinstance(p50, (int, float)) and isinstance(p99, (int, float)):
        return "%s / %s" % (fmt(p50, 1), fmt(p99, 1))
    return fmt(p50 if isinstance(p50, str) else p99)


def main_table(rows):
    head = ("| Workload | msg/s Pigeon (range) | msg/s Postfix (range) | ratio | CPU s/1k msg Pigeon | "
            "CPU s/1k msg Postfix | ratio | peak RSS MB Pigeon | peak RSS MB Postfix | ratio | "
            "p50 / p99 ms Pigeon | p50 / p99 ms Postfix |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    lines = []
    for row in rows:
        p, x = row["pigeon"], row["postfix"]
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row["title"],
            rate(p), rate(x),
            ratio(p.get("msgs_per_s"), x.get("msgs_per_s")),
            fmt(p.get("cpu_per_1k"), 2), fmt(x.get("cpu_per_1k"), 2),
            ratio(p.get("cpu_per_1k"), x.get("cpu_per_1k")),
            fmt(p.get("rss_mb"), 1), fmt(x.get("rss_mb"), 1),
            ratio(p.get("rss_mb"), x.get("rss_mb")),
            latency(p), latency(x)))
    return head + "\n".join(lines) + "\n"


def write_csv(path, rows, extra_rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["workload", "server", "msgs_per_s", "cpu_s_per_1000", "peak_rss_mb",
                    "p50_ms", "p99_ms", "rounds", "msgs_per_s_each_round"])
        for row in rows:
            for server in ("pigeon", "postfix"):
                m = row[server]
                w.writerow([row["key"], server] + [
                    ("%.4f" % m[k]) if isinstance(m.get(k), (int, float)) else (m.get(k) or "")
                    for k in METRICS] + [m.get("rounds", ""),
                                         ";".join("%.1f" % v for v in m.get("msgs_per_s_rounds", []))])
        for key, server, metric, value in extra_rows:
            w.writerow([key, server, metric, value])


def chart(path_png, rows, title):
    """Clustered bars of msg/s per workload for both servers, with gnuplot (pngcairo, else
    png). Returns None on success, else why not."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return "gnuplot not installed"
    data = path_png[:-4] + ".dat"
    with open(data, "w") as f:
        f.write("# workload pigeon postfix (msg/s)\n")
        for row in rows:
            p, x = row["pigeon"].get("msgs_per_s"), row["postfix"].get("msgs_per_s")
            if not isinstance(p, (int, float)) and not isinstance(x, (int, float)):
                continue
            label = row.get("short", row["key"]).replace('"', "'")
            f.write('"%s" %s %s\n' % (label,
                                      "%.2f" % p if isinstance(p, (int, float)) else "NaN",
                                      "%.2f" % x if isinstance(x, (int, float)) else "NaN"))
    script = """
set terminal {term} size 1100,560 font ",10"
set output "{png}"
set title "{title}"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set ylabel "messages per second"
set xtics rotate by -25 scale 0
set grid ytics
set key top right
set yrange [0:*]
set datafile missing "NaN"
plot "{dat}" using 2:xtic(1) title "Pigeon" lc rgb "#2a6fbb", "" using 3 title "Postfix" lc rgb "#c0504d"
"""
    last = None
    for term in ("pngcairo", "png"):
        r = subprocess.run([gnuplot], input=script.format(term=term, png=path_png, title=title,
                                                           dat=data).encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if r.returncode == 0 and os.path.exists(path_png) and os.path.getsize(path_png) > 0:
            return None
        last = r.stdout.decode(errors="replace")
    return "gnuplot failed: %s" % last
