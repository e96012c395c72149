"""What seed 003's Django client does, for the bridge's tests.

django_cfg.apps.ipc's DjangoCfgRPCClient (django-cfg @48bc3e28) in its essentials: `call` XADDs the
request to the stream (MAXLEN ~ 10000), BLPOPs the reply list for `timeout` seconds, then always
DELetes it; an answer of type "error" raises, one without `result` is an error too;
`fire_and_forget` XADDs with timeout 0 and no reply_to. Uses Debian's python3-redis only.
`send_stream` is the helper for streams: it sends chunks in order (see its docstring).

Usage: django_rpc_client.py REDIS_URL STREAM < calls.json, where calls.json is a list of
{"method", "params", "timeout"?, "fire_and_forget"?} or {"method", "chunks": [params, ...]}
(sent with send_stream); prints one JSON outcome per call.
"""

import json
import sys
from uuid import uuid4

import redis


class RemoteError(Exception):
    def __init__(self, error):
        super().__init__(error.get("message"))
        self.error = error


class Client:
    def __init__(self, url, stream, timeout=30):
        self.redis = redis.Redis.from_url(url, decode_responses=False)
        self.stream = stream
        self.default_timeout = timeout

    def call(self, method, params, timeout=None):
        timeout = timeout or self.default_timeout
        cid = str(uuid4())
        reply_key = f"list:response:{cid}"
        payload = {
            "type": "rpc",
            "method": method,
            "params": params,
            "correlation_id": cid,
            "reply_to": reply_key,
            "timeout": timeout,
        }
        try:
            self.redis.xadd(
                self.stream, {"payload": json.dumps(payload)}, maxlen=10000, approximate=True
            )
            answer = self.redis.blpop(reply_key, timeout)
            if answer is None:
                raise TimeoutError(f"RPC call '{method}' timed out after {timeout}s")
            _, raw = answer
            response = json.loads(raw)
            if response.get("type") == "error":
                raise RemoteError(response.get("error", {}))
            result = response.get("result")
            if result is None:
                raise RemoteError({"code": "internal_error", "message": "Response has no result field"})
            return cid, result
        finally:
            self.redis.delete(reply_key)

    def send_stream(self, method, chunks, timeout=None):
        """Sends a stream's chunks (e.g. `session.message` params with is_streaming/seq) in order.

        Each chunk is a `call()`: the next is sent only once the previous one is answered, so they
        are published in the room in the order given, whichever instance runs each. Chunks sent
        with `fire_and_forget` keep their order only while one instance reads them all (the
        server runs a room's requests in stream order per instance); across instances they may
        interleave. Returns the (correlation_id, result) of every chunk; a failed chunk raises
        (RemoteError, TimeoutError) and the chunks after it are not sent.
        """
        return [self.call(method, params, timeout) for params in chunks]

    def fire_and_forget(self, method, params):
        payload = {
            "type": "rpc",
            "method": method,
            "params": params,
            "correlation_id": str(uuid4()),
            "timeout": 0,
        }
        message_id = self.redis.xadd(
            self.stream, {"payload": json.dumps(payload)}, maxlen=10000, approximate=True
        )
        return message_id.decode()


def main():
    client = Client(sys.argv[1], sys.argv[2])
    for call in json.load(sys.stdin):
        method, params = call["method"], call.get("params", {})
        if "chunks" in call:
            try:
                sent = client.send_stream(method, call["chunks"], call.get("timeout"))
                outcome = {"outcome": "stream", "results": [result for _, result in sent]}
            except RemoteError as error:
                outcome = {"outcome": "remote_error", "error": error.error}
            except TimeoutError:
                outcome = {"outcome": "timeout"}
        elif call.get("fire_and_forget"):
            outcome = {"outcome": "sent", "id": client.fire_and_forget(method, params)}
        else:
            try:
                cid, result = client.call(method, params, call.get("timeout"))
                outcome = {"outcome": "result", "correlation_id": cid, "result": result}
            except RemoteError as error:
                outcome = {"outcome": "remote_error", "error": error.error}
            except TimeoutError:
                outcome = {"outcome": "timeout"}
        print(json.dumps({"method": method, **outcome}), flush=True)


if __name__ == "__main__":
    main()
