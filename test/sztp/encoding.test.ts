import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { hasCode } from '../../src/core/errors.ts';
import { parseConveyedInformation, serializeConveyedInformation } from '../../src/sztp/conveyed-info.ts';
import { parseErrors, serializeErrors } from '../../src/sztp/restconf-errors.ts';
import {
  parseBootstrapInput,
  parseBootstrapOutput,
  serializeBootstrapInput,
  serializeBootstrapOutput,
} from '../../src/sztp/rpc-bootstrap.ts';
import { parseProgressInput, serializeProgressInput } from '../../src/sztp/rpc-progress.ts';
import type { ConveyedInformation, Encoding } from '../../src/sztp/types.ts';

const DIR = '../shared/fixtures/sztp/rfc8572-examples';
const read = (f: string) => readFileSync(join(DIR, f), 'utf8');
/** The examples carry HTTP headers before the body. */
const body = (f: string) => {
  const t = read(f);
  const i = t.indexOf('\n\n');
  return t.startsWith('<') || t.startsWith('{') ? t : t.slice(i + 2);
};

test('every RFC 8572 example file parses', () => {
  const files = readdirSync(DIR);
  assert.equal(files.length, 10);
  const ob = parseConveyedInformation(read('ex-file-onboarding-information.json'));
  assert.equal(ob.encoding, 'json');
  assert.equal(ob.info.kind, 'onboarding');
  if (ob.info.kind !== 'onboarding') return;
  assert.equal(ob.info.onboarding.bootImage?.osVersion, '17.2R1.6');
  assert.equal(ob.info.onboarding.bootImage?.imageVerification[0]?.hashAlgorithm, 'sha-256');
  assert.equal(ob.info.onboarding.bootImage?.imageVerification[0]?.hashValue.length, 32);
  assert.equal(ob.info.onboarding.configurationHandling, 'merge');

  const obx = parseConveyedInformation(read('ex-file-onboarding-information.xml'));
  assert.equal(obx.encoding, 'xml');
  assert.ok(obx.info.kind === 'onboarding');
  if (obx.info.kind !== 'onboarding') return;
  assert.deepEqual(obx.info.onboarding.bootImage?.downloadUris.length, 3);
  assert.match(new TextDecoder().decode(obx.info.onboarding.configuration), /<netconf-server/);

  for (const f of ['ex-file-redirect-information.json', 'ex-file-redirect-information.xml']) {
    const r = parseConveyedInformation(read(f));
    assert.ok(r.info.kind === 'redirect');
    if (r.info.kind === 'redirect') {
      assert.deepEqual(
        r.info.redirect.bootstrapServers.map((s) => [s.address, s.port]),
        [
          ['sztp1.example.com', 8443],
          ['sztp2.example.com', 8443],
          ['sztp3.example.com', 8443],
        ],
      );
    }
  }
  const trusted = parseBootstrapInput(body('ex-api-get-bootstrap-data-rpc-trusted.xml'), 'xml');
  assert.equal(trusted.hwModel, 'model-x');
  assert.equal(trusted.nonce?.length, 20);
  assert.equal(trusted.signedDataPreferred, false);
  assert.equal(
    parseBootstrapInput(body('ex-api-get-bootstrap-data-rpc-untrusted.xml'), 'xml').signedDataPreferred,
    true,
  );
  const replyT = parseBootstrapOutput(body('ex-api-get-bootstrap-data-rpc-reply-trusted.xml'), 'xml');
  assert.equal(replyT.reportingLevel, 'verbose');
  const replyU = parseBootstrapOutput(body('ex-api-get-bootstrap-data-rpc-reply-untrusted.xml'), 'xml');
  assert.ok(replyU.ownerCertificate && replyU.ownershipVoucher);
  const pr = parseProgressInput(body('ex-api-report-progress-rpc.xml'), 'xml');
  assert.equal(pr.progressType, 'bootstrap-complete');
  assert.equal(pr.sshHostKeys?.length, 2);
  assert.equal(pr.trustAnchorCerts?.length, 1);
  // The device data model example is not an SZTP wire document but must be well-formed XML.
  assert.ok(read('ex-api-device-model.xml').includes('bootstrap-servers'));
});

const samples: ConveyedInformation[] = [
  {
    kind: 'redirect',
    redirect: {
      bootstrapServers: [
        { address: 'owner.example', port: 8443, trustAnchor: new Uint8Array([1, 2, 3]) },
        { address: 'b.example' },
      ],
    },
  },
  {
    kind: 'onboarding',
    onboarding: {
      bootImage: {
        osName: 'ImprintOS',
        osVersion: '1.2',
        downloadUris: ['https://x/img'],
        imageVerification: [{ hashAlgorithm: 'sha-256', hashValue: new Uint8Array(32).fill(7) }],
      },
      configurationHandling: 'replace',
      preConfigurationScript: new TextEncoder().encode('echo pre & <done>'),
      configuration: new TextEncoder().encode('{"a":1}'),
      postConfigurationScript: new Uint8Array([0, 255]),
    },
  },
];

test('conveyed information round-trips in JSON and XML with module-qualified names and namespaces', () => {
  for (const enc of ['json', 'xml'] as Encoding[]) {
    for (const s of samples) {
      const bytes = serializeConveyedInformation(s, enc);
      const text = new TextDecoder().decode(bytes);
      if (enc === 'json') assert.match(text, /"ietf-sztp-conveyed-info:(redirect|onboarding)-information"/);
      else assert.match(text, /xmlns="urn:ietf:params:xml:ns:yang:ietf-sztp-conveyed-info"/);
      assert.deepEqual(parseConveyedInformation(bytes).info, s);
    }
  }
});

test('RPC input, output, progress and errors round-trip in both encodings', () => {
  for (const enc of ['json', 'xml'] as Encoding[]) {
    const input = {
      signedDataPreferred: true,
      hwModel: 'm',
      osName: 'o',
      osVersion: 'v',
      nonce: new Uint8Array(16).fill(9),
      csrSupport: {
        supportedFormats: ['p10-csr' as const],
        supportedAlgorithms: [new Uint8Array([0x30, 0])],
      },
    };
    assert.deepEqual(parseBootstrapInput(serializeBootstrapInput(input, enc), enc), input);
    const csrIn = {
      signedDataPreferred: false,
      csr: { format: 'p10-csr' as const, value: new Uint8Array([1, 2]) },
    };
    assert.deepEqual(parseBootstrapInput(serializeBootstrapInput(csrIn, enc), enc), csrIn);
    const out = {
      reportingLevel: 'verbose' as const,
      conveyedInformation: new Uint8Array([1]),
      ownerCertificate: new Uint8Array([2]),
      ownershipVoucher: new Uint8Array([3]),
    };
    assert.deepEqual(parseBootstrapOutput(serializeBootstrapOutput(out, enc), enc), out);
    const pr = {
      progressType: 'bootstrap-complete' as const,
      message: 'ok <&>',
      sshHostKeys: [{ algorithm: 'ssh-ed25519', keyData: new Uint8Array([4]) }],
      trustAnchorCerts: [new Uint8Array([5])],
    };
    assert.deepEqual(parseProgressInput(serializeProgressInput(pr, enc), enc), pr);
    const errs = [
      {
        type: 'application' as const,
        tag: 'missing-attribute',
        message: 'csr',
        csrRequest: { selectedFormat: 'p10-csr' as const, certReqInfo: new Uint8Array([6]) },
      },
    ];
    const text = serializeErrors(errs, enc);
    assert.match(
      text,
      enc === 'json' ? /"ietf-restconf:errors"/ : /urn:ietf:params:xml:ns:yang:ietf-restconf/,
    );
    assert.deepEqual(parseErrors(text, enc), errs);
  }
  assert.match(
    serializeBootstrapInput({ signedDataPreferred: true }, 'json'),
    /"ietf-sztp-bootstrap-server:input":\{"signed-data-preferred":\[null\]\}/,
  );
});

test('malformed documents are refused with specific codes', () => {
  const cases: [() => unknown, string][] = [
    [
      () => parseConveyedInformation('{"ietf-sztp-conveyed-info:onboarding-information":{"bogus":1}}'),
      'ERR_SZTP_CONVEYED_INFO_INVALID',
    ],
    [() => parseConveyedInformation('{"other:redirect-information":{}}'), 'ERR_SZTP_CONVEYED_INFO_INVALID'],
    [
      () => parseConveyedInformation('<redirect-information xmlns="urn:x"/>'),
      'ERR_SZTP_CONVEYED_INFO_INVALID',
    ],
    [() => parseConveyedInformation('<a><b></a>'), 'ERR_SZTP_XML_MALFORMED'],
    [() => parseConveyedInformation('<!DOCTYPE x [<!ENTITY e "x">]><x/>'), 'ERR_SZTP_XML_MALFORMED'],
    [() => parseConveyedInformation('hello'), 'ERR_SZTP_CONVEYED_INFO_INVALID'],
    [
      () => parseBootstrapInput('{"ietf-sztp-bootstrap-server:input":{"nonce":"AAAA"}}', 'json'),
      'ERR_SZTP_RPC_INVALID',
    ],
    [
      () => parseProgressInput('{"ietf-sztp-bootstrap-server:input":{"progress-type":"nope"}}', 'json'),
      'ERR_SZTP_RPC_INVALID',
    ],
  ];
  for (const [fn, code] of cases) assert.throws(fn, (e) => hasCode(e, code), code);
});

test('open-sztp fixtures: onboarding data, owner certificate and trust anchor parse', async () => {
  const { fromOpenSztpOnboarding } = await import('../../src/sztp/interop.ts');
  const { parseCert } = await import('../../src/sztp/cms/certs.ts');
  const { fromPemAll } = await import('../../src/core/encoding.ts');
  const ob = fromOpenSztpOnboarding(
    readFileSync('../shared/fixtures/sztp/open-sztp/12345/onboardingData.json', 'utf8'),
  );
  assert.equal(ob.bootImage?.osVersion, 'v1.0.0');
  assert.equal(ob.configurationHandling, 'replace');
  assert.equal(ob.bootImage?.imageVerification[0]?.hashValue.length, 8);
  for (const f of ['ownershipCertificate.pem', 'trustAnchorCertificate.pem']) {
    const ders = fromPemAll(
      readFileSync(join('../shared/fixtures/sztp/open-sztp', f), 'utf8'),
      'CERTIFICATE',
    );
    assert.equal(ders.length, 1);
    assert.ok(parseCert(ders[0]!).notAfter instanceof Date);
  }
});
