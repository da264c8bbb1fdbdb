import assert from 'node:assert/strict';
import { createPrivateKey, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { concatBytes, fromBase64, toBase64 } from '../../src/core/encoding.ts';
import {
  checkpointText,
  formatNote,
  noteVerifierFor,
  parseCheckpoint,
  parseNote,
  verifyNote,
} from '../../src/audit/note.ts';

// Vectors copied from golang.org/x/mod/sumdb/note (note.go doc example and note_test.go).
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_SKEY_B64 = 'AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;
// ECDSA (type 0x02) verifier key from github.com/transparency-dev/formats note tests (Pixel 6 log).
const PIXEL_VKEY =
  'pixel6_transparency_log+91c16e30+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABN+4x0Jk1yTwvLFI9A4NDdGZcX0aiWVdWM5XJVy0M4VWD3AvyW5Q6Hs9A0mcDkpUoYgn+KKPNzFC0H3nN3q6JQ8=';

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

describe('C2SP signed notes', () => {
  const raw = fromBase64(GO_VKEY.split('+')[2]!).subarray(1);
  const spki = concatBytes(ED25519_SPKI_PREFIX, raw);

  it('derives the Ed25519 key ID and verifier key the Go tooling uses', () => {
    assert.equal(noteVerifierFor('PeterNeumann', spki).verifierKey, GO_VKEY);
  });

  it('derives the ECDSA key ID from the DER SPKI (type 0x02)', () => {
    // The base64 part may itself contain '+': split on the first two only.
    const [name, , ...rest] = PIXEL_VKEY.split('+') as [string, string, ...string[]];
    const material = rest.join('+');
    const der = fromBase64(material).subarray(1);
    const v = noteVerifierFor(name, der);
    assert.equal(v.keyId.toString(16), '91c16e30');
    assert.equal(v.verifierKey, PIXEL_VKEY);
  });

  it('verifies the Go example note and rejects any change to it', () => {
    const v = noteVerifierFor('PeterNeumann', spki);
    const note = parseNote(GO_NOTE);
    assert.ok(note !== undefined);
    assert.equal(note.text, GO_TEXT);
    assert.ok(verifyNote(note, v));
    assert.ok(!verifyNote(parseNote(GO_NOTE.replace('cryptography', 'cryptographY'))!, v));
    // A signature by an unknown key is ignored; with none from the known key the note is rejected.
    assert.ok(!verifyNote(parseNote(GO_NOTE.replace('PeterNeumann x', 'EnochRoot x'))!, v));
  });

  it('reproduces the Go example note byte for byte when signing', () => {
    const seed = fromBase64(GO_SKEY_B64).subarray(1);
    const key = createPrivateKey({
      key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
      format: 'der',
      type: 'pkcs8',
    });
    const v = noteVerifierFor('PeterNeumann', spki);
    const sig = sign(null, Buffer.from(GO_TEXT), key);
    assert.equal(formatNote(GO_TEXT, 'PeterNeumann', v.keyId, sig), GO_NOTE);
  });

  it('refuses malformed notes', () => {
    assert.equal(parseNote('no signatures\n'), undefined);
    assert.equal(parseNote(GO_NOTE.replace('— ', '-- ')), undefined);
    assert.equal(parseNote(GO_NOTE.replace('\n\n', '\t\n\n')), undefined);
    assert.equal(parseNote(GO_NOTE.slice(0, -1)), undefined);
  });
});

describe('C2SP checkpoints', () => {
  it('formats and parses the three-line body', () => {
    const root = fromBase64('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=');
    const text = checkpointText('example.com/behind-the-sofa', 20852163, root);
    assert.equal(
      text,
      'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n',
    );
    const cp = parseCheckpoint(text);
    assert.equal(cp?.origin, 'example.com/behind-the-sofa');
    assert.equal(cp?.size, 20852163);
    assert.equal(toBase64(cp.root), 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=');
  });

  it('refuses leading zeroes, short roots and extension lines', () => {
    assert.equal(parseCheckpoint('o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n'), undefined);
    assert.equal(parseCheckpoint('o\n1\nCsUY\n'), undefined);
    assert.equal(parseCheckpoint('o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\next\n'), undefined);
    assert.equal(parseCheckpoint('\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n'), undefined);
  });
});
