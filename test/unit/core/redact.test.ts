/**
 * The redactor on hostile text: every pattern in linear time (1 MiB built to make a
 * backtracking pattern quadratic finishes far inside the test timeout), the shapes it masks
 * wherever they stand, and a registered secret masked in every form a server or a library
 * may echo it in.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { forgetSecret, redact, redactKnownSecrets, registerSecret } from '../../../src/core/redact';
import { adversarialTexts, MEASURE_SECRET, MEASURE_TOKEN } from '../../../scripts/redactionWorstCase';

/** Far above the linear time (tens of ms), far below the quadratic one (minutes for 1 MiB). */
const GENEROUS_MS = 10_000;

describe('every redaction pattern runs in linear time', () => {
  registerSecret(MEASURE_SECRET);
  registerSecret(MEASURE_TOKEN);
  for (const [name, text] of Object.entries(adversarialTexts())) {
    test(`1 MiB of ${name}`, () => {
      const started = performance.now();
      const out = redact(text);
      const ms = performance.now() - started;
      assert.ok(ms < GENEROUS_MS, `${Math.round(ms)} ms`);
      assert.ok(out.length <= text.length, 'masking never grows the text');
    });
  }
});

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLXBhcnQ';

describe('shapes masked wherever they stand', () => {
  test('a JWT alone, after text, and inside a run of base64url characters (URL-encoded JSON)', () => {
    assert.equal(redact(`token=${JWT}&x=1`), 'token=[redacted]&x=1');
    assert.equal(redact(`%22access_token%22%3A%22${JWT}%22`), '%22access_token%22%3A%22[redacted]%22');
    assert.equal(redact(`eyJeyJeyJ${JWT}`), '[redacted]', 'from the first eyJ of the run, as before');
    assert.equal(redact('eyJabcd.efgh.'), '[redacted]', 'an empty signature');
    assert.equal(redact(`${JWT}.${JWT}`), '[redacted].[redacted]');
  });

  test('what is not a JWT stays', () => {
    for (const text of ['eyJabc.defg.hij', 'eyJabcd.efg.hij', 'eyJabcd.efgh', 'eyJ'.repeat(50), 'see eyJ or eyJx.y.z']) assert.equal(redact(text), text);
  });

  test('an XOAUTH2 initial response and a bearer token', () => {
    const xoauth2 = Buffer.from(`user=relay@contoso.com\x01auth=Bearer ${JWT}\x01\x01`).toString('base64');
    assert.equal(redact(`AUTH XOAUTH2 ${xoauth2}`), 'AUTH XOAUTH2 [redacted]');
    assert.equal(redact('Authorization: Bearer abc.DEF_ghi-123~'), 'Authorization: Bearer [redacted]');
    assert.equal(redact('a Bearer   token'), 'a Bearer   token', 'shorter than a token');
  });
});

describe('a registered secret in every encoded form', () => {
  const secret = 'Ab8Q~x y"z\\/w+%é.1234567890';
  registerSecret(secret);

  test('raw, URL-encoded (both ways, either hex case) and JSON-escaped', () => {
    const lowerHex = (text: string) => text.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase());
    const uri = encodeURIComponent(secret);
    const form = new URLSearchParams([['', secret]]).toString().slice(1);
    const json = JSON.stringify(secret).slice(1, -1);
    for (const encoded of [secret, uri, lowerHex(uri), form, lowerHex(form), json, json.replace(/\//g, '\\/')]) {
      assert.equal(redact(`<${encoded}>`), '<[redacted]>', encoded);
    }
    assert.equal(redact(new URLSearchParams({ client_id: 'app', client_secret: secret }).toString()), 'client_id=app&client_secret=[redacted]');
    assert.equal(redact(JSON.stringify({ echoed: secret })), '{"echoed":"[redacted]"}');
  });

  test('base64 and base64url at every byte offset inside a longer text: no character that carries its bits is left', () => {
    const bytes = Buffer.from(secret);
    for (let before = 0; before < 6; before++) {
      for (const after of ['', '!', '!t', '!tail']) {
        const plain = Buffer.concat([Buffer.from('x'.repeat(before)), bytes, Buffer.from(after)]);
        for (const encoding of ['base64', 'base64url'] as const) {
          const encoded = plain.toString(encoding);
          const out = redact(`Basic ${encoded} end`);
          assert.ok(out.startsWith('Basic ') && out.endsWith(' end'), out);
          const parts = out.slice(6, -4).split('[redacted]');
          assert.equal(parts.length, 2, `${encoding} after ${before}: ${out}`);
          const [left, right] = parts as [string, string];
          // Character i holds bits 6i..6i+5; those of the secret are bits 8*before..8*(before+length).
          const carries = (i: number) => 6 * i < 8 * (before + bytes.length) && 6 * i + 6 > 8 * before;
          const firstCarrying = [...encoded].findIndex((_, i) => carries(i));
          const lastCarrying = encoded.length - 1 - [...encoded].reverse().findIndex((_, i) => carries(encoded.length - 1 - i));
          assert.ok(encoded.startsWith(left) && left.length <= firstCarrying, `${encoding} after ${before}: ${out}`);
          assert.ok(
            encoded.endsWith(right) && right.replace(/=+$/, '').length <= encoded.replace(/=+$/, '').length - lastCarrying - 1,
            `${encoding} after ${before}: ${out}`,
          );
        }
      }
    }
  });

  test('the original message stays byte for byte except the secret', () => {
    const original = `{"text":"${'é'.repeat(3)} keep\\u0000 this","note":"${encodeURIComponent(secret)}"}`;
    assert.equal(redactKnownSecrets(original), `{"text":"${'é'.repeat(3)} keep\\u0000 this","note":"[redacted]"}`);
    assert.equal(redactKnownSecrets('nothing here'), 'nothing here');
  });

  test('a forgotten secret (a replaced token) is no longer masked; another one still is', () => {
    const token = 'replaced-token-value-0123456789';
    registerSecret(token);
    assert.equal(redact(`${token} ${secret}`), '[redacted] [redacted]');
    forgetSecret(token);
    assert.equal(redact(`${token} ${secret}`), `${token} [redacted]`);
  });

  test('where one secret contains another, the longer one is masked whole', () => {
    registerSecret('outer-secret-0123456789-inner-part');
    registerSecret('inner-part');
    assert.equal(redact('x outer-secret-0123456789-inner-part y inner-part'), 'x [redacted] y [redacted]');
  });
});
