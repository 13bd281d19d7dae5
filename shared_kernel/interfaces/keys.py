"""Asymmetric token keys: the issuer signs with a private Ed25519 key, verifiers hold
only public keys, published as a JWKS (RFC 7517) and fetched, cached, by each API.

Why: with one shared HS256 secret, every service that verifies a token can also mint
one. With EdDSA (RFC 8037), only the token endpoint holds the private key.

Rotation, with no token refused on the way:

1. generate a new key (``python -m shared_kernel.interfaces.keys``) and publish its
   public half first: ``DPMESH_AUTH_PUBLISHED_PUBLIC_KEYS`` of the issuer; wait for the
   verifiers' cache (``DPMESH_AUTH_JWKS_CACHE_S``) to pass, so they know it;
2. sign with it: the new private key as ``DPMESH_AUTH_SIGNING_KEY``, the old public
   key moved to ``DPMESH_AUTH_PUBLISHED_PUBLIC_KEYS``; tokens of both verify;
3. once the longest token lifetime has passed, stop publishing the old key.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "ASYMMETRIC_ALGORITHM",
    "SigningKey",
    "jwks",
    "key_id",
    "load_public_pem",
    "public_jwk",
]

ASYMMETRIC_ALGORITHM = "EdDSA"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """The public key as a JWK (RFC 8037 §2), with its ``kid``."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw)}
    return {**jwk, "kid": key_id(jwk), "alg": ASYMMETRIC_ALGORITHM, "use": "sig"}


def key_id(jwk: Mapping[str, str]) -> str:
    """The RFC 7638 thumbprint of a key: the same key always has the same ``kid``."""
    members = {name: jwk[name] for name in ("crv", "kty", "x")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64(hashlib.sha256(canonical).digest())


def jwks(keys: Iterable[Ed25519PublicKey]) -> dict[str, Any]:
    """A JWK set of public keys, each once."""
    seen: dict[str, dict[str, str]] = {}
    for key in keys:
        jwk = public_jwk(key)
        seen.setdefault(jwk["kid"], jwk)
    return {"keys": list(seen.values())}


@dataclass(frozen=True)
class SigningKey:
    """The issuer's private key, its public half and ``kid``."""

    private: Ed25519PrivateKey

    @classmethod
    def from_pem(cls, pem: str) -> SigningKey:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the signing key must be an Ed25519 private key (PEM, PKCS#8)")
        return cls(key)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def kid(self) -> str:
        return public_jwk(self.public)["kid"]

    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def public_pem(self) -> str:
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


def load_public_pem(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("a retired public key must be an Ed25519 public key (PEM)")
    return key


if __name__ == "__main__":  # pragma: no cover - a helper for operators
    fresh = SigningKey.generate()
    print("# DPMESH_AUTH_SIGNING_KEY (keep it secret, give it to the token endpoint only):")
    print(fresh.private_pem())
    print(f"# its public key (kid {fresh.kid}), for DPMESH_AUTH_PUBLISHED_PUBLIC_KEYS:")
    print(fresh.public_pem())
