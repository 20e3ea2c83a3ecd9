"""SCRAM-SHA-256 client (RFC 5802 / RFC 7677) for SASL: no channel binding, no authzid."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import unicodedata

NAME = "SCRAM-SHA-256"
MIN_ITERATIONS = 1
MAX_ITERATIONS = 1_000_000  # more would block the event loop for seconds


class ScramError(Exception):
    """The server's SCRAM message is malformed, or its proof is wrong."""


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def _saslname(user: str) -> str:
    return user.replace("=", "=3D").replace(",", "=2C")


def _fields(message: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in message.split(","):
        key, sep, value = part.partition("=")
        if not sep or len(key) != 1:
            raise ScramError(f"malformed SCRAM message part {part[:20]!r}")
        out.setdefault(key, value)
    return out


class ScramClient:
    """One SCRAM-SHA-256 exchange: client_first(), client_final(server_first), verify()."""

    def __init__(self, user: str, password: str, nonce: str | None = None) -> None:
        self.user = user
        self._password = unicodedata.normalize("NFKC", password).encode("utf-8")
        self.nonce = nonce or secrets.token_urlsafe(24)
        self._bare = f"n={_saslname(user)},r={self.nonce}"
        self._server_signature: bytes | None = None

    def client_first(self) -> bytes:
        """gs2 header 'n,,' (no channel binding) + client-first-message-bare."""
        return ("n,," + self._bare).encode("utf-8")

    def client_final(self, server_first: bytes) -> bytes:
        """The client-final-message with the proof, for the server-first-message."""
        text = server_first.decode("utf-8", "strict")
        f = _fields(text)
        if "m" in f:
            raise ScramError("the server requires an unsupported SCRAM extension")
        if "e" in f:
            raise ScramError(f"the server said {f['e']}")
        nonce, salt_b64, iters = f.get("r", ""), f.get("s"), f.get("i", "")
        if not nonce.startswith(self.nonce) or len(nonce) <= len(self.nonce):
            raise ScramError("the server nonce does not extend ours")
        if salt_b64 is None or not iters.isdigit():
            raise ScramError("the server sent no salt or iteration count")
        count = int(iters)
        if not MIN_ITERATIONS <= count <= MAX_ITERATIONS:
            raise ScramError(f"iteration count {count} out of range")
        try:
            salt = base64.b64decode(salt_b64, validate=True)
        except ValueError:
            raise ScramError("the salt is not base64") from None
        salted = hashlib.pbkdf2_hmac("sha256", self._password, salt, count)
        client_key = _hmac(salted, b"Client Key")
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={nonce}"  # biws = base64("n,,")
        auth_message = f"{self._bare},{text},{without_proof}".encode()
        signature = _hmac(stored_key, auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = _hmac(salted, b"Server Key")
        self._server_signature = _hmac(server_key, auth_message)
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final: bytes) -> None:
        """Raise ScramError unless the server-final-message proves the server's key."""
        if self._server_signature is None:
            raise ScramError("server-final before client-final")
        f = _fields(server_final.decode("utf-8", "replace"))
        if "e" in f:
            raise ScramError(f"the server said {f['e']}")
        try:
            got = base64.b64decode(f.get("v", ""), validate=True)
        except ValueError:
            raise ScramError("the server signature is not base64") from None
        if not hmac.compare_digest(got, self._server_signature):
            raise ScramError("wrong server signature (the server does not know the password)")
