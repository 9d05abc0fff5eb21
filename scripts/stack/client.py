"""The stack test's view of the deployed stack: HTTPS calls through its HTTP API; failures that name the resource."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3

from deploy import Stack

T = TypeVar("T")


class StackFailure(AssertionError):
    """The deployed stack did not behave as AWS would run it; the message names the resource."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return json.loads(self.body)

    def text(self, limit: int = 400) -> str:
        return self.body[:limit].decode("utf-8", errors="replace")


class Diagnostics:
    """What the emulator knows about a resource: a function's log, a queue's dead letters."""

    def __init__(self, session: boto3.Session, endpoint: str, ca_file: str, stack: Stack, emulator_log: Path) -> None:
        self.stack = stack
        self.emulator_log = emulator_log
        self.logs = session.client("logs", endpoint_url=endpoint, verify=ca_file)
        self.sqs = session.client("sqs", endpoint_url=endpoint, verify=ca_file)

    def function_messages(self, logical_id: str, since_ms: int) -> list[str] | None:
        """What `logical_id` logged since `since_ms`, oldest first, from its CloudWatch log group; None without one."""
        name = self.stack.function_name(logical_id)
        try:
            events = self.logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", startTime=since_ms)["events"]
        except self.logs.exceptions.ResourceNotFoundException:
            return None
        return [e["message"].rstrip() for e in sorted(events, key=lambda e: e["timestamp"])]

    def function_log(self, logical_id: str, since_ms: int, lines: int = 25) -> str:
        """The last lines of `logical_id`'s log since `since_ms`, for a failure message."""
        messages = self.function_messages(logical_id, since_ms)
        if messages is None:
            return f"    (no log group /aws/lambda/{self.stack.function_name(logical_id)}: {logical_id} never ran)"
        if not messages:
            return f"    ({logical_id} logged nothing since the call)"
        return "\n".join(f"    {m[:1500]}" for m in messages[-lines:])

    def dead_letters(self, output: str) -> str:
        url = self.stack.outputs[output]
        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        return "\n".join(f"    {m['Body'][:400]}" for m in messages) or "    (none)"

    def emulator_says(self, name: str, lines: int = 5) -> str:
        """The emulator's own last lines about `name`: a bootstrap that fails before its handler runs logs nothing."""
        said = [line for line in self.emulator_log.read_text(errors="replace").splitlines() if name in line]
        return "\n".join(f"    {line[:600]}" for line in said[-lines:]) or "    (nothing)"

    def blame(self, logical_id: str, since_ms: int) -> str:
        name = self.stack.function_name(logical_id)
        return (
            f"{logical_id} ({name}) logged:\n{self.function_log(logical_id, since_ms)}\n"
            f"the emulator said about {logical_id}:\n{self.emulator_says(name)}"
        )


def now_ms() -> int:
    return int(time.time() * 1000)


class Api:
    """Calls the stack's HTTP API on its execute-api host, over TLS, as the app and the terminals do."""

    def __init__(
        self, port: int, api_id: str, context: ssl.SSLContext, routes: dict[str, str], diagnostics: Diagnostics
    ):
        self.port = port
        self.host = f"{api_id}.execute-api.localhost:{port}"
        self.context = context
        self.routes = routes
        self.diagnostics = diagnostics

    def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        content_type: str = "application/json",
        raw: bytes | None = None,
    ) -> Answer:
        headers = {"Host": self.host}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw
        if data is None and body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=60)
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def call(
        self,
        route: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        expect: int = 200,
        content_type: str = "application/json",
        raw: bytes | None = None,
    ) -> Answer:
        """Calls `route` (its key, e.g. `POST /applications/{id}`) at `path` and expects `expect`.

        Otherwise fails naming the route, the function behind it and what that function logged.
        """
        method = route.split(" ", 1)[0]
        since = now_ms() - 1000
        answer = self.request(method, path, token, body, content_type, raw)
        if answer.status == expect:
            return answer
        function = self.routes.get(route)
        if answer.status == 404 and answer.body.strip() == b'{"message":"Not Found"}':
            owner = (
                f"the deployed template gives it to {function}" if function else "no function has it in the template"
            )
            raise StackFailure(f"{route}: the HTTP API has no route for {method} {path} ({owner})")
        if function is None:
            raise StackFailure(
                f"{route} answered {answer.status} but no function has it in the template: {answer.text()}"
            )
        raise StackFailure(
            f"{route} ({function}) answered {answer.status}, expected {expect}: {answer.text()}\n"
            + self.diagnostics.blame(function, since)
        )


def problem(answer: Answer, status: int, slug: str) -> dict[str, Any]:
    """Checks that `answer` is the project's problem document `slug` with `status`, and returns it."""
    if answer.status != status or not answer.content_type.startswith("application/problem+json"):
        raise StackFailure(
            f"expected a {status} {slug} problem, got {answer.status} {answer.content_type}: {answer.text()}"
        )
    document = answer.json()
    if document.get("type") != f"urn:edl:problem:{slug}" or document.get("status") != status:
        raise StackFailure(f"expected problem {slug} ({status}), got {document}")
    return document


def eventually(what: str, probe: Callable[[], T | None], timeout: float, explain: Callable[[], str]) -> T:
    """Polls `probe` until it returns something; after `timeout` seconds fails with `what` and `explain()`."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise StackFailure(f"{what} within {timeout:.0f} s\n{explain()}")
        time.sleep(1)
