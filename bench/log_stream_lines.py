"""The numbered lines of the log_stream benchmark: the program the lab service runs to print them,
and the patterns its readers find them with."""

from __future__ import annotations

import re

# Each line says its number and the time it was printed: "seq=N t=<unix time>".
PRINTER = r"""
import os, sys, time
k, rate, start = int(os.environ["K"]), float(os.environ["RATE"]), float(os.environ["START_AT"])
time.sleep(max(0.0, start - time.time()))
t0 = time.time()
write, flush = sys.stdout.write, sys.stdout.flush
for n in range(1, k + 1):
    if rate > 0:
        wait = t0 + (n - 1) / rate - time.time()
        if wait > 0:
            time.sleep(wait)
    write(f"seq={n} t={time.time():.6f}\n")
    flush()  # one line, one log message, as a program printing line by line
"""
LINE = re.compile(rb"seq=(\d+) t=(\d+\.\d+)")
SAMPLE = re.compile(rb"seq=(\d*0) t=(\d+\.\d+)")  # every tenth line is timed
