"""`alliance-token`: a local signing key, its JWKS, and tokens for any role (development only)."""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from alliance_shared.contract.vocabulary import Role

DEFAULT_ISSUER = "https://auth.coopalliance.local"
DEFAULT_AUDIENCE = "coop-alliance"
KEY_ID = "dev-es256"


def default_keys_dir() -> Path:
    return Path(os.environ.get("ALLIANCE_DEV_KEYS_DIR", "var/dev-keys"))


def ensure_keys(keys_dir: Path) -> Path:
    """Create an ES256 key pair and its JWKS once; returns the JWKS file path."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    private_path, jwks_path = keys_dir / "signing-key.pem", keys_dir / "jwks.json"
    if not private_path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        private_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        private_path.chmod(0o600)
        public_jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
        public_jwk.update({"kid": KEY_ID, "alg": "ES256", "use": "sig"})
        jwks_path.write_text(json.dumps({"keys": [public_jwk]}, indent=2))
    return jwks_path


def mint(
    keys_dir: Path,
    subject: str,
    roles: list[str],
    *,
    partner_id: str | None = None,
    ttl_s: int = 3600,
    issuer: str = DEFAULT_ISSUER,
    audience: str = DEFAULT_AUDIENCE,
    name: str | None = None,
) -> str:
    ensure_keys(keys_dir)
    key = serialization.load_pem_private_key((keys_dir / "signing-key.pem").read_bytes(), password=None)
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": now,
        "nbf": now - 5,
        "exp": now + ttl_s,
        "jti": str(uuid.uuid4()),
        "roles": roles,
    }
    if partner_id:
        claims["partner_id"] = partner_id
    if name:
        claims["name"] = name
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": KEY_ID})  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(prog="alliance-token", description=__doc__)
    parser.add_argument("--keys-dir", type=Path, default=default_keys_dir())
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("keys", help="create the dev key pair and print the JWKS path")
    mint_cmd = sub.add_parser("mint", help="print a signed token")
    mint_cmd.add_argument("--sub", default="dev-user")
    mint_cmd.add_argument("--role", action="append", required=True, choices=[r.value for r in Role])
    mint_cmd.add_argument("--partner", help="partner id (required for college, enterprise and agency_staff)")
    mint_cmd.add_argument("--ttl", type=int, default=8 * 3600)
    args = parser.parse_args()
    if args.command == "keys":
        print(ensure_keys(args.keys_dir))
    elif not (args.keys_dir / "signing-key.pem").exists():
        # A new key pair here would sign tokens no running service accepts.
        parser.exit(
            2,
            f"alliance-token: no dev signing key in {args.keys_dir.resolve()}: run this in the checkout "
            "where `make run` runs, or pass --keys-dir (or ALLIANCE_DEV_KEYS_DIR) to its var/dev-keys\n",
        )
    else:
        print(mint(args.keys_dir, args.sub, args.role, partner_id=args.partner, ttl_s=args.ttl))


if __name__ == "__main__":
    main()
