#!/usr/bin/env python3
"""SSE client for the e2e tests: reads /v1/events, disconnects part-way, resumes with Last-Event-ID,
and checks that every published record arrived exactly once, in order per topic-partition.

usage: sse_resume.py BASE_URL   (publishes into sse.a, sse.b and, while disconnected, a new sse.c)
"""
import http.client
import json
import os
import sys
import time
import urllib.parse
import urllib.request

base = sys.argv[1]
url = urllib.parse.urlparse(base)
auth = {"Authorization": "Bearer " + os.environ["STARBLOOM_API_KEY"]} if os.environ.get("STARBLOOM_API_KEY") else {}


def publish(topic, payloads):
    body = json.dumps({"records": [{"payload": p} for p in payloads]}).encode()
    req = urllib.request.Request(f"{base}/v1/topics/{topic}/records", data=body, method="POST", headers=auth)
    with urllib.request.urlopen(req) as response:
        return [p["offset"] for p in json.load(response)["positions"]]


def events(query, last_event_id=None, want=None, idle_seconds=5.0):
    """Reads events until `want` records arrived (or idle). Yields ('record', id, data), ('comment', text) and ('retry', ms)."""
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=idle_seconds)
    headers = {"Accept": "text/event-stream", **auth}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    connection.request("GET", "/v1/events?" + query, headers=headers)
    response = connection.getresponse()
    assert response.status == 200, (response.status, response.read())
    assert response.getheader("Content-Type").startswith("text/event-stream")
    seen = 0
    fields = {}
    try:
        while want is None or seen < want:
            raw = response.fp.readline()
            if not raw:
                break
            line = raw.decode().rstrip("\n")
            if line == "":
                if "data" in fields:
                    seen += 1
                    yield ("record", fields.get("id"), json.loads(fields["data"]))
                elif "retry" in fields:
                    yield ("retry", int(fields["retry"]))
                fields = {}
            elif line.startswith(":"):
                yield ("comment", line[1:].strip())
            else:
                name, _, value = line.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value
    finally:
        connection.close()  # the disconnect


failures = 0


def check(what, ok, detail=""):
    global failures
    print(("ok   - " if ok else "FAIL - ") + what + ("" if ok else f": {detail}"))
    failures += 0 if ok else 1


published = {("sse.a", 0): publish("sse.a", [f"a{i}" for i in range(40)]),
             ("sse.b", 0): publish("sse.b", [f"b{i}" for i in range(40)])}
first = list(events("topics=sse.*&from=earliest", want=50))
check("the stream starts with retry:", first[0] == ("retry", 2000), first[0])
got = [(e[2]["topic"], e[2]["partition"], e[2]["offset"], e[2]["payload"]) for e in first if e[0] == "record"]
last_id = [e[1] for e in first if e[0] == "record"][-1]
check("50 events arrived before the disconnect", len(got) == 50, len(got))

# While disconnected: more records, and a topic that did not exist.
published[("sse.a", 0)] += publish("sse.a", [f"a{i}" for i in range(40, 60)])
published[("sse.b", 0)] += publish("sse.b", [f"b{i}" for i in range(40, 50)])
published[("sse.c", 0)] = publish("sse.c", [f"c{i}" for i in range(15)])
total = sum(len(v) for v in published.values())
second = list(events("topics=sse.*", last_event_id=last_id, want=total - 50))
got += [(e[2]["topic"], e[2]["partition"], e[2]["offset"], e[2]["payload"]) for e in second if e[0] == "record"]

keys = [(t, p, o) for t, p, o, _ in got]
check("no duplicate after resuming with Last-Event-ID", len(keys) == len(set(keys)), len(keys) - len(set(keys)))
expected = {(t, p, o) for (t, p), offsets in published.items() for o in offsets}
check("no gap: every published record arrived", set(keys) == expected, sorted(expected - set(keys))[:5])
for (topic, partition) in published:
    offsets = [o for t, p, o in keys if (t, p) == (topic, partition)]
    check(f"{topic} arrives in offset order", offsets == sorted(offsets))
check("payloads match their topic and offset",
      all(payload == f"{t[-1]}{o}" for t, _, o, payload in got), got[:3])

# Idle stream: heartbeats.
start = time.time()
idle = []
for event in events("topics=sse.*&heartbeat_ms=200", idle_seconds=2):
    idle.append(event)
    if event[0] == "comment" or time.time() - start > 3:
        break
check("an idle stream sends heartbeat comments", any(e[0] == "comment" for e in idle), idle)

# Bad input.
for query, headers, what in [("", {}, "missing topics"), ("topics=bad..pattern", {}, "invalid pattern"),
                             ("topics=sse.*", {"Last-Event-ID": "forged"}, "forged Last-Event-ID"),
                             ("topics=sse.*&from=middle", {}, "bad from")]:
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    connection.request("GET", "/v1/events?" + query, headers={**headers, **auth})
    response = connection.getresponse()
    body = response.read()
    check(f"{what} is 400 problem+json", response.status == 400 and response.getheader("Content-Type") == "application/problem+json",
          (response.status, body[:100]))
    connection.close()

print(f"sse: {failures} failed")
sys.exit(1 if failures else 0)
