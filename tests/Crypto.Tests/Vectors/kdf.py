#!/usr/bin/env python3
"""Password-KDF outputs from an independent implementation (python3 `cryptography`: PBKDF2HMAC and Argon2id, both
backed by OpenSSL), checked in as kdf.json and compared with Crypto/Kdf/PasswordKdf.cs by
tests/Crypto.Tests/Kdf/PasswordKdfTests.cs; and protected key files (Crypto/Kdf/ProtectedKeyFile.cs, format v1) built
here from the documented layout with AESGCM, which ProtectedKeyFileTests.cs must open.

Regenerate (deterministic):
    python3 tests/Crypto.Tests/Vectors/kdf.py > tests/Crypto.Tests/Vectors/kdf.json
"""
import hashlib
import json
import sys

from cryptography.hazmat.primitives import hashes
import base64

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC


def det_bytes(label: str, n: int) -> bytes:
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}/{i}".encode()).digest()
        i += 1
    return out[:n]


def main():
    pbkdf2 = []
    for iterations in (1, 2, 1000, 4096, 20_000):
        for password_len in (1, 20, 64, 65, 200):
            for length in (16, 32, 33, 64):
                label = f"pbkdf2/{iterations}/{password_len}/{length}"
                password = det_bytes(label + "/p", password_len)
                salt = det_bytes(label + "/s", 16)
                dk = PBKDF2HMAC(algorithm=hashes.SHA256(), length=length, salt=salt, iterations=iterations).derive(password)
                pbkdf2.append({"password": password.hex(), "salt": salt.hex(), "iterations": iterations, "output": dk.hex()})

    argon2 = []
    for memory, iterations, lanes in ((8, 1, 1), (64, 2, 1), (256, 3, 2), (1024, 1, 4), (4096, 2, 1), (19456, 2, 1)):
        for password_len in (1, 9, 32, 100):
            for length in (4, 32, 64, 65):
                if length != 32 and password_len not in (9,):
                    continue
                label = f"argon2id/{memory}/{iterations}/{lanes}/{password_len}/{length}"
                password = det_bytes(label + "/p", password_len)
                salt = det_bytes(label + "/s", 16)
                tag = Argon2id(salt=salt, length=length, iterations=iterations, lanes=lanes, memory_cost=memory).derive(password)
                argon2.append({"password": password.hex(), "salt": salt.hex(), "memory_kib": memory, "iterations": iterations,
                               "parallelism": lanes, "output": tag.hex()})

    files = []
    for kdf in ("argon2id", "pbkdf2"):
        for payload_len in (0, 32, 1000):
            label = f"file/{kdf}/{payload_len}"
            passphrase = det_bytes(label + "/pass", 20).hex().encode()
            payload = det_bytes(label + "/payload", payload_len)
            salt = det_bytes(label + "/salt", 16)
            nonce = det_bytes(label + "/nonce", 12)
            salt_b64 = base64.b64encode(salt).decode().rstrip("=")
            if kdf == "argon2id":
                params = "$argon2id$v=19$m=1024,t=2,p=1"
                key = Argon2id(salt=salt, length=32, iterations=2, lanes=1, memory_cost=1024).derive(passphrase)
            else:
                params = "$pbkdf2-sha256$i=10000"
                key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=10000).derive(passphrase)
            header = f"PII-PROTECTED-KEY v1\n{params}${salt_b64}\n".encode()
            sealed = nonce + AESGCM(key).encrypt(nonce, payload, header)
            text = header.decode() + base64.b64encode(sealed).decode() + "\n"
            files.append({"passphrase": passphrase.decode(), "payload": payload.hex(), "file": text})

    sys.stdout.write("{\n")
    sys.stdout.write(' "command": "python3 tests/Crypto.Tests/Vectors/kdf.py > tests/Crypto.Tests/Vectors/kdf.json",\n')
    for name, items, last in (("pbkdf2_sha256", pbkdf2, False), ("argon2id", argon2, False), ("protected_key_file", files, True)):
        sys.stdout.write(f' "{name}": [\n')
        sys.stdout.write(",\n".join("  " + json.dumps(v, separators=(",", ":")) for v in items))
        sys.stdout.write("\n ]" + ("\n" if last else ",\n"))
    sys.stdout.write("}\n")


if __name__ == "__main__":
    main()
