// Runs the official AWS Encryption SDK for JavaScript (@aws-crypto/client-node, pinned in package.json)
// as the independent peer for Crypto.Tests' interop tests.
// Usage: node esdk.js encrypt|decrypt CONFIG.json < input > output
// CONFIG: { aes?: {keyHex, namespace, name}, rsa?: {publicPemPath?, privatePemPath?, namespace, name},
//           context?: {..}, frameLength?: n, contextOut?: path }
// Decrypt writes the message's encryption context as JSON to contextOut.
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

async function main() {
  const [verb, configPath] = process.argv.slice(2);
  const config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
  const input = fs.readFileSync(0);
  const keyring = keyrings(config);
  if (verb === 'encrypt') {
    const { result } = await encrypt(keyring, input, {
      suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
      encryptionContext: config.context || {},
      frameLength: config.frameLength || 4096,
    });
    fs.writeFileSync(1, result);
  } else if (verb === 'decrypt') {
    const { plaintext, messageHeader } = await decrypt(keyring, input);
    if (config.contextOut) fs.writeFileSync(config.contextOut, JSON.stringify(messageHeader.encryptionContext));
    fs.writeFileSync(1, plaintext);
  } else {
    throw new Error('verb must be encrypt or decrypt');
  }
}

main().catch((error) => {
  process.stderr.write(`esdk: ${error.message}\n`);
  process.exit(1);
});
