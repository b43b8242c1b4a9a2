#!/usr/bin/env python3
"""Reads `perf script -F time,event,ip,sym` of one command (sched_switch,
sched_process_exec and sched_process_exit with kernel call chains) and prints
"NAME exec_to_exit_ms asleep_ms": the time from exec to exit, and the time the
process slept in a switch whose stack holds nft_rcv_nl_event (the netlink
release waiting for nf_tables' destroy work).  A switch lasts until the
process's next recorded event: every event recorded here is the process's own,
so the next one comes after it runs again."""
import re
import sys

name = sys.argv[1]
events = []  # [time, event, stack]
for line in sys.stdin:
    if line[:1] in ("\t", " ") and not re.match(r"\s*\d+\.\d+:", line):
        if events:
            events[-1][2].append(line.split()[-1])
        continue
    m = re.match(r"\s*([\d.]+):\s+(\S+):", line)
    if m:
        events.append([float(m.group(1)), m.group(2), []])

start = next((e[0] for e in events if e[1] == "sched:sched_process_exec"), None)
end = next((e[0] for e in reversed(events) if e[1] == "sched:sched_process_exit"), None)
if start is None or end is None:
    sys.exit("exit-wait.py: no exec or exit event for %s" % name)
asleep = 0.0
for i, e in enumerate(events[:-1]):
    if e[1] == "sched:sched_switch" and "nft_rcv_nl_event" in e[2]:
        asleep += events[i + 1][0] - e[0]
print("%s %.1f %.1f" % (name, (end - start) * 1000, asleep * 1000))
