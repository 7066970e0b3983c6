#!/usr/bin/env python3
"""WebSocket e2e client (Python `websockets`) for /v1/ws.

usage: ws_client.py BASE_URL ADMIN_KEY READER_KEY(topics 'ws.a') — publishes into ws.a and ws.b.
Checks: subscribe/records in order/unsubscribe, resume from a record's position with no gap and no
duplicate, ping/pong, errors for bad messages, authentication and per-key topic patterns, and that
a client that stops reading is disconnected with 1008 while the server stays healthy.
"""
import asyncio
import json
import sys
import urllib.request

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

base, admin_key, reader_key = sys.argv[1], sys.argv[2], sys.argv[3]
ws_url = base.replace("http://", "ws://") + "/v1/ws"
failures = 0


def check(what, ok, detail=""):
    global failures
    print(("ok   - " if ok else "FAIL - ") + what + ("" if ok else f": {detail}"))
    failures += 0 if ok else 1


def publish(topic, payloads):
    body = json.dumps({"records": [{"payload": p} for p in payloads]}).encode()
    request = urllib.request.Request(f"{base}/v1/topics/{topic}/records", data=body, method="POST",
                                     headers={"Authorization": "Bearer " + admin_key})
    with urllib.request.urlopen(request) as response:
        return [p["offset"] for p in json.load(response)["positions"]]


async def receive(ws, count, timeout=10):
    out = []
    while len(out) < count:
        out.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    return out


async def main():
    auth = {"Authorization": "Bearer " + admin_key}
    publish("ws.a", [f"a{i}" for i in range(20)])
    async with connect(ws_url, additional_headers=auth) as ws:
        await ws.send(json.dumps({"op": "subscribe", "id": "s1", "topics": "ws.*", "from": "earliest"}))
        first = await receive(ws, 21)
        check("subscribe is acknowledged", first[0] == {"op": "subscribed", "id": "s1"}, first[0])
        records = first[1:]
        check("existing records arrive in offset order", [r["offset"] for r in records] == list(range(20)), [r.get("offset") for r in records])
        check("records carry topic, partition, payload and a position",
              all(r["op"] == "record" and r["id"] == "s1" and r["topic"] == "ws.a" and r["partition"] == 0 and r["payload"] == f"a{r['offset']}" and r["position"].startswith("v1.") for r in records), records[0])
        publish("ws.b", ["b0", "b1"])  # a topic created after the subscription
        live = await receive(ws, 2)
        check("a topic created later is picked up", [(r["topic"], r["payload"]) for r in live] == [("ws.b", "b0"), ("ws.b", "b1")], live)
        await ws.send(json.dumps({"op": "ping"}))
        check("ping gets pong", (await receive(ws, 1))[0] == {"op": "pong"})
        for message, fragment in [("not json", "JSON objects"), (json.dumps({"op": "dance"}), "unknown op"),
                                  (json.dumps({"op": "subscribe", "id": "s1", "topics": "ws.*"}), "in use"),
                                  (json.dumps({"op": "subscribe", "id": "s9", "topics": "bad..x"}), "topic"),
                                  (json.dumps({"op": "subscribe", "id": "s8", "topics": "ws.*", "position": "v1.forged"}), "not one this server sent"),
                                  (json.dumps({"op": "unsubscribe", "id": "nope"}), "no subscription")]:
            await ws.send(message)
            reply = (await receive(ws, 1))[0]
            check(f"bad message gets an error ({fragment})", reply.get("op") == "error" and fragment in reply.get("detail", ""), reply)
        await ws.send(json.dumps({"op": "unsubscribe", "id": "s1"}))
        check("unsubscribe is acknowledged", (await receive(ws, 1))[0] == {"op": "unsubscribed", "id": "s1"})
        publish("ws.a", ["after"])
        try:
            extra = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
            check("no records after unsubscribe", False, extra)
        except asyncio.TimeoutError:
            check("no records after unsubscribe", True)
        # Resume from the position of record 9 of ws.a: exactly records 10.. follow, then ws.b's.
        resume_at = records[9]["position"]
        await ws.send(json.dumps({"op": "subscribe", "id": "r", "topics": "ws.*", "position": resume_at}))
        resumed = (await receive(ws, 1 + 11 + 2))[1:]
        got = [(r["topic"], r["offset"]) for r in resumed]
        want = [("ws.a", o) for o in range(10, 21)] + [("ws.b", 0), ("ws.b", 1)]
        check("resuming from a position gives no gap and no duplicate", sorted(got) == sorted(want) and len(set(got)) == len(got), got)

    # hummingbird-websocket answers every refused upgrade with an empty 400 (it does not pass the
    # router's 401 through); what matters is that no socket is opened without a valid key.
    for headers, what in [({}, "without a key"), ({"Authorization": "Bearer sbk_00000000_wrong"}, "with a wrong key")]:
        try:
            async with connect(ws_url, additional_headers=headers) as ws:
                check(f"a connection {what} is refused", False)
        except InvalidStatus as error:
            check(f"a connection {what} is refused at the handshake", error.response.status_code == 400, error.response.status_code)

    async with connect(ws_url, additional_headers={"Authorization": "Bearer " + reader_key}) as ws:
        await ws.send(json.dumps({"op": "subscribe", "id": "mine", "topics": "ws.*", "from": "earliest"}))
        got = await receive(ws, 1 + 21)
        topics = {r["topic"] for r in got[1:]}
        check("a reader key sees only the topics of its patterns", topics == {"ws.a"}, topics)

    # Slow consumer: stop reading while far more than the socket buffers and the send buffer hold arrives.
    payload = "x" * 1000
    async with connect(ws_url, additional_headers=auth, max_queue=1) as ws:
        await ws.send(json.dumps({"op": "subscribe", "id": "flood", "topics": "ws.flood"}))
        await receive(ws, 1)
        for _ in range(30):
            publish("ws.flood", [payload] * 1000)
        await asyncio.sleep(5)  # not reading: the server's buffer fills, then stays full past its limit
        code, received = None, 0
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
                received += 1
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            reason = closed.rcvd.reason if closed.rcvd else ""
        except asyncio.TimeoutError:
            reason = "timeout"
        check("a client that stops reading is closed with 1008 'slow consumer'", code == 1008 and "slow consumer" in reason, (code, reason, received))
        check("...before everything was sent (the buffer is bounded)", received < 30000, received)
    with urllib.request.urlopen(base + "/healthz") as response:
        check("the server is healthy afterwards", response.status == 200)


asyncio.run(main())
print(f"ws: {failures} failed")
sys.exit(1 if failures else 0)
