// Regenerates the checked-in known-answer messages in ../Vectors with the official JS ESDK (same pinned package).
// Usage (from this folder, after npm ci): node make-vectors.js
// Plaintexts follow one pattern so the manifest need not store them: byte i = (i * 31 + 7) mod 256, except the
// "hello" example of STREAM-FORMAT.md §9. Keys are throw-away test keys.
'use strict';
const fs = require('fs');
const path = require('path');
const {
  buildClient, CommitmentPolicy, AlgorithmSuiteIdentifier, RawAesKeyringNode, RawAesWrappingSuiteIdentifier,
  RawRsaKeyringNode, MultiKeyringNode,
} = require('@aws-crypto/client-node');

const { encrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
const dir = path.join(__dirname, '..', 'Vectors');
const aesKeyHex = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const aes = () => new RawAesKeyringNode({
  keyName: 'example-key', keyNamespace: 'example-ns', unencryptedMasterKey: new Uint8Array(Buffer.from(aesKeyHex, 'hex')),
  wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING, utf8Sorting: true,
});
const rsa = () => new RawRsaKeyringNode({
  keyName: 'recovery-key', keyNamespace: 'recovery-ns', oaepHash: 'sha256',
  rsaKey: { publicKey: fs.readFileSync(path.join(dir, 'rsa-test-public.pem'), 'utf8') },
});
const pattern = (n) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + 7) % 256));

const vectors = [
  { file: 'example-hello.bin', keyring: 'aes', frameLength: 4, context: { tenant: 't1', doc: '42' }, text: 'hello' },
  { file: 'aes-empty.bin', keyring: 'aes', frameLength: 64, context: {}, length: 0 },
  { file: 'aes-exact-3-frames.bin', keyring: 'aes', frameLength: 64, length: 192,
    context: { '\u{1F600}': 'grin', '\uFF21': 'fullwidth A', Zone: 'x', archive: 'y', 'clé': 'vàlue' } },
  { file: 'aes-frame-length-1.bin', keyring: 'aes', frameLength: 1, context: { a: 'b' }, length: 3 },
  { file: 'rsa-65.bin', keyring: 'rsa', frameLength: 64, context: { purpose: 'kat' }, length: 65 },
  { file: 'aes-rsa-1000.bin', keyring: 'aes+rsa', frameLength: 100, context: { tenant: 't2' }, length: 1000 },
];

async function main() {
  for (const v of vectors) {
    const keyring = v.keyring === 'aes' ? aes() : v.keyring === 'rsa' ? rsa() : new MultiKeyringNode({ generator: aes(), children: [rsa()] });
    const plaintext = v.text !== undefined ? Buffer.from(v.text, 'utf8') : pattern(v.length);
    const { result } = await encrypt(keyring, plaintext, {
      suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
      encryptionContext: v.context, frameLength: v.frameLength,
    });
    fs.writeFileSync(path.join(dir, v.file), result);
  }
  fs.writeFileSync(path.join(dir, 'vectors.json'), JSON.stringify({
    generator: '@aws-crypto/client-node 5.0.2 (Interop/make-vectors.js)', aesKeyHex,
    aes: { namespace: 'example-ns', name: 'example-key' }, rsa: { namespace: 'recovery-ns', name: 'recovery-key' },
    vectors,
  }, null, 2) + '\n');
}

main().catch((error) => { process.stderr.write(`${error.stack}\n`); process.exit(1); });
