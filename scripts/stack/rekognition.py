"""A stand-in for Amazon Rekognition on loopback for the stack test: the emulator has none.

It speaks Rekognition's JSON 1.1 protocol (`X-Amz-Target: RekognitionService.<Operation>`) for the three
operations the apply function calls: CreateFaceLivenessSession makes a session; the test finishes it as the
app's liveness detector would (`finish`: a confidence and a reference image); GetFaceLivenessSessionResults
answers with them; CompareFaces matches two images when their bytes are the same (this stand-in does not look
at faces). So the deployed function drives the real session flow with its real SDK client, role and
configuration; Rekognition's judgement of faces is not exercised.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class RekognitionStandIn:
    """Serves on 127.0.0.1 in a thread of the stack test; `close` (or leaving the `with`) stops it."""

    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                target = self.headers.get("X-Amz-Target", "")
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    body = {}
                status, answer = stand_in.answer(target.removeprefix("RekognitionService."), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="rekognition", daemon=True)

    def __enter__(self) -> RekognitionStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def finish(self, session_id: str, confidence: float, reference_image: bytes) -> None:
        """The app's liveness detector ends the session: a live person with this confidence and face."""
        with self.lock:
            if session_id not in self.sessions:
                raise KeyError(f"no session {session_id} was created")
            self.sessions[session_id].update(confidence=confidence, reference=reference_image)

    def operations(self) -> list[str]:
        with self.lock:
            return [operation for operation, _ in self.received]

    def answer(self, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.received.append((operation, body))
            if operation == "CreateFaceLivenessSession":
                session_id = str(uuid.uuid4())
                self.sessions[session_id] = {}
                return 200, {"SessionId": session_id}
            if operation == "GetFaceLivenessSessionResults":
                session = self.sessions.get(body.get("SessionId", ""))
                if session is None:
                    return 400, {"__type": "SessionNotFoundException", "Message": "unknown session"}
                if "confidence" not in session:
                    return 200, {"SessionId": body["SessionId"], "Status": "IN_PROGRESS"}
                return 200, {
                    "SessionId": body["SessionId"],
                    "Status": "SUCCEEDED",
                    "Confidence": session["confidence"],
                    "ReferenceImage": {"Bytes": base64.b64encode(session["reference"]).decode()},
                }
            if operation == "CompareFaces":
                source = body.get("SourceImage", {}).get("Bytes")
                target = body.get("TargetImage", {}).get("Bytes")
                if not source or not target:
                    return 400, {"__type": "InvalidParameterException", "Message": "an image is missing"}
                if source == target:
                    return 200, {"FaceMatches": [{"Similarity": 99.5, "Face": {"Confidence": 99.9}}], "UnmatchedFaces": []}
                return 200, {"FaceMatches": [], "UnmatchedFaces": [{"Confidence": 99.9}]}
            return 400, {"__type": "UnknownOperationException", "Message": f"{operation} is not served here"}
