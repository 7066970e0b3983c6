#!/usr/bin/env python3
"""A JSON-RPC HTTP server in front of eth-tester (py-evm), for Starbloom's eth-rpc integration tests.

    python3 Tests/eth-tester/server.py [--port N]     (0 or absent: a free port)

Prints "listening <port>" on stdout once it accepts connections. Serves single and batch JSON-RPC
requests on loopback (HTTP/1.1, keep-alive). Integers in results are encoded as hex QUANTITY
strings and log/transaction addresses are lowercased, as real nodes answer. Test-control methods:

    test_deployToken()            deploys a hand-assembled Transfer emitter; returns its address
    test_transfer(to, amount)     calls it: one block with one Transfer(caller, to, amount) log;
                                  returns the transaction hash
    test_transferBatch(to, n)     n transfers (n <= 9, one per sender) mined in one block: n Transfer logs
    test_accounts()               the funded accounts
    evm_snapshot / evm_revert / evm_mine   passed through to eth-tester
    test_faults([kind, ...])      the next requests that do not come from curl (the plugin's) get
                                  these faults, one each, in order: "429" (Retry-After: 1), "500",
                                  "garbage" (malformed JSON), "rpcerror" (a JSON-RPC error),
                                  "close" (connection closed without an answer), "stall:<ms>"
                                  (answer late)
    test_setLag(n)                the lagging view (below) trails the chain by n blocks

With --lagging-port, a second listener serves the same chain as a node that lags: its
eth_blockNumber is n blocks below the head, blocks above that are null and eth_getLogs stops
there (n from test_setLag, 0 at start). It prints "lagging <port>" after "listening <port>".

Batch requests are answered with chunked transfer coding (two chunks), single ones with
Content-Length, so that clients are tested on both.

The EVM is not thread-safe: requests are served one at a time (a lock), as the notes describe.
"""
import argparse
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from web3 import EthereumTesterProvider, Web3

TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

# Runtime (49 bytes), calldata = recipient (32 bytes) ++ amount (32 bytes), no selector:
#   PUSH1 0x20 CALLDATALOAD PUSH1 0x00 MSTORE        memory[0:32] = amount
#   PUSH1 0x00 CALLDATALOAD CALLER PUSH32 <topic0>   stack: topic0, caller, recipient
#   PUSH1 0x20 PUSH1 0x00 LOG3 STOP                  LOG3(offset 0, size 32, topic0, caller, recipient)
RUNTIME = "602035" "600052" "600035" "33" "7f" + TRANSFER_TOPIC + "6020" "6000" "a3" "00"
assert len(RUNTIME) // 2 == 0x31
# Init (11 bytes): PUSH1 len DUP1 PUSH1 11 PUSH1 0 CODECOPY PUSH1 0 RETURN, then the runtime.
INIT = "6031" "80" "600b" "6000" "39" "6000" "f3"
assert len(INIT) // 2 == 0x0b
BYTECODE = "0x" + INIT + RUNTIME


def normalize(value, key=None):
    """Python results (ints, bytes, AttributeDict) → JSON-RPC shapes; addresses lowercased."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: normalize(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize(v, key) for v in value]
    if isinstance(value, str):
        if key in ("address", "from", "to", "miner", "contractAddress") and value.startswith("0x"):
            return value.lower()
        return value
    return str(value)


class Chain:
    def __init__(self):
        self.provider = EthereumTesterProvider()
        self.w3 = Web3(self.provider)
        self.request = self.provider.request_func(self.w3, self.w3.middleware_onion)
        self.lock = threading.Lock()
        self.accounts = [a.lower() for a in self.call("eth_accounts", [])]
        self.token = None
        self.transfers = 0

    def call(self, method, params):
        response = self.request(method, params)
        if "error" in response and response["error"]:
            raise RpcError(response["error"])
        return response.get("result")

    def handle(self, method, params):
        if method == "test_deployToken":
            tx = self.call("eth_sendTransaction", [{"from": self.accounts[0], "data": BYTECODE, "gas": "0x30000"}])
            receipt = self.call("eth_getTransactionReceipt", [tx])
            self.token = receipt["contractAddress"].lower()
            return self.token
        if method == "test_transfer":
            to, amount = params[0], int(params[1], 0) if isinstance(params[1], str) else int(params[1])
            if self.token is None:
                raise RpcError({"code": -32000, "message": "call test_deployToken first"})
            sender = self.accounts[1 + self.transfers % (len(self.accounts) - 1)]
            self.transfers += 1
            data = "0x" + int(to, 16).to_bytes(32, "big").hex() + amount.to_bytes(32, "big").hex()
            return self.call("eth_sendTransaction", [{"from": sender, "to": self.token, "data": data, "gas": "0x20000"}])
        if method == "test_transferBatch":
            # One block holding `count` transfers (count Transfer logs): mined together.
            to, count = params[0], int(params[1])
            if not 1 <= count <= len(self.accounts) - 1:
                raise RpcError({"code": -32602, "message": f"test_transferBatch: 1 to {len(self.accounts) - 1} transfers (one per sender)"})
            tester = self.provider.ethereum_tester
            tester.disable_auto_mine_transactions()
            try:
                hashes = [self.handle("test_transfer", [to, i + 1]) for i in range(count)]
                tester.mine_blocks(1)
            finally:
                tester.enable_auto_mine_transactions()
            return hashes
        if method == "test_accounts":
            return self.accounts
        return self.call(method, params)


class RpcError(Exception):
    def __init__(self, error):
        super().__init__(str(error))
        self.error = error if isinstance(error, dict) else {"code": -32603, "message": str(error)}


LAG = {"blocks": 0}


def lagged(chain, method, params):
    """The answer of a node that trails the chain by LAG["blocks"] (None: answer normally)."""
    head = chain.call("eth_blockNumber", [])
    visible = max(0, (head if isinstance(head, int) else int(head, 16)) - LAG["blocks"])
    if method == "eth_blockNumber":
        return hex(visible)
    if method == "eth_getBlockByNumber":
        tag = params[0]
        number = visible if tag == "latest" else (tag if isinstance(tag, int) else int(tag, 16))
        return None if number > visible else chain.call(method, [hex(number)] + list(params[1:]))
    if method == "eth_getLogs":
        query = dict(params[0])
        start = int(query.get("fromBlock", "0x0"), 16)
        end = min(int(query.get("toBlock", hex(visible)), 16), visible)
        if start > end:
            return []
        query["toBlock"] = hex(end)
        return chain.call(method, [query])
    return chain.call(method, params)


def dispatch(chain, request, lagging=False):
    ident = request.get("id") if isinstance(request, dict) else None
    if not isinstance(request, dict) or not isinstance(request.get("method"), str):
        return {"jsonrpc": "2.0", "id": ident, "error": {"code": -32600, "message": "invalid request"}}
    try:
        with chain.lock:
            method, params = request["method"], request.get("params") or []
            if method == "test_setLag":
                LAG["blocks"] = int(params[0])
                result = True
            elif lagging:
                result = lagged(chain, method, params)
            else:
                result = chain.handle(method, params)
        return {"jsonrpc": "2.0", "id": ident, "result": normalize(result)}
    except RpcError as error:
        return {"jsonrpc": "2.0", "id": ident, "error": normalize(error.error)}
    except Exception as error:  # a bad parameter must not kill the server
        return {"jsonrpc": "2.0", "id": ident, "error": {"code": -32603, "message": f"{type(error).__name__}: {error}"}}


FAULTS = []
FAULTS_LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive with Content-Length
    chain = None
    lagging = False

    def fault(self):
        if "curl" in (self.headers.get("User-Agent") or ""):
            return None
        with FAULTS_LOCK:
            return FAULTS.pop(0) if FAULTS else None

    def plain(self, status, data, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        fault = self.fault()
        if fault == "429":
            return self.plain(429, b'{"error":"rate limited"}', [("Retry-After", "1")])
        if fault == "500":
            return self.plain(500, b"internal error")
        if fault == "garbage":
            return self.plain(200, b'{"jsonrpc":"2.0","id":1,"result":[{"number":')
        if fault == "close":
            self.close_connection = True
            return
        if fault and fault.startswith("stall:"):
            import time
            time.sleep(int(fault.split(":")[1]) / 1000)
        try:
            probe = json.loads(body)
        except ValueError:
            probe = None
        if isinstance(probe, dict) and probe.get("method") == "test_faults":
            with FAULTS_LOCK:
                FAULTS[:] = list(probe.get("params") or [])
            return self.plain(200, json.dumps({"jsonrpc": "2.0", "id": probe.get("id"), "result": True}).encode())
        if fault == "rpcerror":
            ident = probe.get("id") if isinstance(probe, dict) else None
            return self.plain(200, json.dumps({"jsonrpc": "2.0", "id": ident, "error": {"code": -32005, "message": "injected"}}).encode())
        try:
            request = json.loads(body)
        except ValueError:
            request = None
            answer = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
        else:
            if isinstance(request, list):
                answer = [dispatch(self.chain, item, self.lagging) for item in request]
            else:
                answer = dispatch(self.chain, request, self.lagging)
        data = json.dumps(answer, separators=(",", ":")).encode()
        if not isinstance(request, list):
            return self.plain(200, data)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        half = len(data) // 2
        for piece in (data[:half], data[half:]):
            if piece:
                self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--lagging-port", type=int, default=None, help="also serve a lagging view of the chain (0: a free port)")
    parser.add_argument("--exit-with-stdin", action="store_true", help="exit when stdin closes (the test process ended)")
    parser.add_argument("--tls-cert", default=None, help="serve https with this PEM certificate (and --tls-key)")
    parser.add_argument("--tls-key", default=None, help="the private key of --tls-cert")
    args = parser.parse_args()
    # A parent may spawn us with signals blocked (inherited mask): make SIGTERM/SIGINT work.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if args.exit_with_stdin:
        threading.Thread(target=lambda: (sys.stdin.buffer.read(), os._exit(0)), daemon=True).start()
    Handler.chain = Chain()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.tls_cert:
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"listening {server.server_address[1]}", flush=True)
    if args.lagging_port is not None:
        class LaggingHandler(Handler):
            lagging = True
        lagging = ThreadingHTTPServer(("127.0.0.1", args.lagging_port), LaggingHandler)
        lagging.daemon_threads = True
        threading.Thread(target=lagging.serve_forever, daemon=True).start()
        print(f"lagging {lagging.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
