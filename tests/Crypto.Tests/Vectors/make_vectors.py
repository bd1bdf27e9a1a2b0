#!/usr/bin/env python3
"""Known-answer vectors from an independent implementation (pyca/cryptography), checked in as data.

Regenerate (output is deterministic except the GCM nonces, which are drawn fresh each run):
    python3 tests/Crypto.Tests/Vectors/make_vectors.py > tests/Crypto.Tests/Vectors/vectors.json

Sections:
  aes_siv      raw RFC 5297 AES-SIV-256/384/512 (cryptography's AESSIV), several AD vectors and plaintext lengths
  field        PiiAspire field ciphertexts (format v1, see Crypto/Fields/FieldCipher.cs) built here from the spec:
               HKDF-SHA256 key derivation + AESGCM / AESSIV with AAD = header || u16be-length-prefixed context
  blind_index  HKDF-SHA256 per-column key + HMAC-SHA256 over the already-normalized value, truncated to 16 bytes
"""
import hashlib
import hmac
import json
import os
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def det_bytes(label: str, n: int) -> bytes:
    """Reproducible pseudo-random test bytes (SHA-256 in counter mode over a label)."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}/{i}".encode()).digest()
        i += 1
    return out[:n]


def hkdf(ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(ikm)


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def context_bytes(table: str, column: str, record_id: str) -> bytes:
    out = b""
    for part in (table, column, record_id):
        data = part.encode("utf-8")
        out += struct.pack(">H", len(data)) + data
    return out


def aes_siv_vectors():
    vectors = []
    for key_len in (32, 48, 64):
        for pt_len in (0, 1, 15, 16, 17, 32, 50, 255, 256, 257, 1000):
            for ad_count in (0, 1, 3):
                label = f"siv/{key_len}/{pt_len}/{ad_count}"
                key = det_bytes(label + "/key", key_len)
                pt = det_bytes(label + "/pt", pt_len)
                ads = [det_bytes(f"{label}/ad{i}", (7 * i + 13) % 40 + i * 120) for i in range(ad_count)]
                out = AESSIV(key).encrypt(pt, ads)
                vectors.append({
                    "key": key.hex(), "ad": [a.hex() for a in ads], "plaintext": pt.hex(), "output": out.hex(),
                })
    return vectors


def field_vectors():
    vectors = []
    cases = [
        ("randomized", 0, "dnc_preferences", "email", "42", b"alice@example.com"),
        ("randomized", 127, "patients", "ssn", "", b""),
        ("randomized", 128, "patients", "name", "9f3c", "Zoë Ünal".encode()),
        ("randomized", 16383, "t", "c", "1", det_bytes("field/r/long", 300)),
        ("deterministic", 0, "dnc_preferences", "phone", "42", b"+14155550100"),
        ("deterministic", 127, "patients", "ssn", "", b""),
        ("deterministic", 128, "patients", "name", "9f3c", "Zoë Ünal".encode()),
        ("deterministic", 16383, "t", "c", "1", det_bytes("field/d/long", 300)),
    ]
    for mode, dek_id, table, column, record_id, pt in cases:
        dek = det_bytes(f"field/{mode}/{dek_id}/dek", 32)
        mode_nibble = 1 if mode == "randomized" else 2
        header = bytes([0x10 | mode_nibble]) + varint(dek_id)
        aad = header + context_bytes(table, column, record_id)
        if mode == "randomized":
            key = hkdf(dek, b"PiiAspire/field/v1/aes-256-gcm", 32)
            nonce = os.urandom(12)
            body = nonce + AESGCM(key).encrypt(nonce, pt, aad)
        else:
            key = hkdf(dek, b"PiiAspire/field/v1/aes-siv-512", 64)
            body = AESSIV(key).encrypt(pt, [aad])
        vectors.append({
            "mode": mode, "dek": dek.hex(), "dek_id": dek_id, "table": table, "column": column,
            "record_id": record_id, "plaintext": pt.hex(), "ciphertext": (header + body).hex(),
        })
    return vectors


def blind_index_vectors():
    index_key = det_bytes("blind/index-key", 32)
    cases = [
        ("dnc_preferences", "email", "email", "  Alice@Example.COM ", "alice@example.com"),
        ("dnc_preferences", "phone", "phone", "+1 (415) 555-0100", "+14155550100"),
        ("patients", "ssn", "ssn", "078-05-1120", "078051120"),
        ("patients", "name", "name", "  ＺＯË   Ünal ", "zoë ünal"),
    ]
    vectors = []
    for table, column, kind, raw, normalized in cases:
        column_key = hkdf(index_key, f"PiiAspire/blind-index/v1/{table}.{column}".encode(), 32)
        index = hmac.new(column_key, normalized.encode("utf-8"), hashlib.sha256).digest()[:16]
        vectors.append({
            "index_key": index_key.hex(), "table": table, "column": column, "kind": kind,
            "value": raw, "normalized": normalized, "index": index.hex(),
        })
    return vectors


if __name__ == "__main__":
    print(json.dumps({
        "generator": "python3 cryptography " + __import__("cryptography").__version__,
        "aes_siv": aes_siv_vectors(),
        "field": field_vectors(),
        "blind_index": blind_index_vectors(),
    }, indent=1, ensure_ascii=False))
