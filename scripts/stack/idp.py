"""The authority's login for the stack test: a loopback OpenID Connect issuer that signs RS256 tokens."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pki import Tls

TOKEN_LIFETIME = 900
ISSUER_PATH = "/edl-login"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class SigningKey:
    """An RSA key with its `kid`, signing JWTs the way an OIDC provider does (RS256, the JWT authorizer's algorithm)."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, str]:
        numbers = self._key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": _uint(numbers.n),
            "e": _uint(numbers.e),
        }

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"


class Issuer:
    """One issuer URL with its key: publishes discovery and JWKS, mints tokens with the template's claims."""

    def __init__(self, url: str, audience: str) -> None:
        self.url = url
        self.audience = audience
        self.key = SigningKey(f"edl-{uuid.uuid4().hex[:8]}")

    def token(self, sub: str, roles: str, audience: str | None = None, **extra: str) -> str:
        """A token as the authority's login issues it: `sub`, space-separated `roles`, `office` or `org` if needed."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": audience or self.audience,
            "sub": sub,
            "roles": roles,
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "jti": uuid.uuid4().hex,
        }
        claims.update(extra)
        return self.key.sign(claims)


class IdentityProvider:
    """Serves the issuer's `/.well-known/openid-configuration` and JWKS over HTTPS on 127.0.0.1."""

    def __init__(self, tls: Tls, audience: str) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert_file, tls.key_file)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        port = self._server.server_address[1]
        self.issuer = Issuer(f"https://127.0.0.1:{port}{ISSUER_PATH}", audience)
        self.requests: list[str] = []
        self._thread = threading.Thread(target=self._server.serve_forever, name="idp", daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
                provider.requests.append(self.path)
                issuer = provider.issuer
                documents = {
                    f"{ISSUER_PATH}/.well-known/openid-configuration": {
                        "issuer": issuer.url,
                        "jwks_uri": f"{issuer.url}/.well-known/jwks.json",
                        "id_token_signing_alg_values_supported": ["RS256"],
                    },
                    f"{ISSUER_PATH}/.well-known/jwks.json": {"keys": [issuer.key.jwk()]},
                }
                document = documents.get(self.path)
                body = json.dumps(document or {"error": "not found"}).encode()
                self.send_response(200 if document else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the standard library's name)
                pass

        return Handler

    def __enter__(self) -> IdentityProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
