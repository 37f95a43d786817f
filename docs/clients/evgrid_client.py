#!/usr/bin/env python3
"""A client for evgrid's public API in Python's standard library alone, driven by its OpenAPI document.

It reads GET /openapi.json and calls any operation by its operationId, sending the input where the document
says (a JSON body, or the `input` query parameter as JSON) and reading tRPC's envelope. Nothing here names a
procedure, a path or a field except the demo at the bottom, so the same few lines work for every procedure.

    python3 docs/clients/evgrid_client.py http://127.0.0.1:8080          # the demo: start, read, watch, stop
    EVGRID_API_KEY=... python3 docs/clients/evgrid_client.py URL         # when the charge-api has API_KEYS
"""

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid


class ApiError(Exception):
    """An error answer: `reason` is the stable code to branch on (the document's Error schema lists them)."""

    def __init__(self, status, error):
        data = error.get("data", {})
        super().__init__(f"{status} {data.get('reason')}: {error.get('message')}")
        self.status = status
        self.reason = data.get("reason")
        self.data = data


class Client:
    def __init__(self, base_url, api_key=None, timeout_s=30):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.document = self._get_json("/openapi.json", {})
        self.headers = {}
        if api_key:
            scheme = self.document["components"]["securitySchemes"]["apiKey"]
            self.headers[scheme["name"]] = api_key
        # operationId -> (method, path, operation)
        self.operations = {
            op["operationId"]: (method.upper(), path, op)
            for path, methods in self.document["paths"].items()
            for method, op in methods.items()
        }

    def _get_json(self, path, headers):
        req = urllib.request.Request(self.base_url + path, headers=headers)
        with urllib.request.urlopen(req, timeout=self.timeout_s) as res:
            return json.load(res)

    def _request(self, operation_id, payload):
        method, path, op = self.operations[operation_id]
        url, body, headers = self.base_url + path, None, dict(self.headers)
        if "requestBody" in op:
            body = json.dumps(payload).encode()
            headers["content-type"] = "application/json"
        for param in op.get("parameters", []):
            if param["in"] == "query" and "application/json" in param.get("content", {}):
                url += "?" + urllib.parse.urlencode({param["name"]: json.dumps(payload)})
        return urllib.request.Request(url, data=body, method=method, headers=headers)

    def _open(self, req):
        try:
            return urllib.request.urlopen(req, timeout=self.timeout_s)
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                raise ApiError(err.code, json.loads(raw)["error"]) from None
            except (ValueError, KeyError):
                raise ApiError(err.code, {"message": raw.decode(errors="replace")}) from None

    def call(self, operation_id, payload=None):
        """Calls a query or mutation; returns `result.data`, or raises ApiError."""
        with self._open(self._request(operation_id, payload)) as res:
            return json.load(res)["result"]["data"]

    def stream(self, operation_id, payload=None):
        """Calls a subscription; yields each event's data (server-sent events) until the stream ends."""
        with self._open(self._request(operation_id, payload)) as res:
            event, data = None, []
            for raw in res:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[len("event:"):].strip()
                elif line.startswith("data:"):
                    data.append(line[len("data:"):].strip())
                elif line == "":
                    if event == "return":
                        return
                    if event == "serialized-error":
                        raise ApiError(200, json.loads("\n".join(data)))
                    if event is None and data:
                        yield json.loads("\n".join(data))
                    event, data = None, []


def demo(base_url):
    """Starts a session, reads it, watches it, stops it; prints each step as one JSON line."""
    client = Client(base_url, api_key=os.environ.get("EVGRID_API_KEY"))
    say = lambda step, value: print(json.dumps({"step": step, "value": value}), flush=True)  # noqa: E731
    say("operations", sorted(client.operations))
    grant = client.call("requestCharge", {"vehicleId": f"py-{uuid.uuid4().hex[:12]}", "maxKw": 11, "durationS": 3600})
    say("requestCharge", grant)
    ref = {"sessionId": grant["sessionId"], "sessionSecret": grant["sessionSecret"]}
    say("getSession", client.call("getSession", ref))
    updates = client.stream("watchSession", ref)
    say("watchSession", next(updates))
    say("stopCharge", client.call("stopCharge", ref))
    say("watchSession", next(u for u in updates if u["status"] == "ended"))
    try:
        # A stranger (no key, no secret) may not read it: 403 in open mode, 401 where keys are required.
        Client(base_url).call("getSession", {"sessionId": grant["sessionId"]})
    except ApiError as err:
        reasons = client.document["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["data"]
        say("error", {"status": err.status, "reason": err.reason, "documented": err.reason in reasons["properties"]["reason"]["enum"]})


if __name__ == "__main__":
    demo(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080")
