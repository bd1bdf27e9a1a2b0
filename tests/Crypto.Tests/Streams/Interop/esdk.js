// Runs the official AWS Encryption SDK for JavaScript (@aws-crypto/client-node, pinned in package.json)
// as the independent peer for Crypto.Tests' interop tests.
// Usage: node esdk.js JOBS.json   (one process runs many jobs: node start-up dominates small messages)
// JOBS: [{ verb: "encrypt"|"decrypt", input: path, output: path,
//          aes?: {keyHex, namespace, name}, rsa?: {publicPemPath?, privatePemPath?, namespace, name},
//          context?: {..}, frameLength?: n }]
// Prints a JSON array with one result per job: { ok: true, context?: {..} } or { ok: false, error: "..." }.
// Decrypt reports the message's encryption context.
'use strict';
const fs = require('fs');
const {
  buildClient, CommitmentPolicy, AlgorithmSuiteIdentifier, RawAesKeyringNode, RawAesWrappingSuiteIdentifier,
  RawRsaKeyringNode, MultiKeyringNode,
} = require('@aws-crypto/client-node');

const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

function keyrings(config) {
  const rings = [];
  if (config.aes) {
    rings.push(new RawAesKeyringNode({
      keyName: config.aes.name,
      keyNamespace: config.aes.namespace,
      unencryptedMasterKey: new Uint8Array(Buffer.from(config.aes.keyHex, 'hex')),
      wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
      utf8Sorting: true,
    }));
  }
  if (config.rsa) {
    const rsaKey = {};
    if (config.rsa.publicPemPath) rsaKey.publicKey = fs.readFileSync(config.rsa.publicPemPath, 'utf8');
    if (config.rsa.privatePemPath) rsaKey.privateKey = fs.readFileSync(config.rsa.privatePemPath, 'utf8');
    rings.push(new RawRsaKeyringNode({
      keyName: config.rsa.name, keyNamespace: config.rsa.namespace, rsaKey, oaepHash: 'sha256',
    }));
  }
  if (rings.length === 0) throw new Error('no keyring configured');
  return rings.length === 1 ? rings[0] : new MultiKeyringNode({ generator: rings[0], children: rings.slice(1) });
}

async function run(job) {
  const input = fs.readFileSync(job.input);
  const keyring = keyrings(job);
  if (job.verb === 'encrypt') {
    const { result } = await encrypt(keyring, input, {
      suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
      encryptionContext: job.context || {},
      frameLength: job.frameLength || 4096,
    });
    fs.writeFileSync(job.output, result);
    return { ok: true };
  }
  if (job.verb === 'decrypt') {
    const { plaintext, messageHeader } = await decrypt(keyring, input);
    fs.writeFileSync(job.output, plaintext);
    return { ok: true, context: messageHeader.encryptionContext };
  }
  throw new Error('verb must be encrypt or decrypt');
}

async function main() {
  const jobs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const results = [];
  for (const job of jobs) {
    try {
      results.push(await run(job));
    } catch (error) {
      results.push({ ok: false, error: String(error && error.message) });
    }
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  process.stderr.write(`esdk: ${error.message}\n`);
  process.exit(2);
});
