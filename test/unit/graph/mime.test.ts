import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { MIME_LIMIT, UPLOAD_THRESHOLD, composeMime, planOf } from '../../../src/graph/mime';

const sized = (size: number) => Object.assign(Readable.from([]), { size });

describe('the Graph MIME and its plan', () => {
  it('keeps a small message whole for sendMail, Bcc in the headers and the Message-ID given', async () => {
    const mail = { from: 'a@example.com', to: 'b@example.net', bcc: 'c@example.net', subject: 's', text: 't', messageId: '<id-1@example.com>' };
    assert.deepEqual(planOf(mail).uploads, []);
    const composed = (await composeMime(mail))!;
    const text = composed.mime.toString('utf8');
    assert.match(text, /^Bcc: c@example\.net\r$/m);
    assert.match(text, /^Message-ID: <id-1@example\.com>\r$/m);
    assert.equal(composed.messageId, '<id-1@example.com>');
    assert.deepEqual(composed.envelope.to.sort(), ['b@example.net', 'c@example.net']);
  });

  it('uploads every attachment of 3 MB or more, and the largest others only when the rest does not fit one request', () => {
    const big = { filename: 'big.bin', content: sized(30 * 1024 * 1024) };
    const small = { filename: 'small.txt', content: Buffer.from('x') };
    const plan = planOf({ text: 'x', attachments: [small, big] });
    assert.deepEqual(
      plan.uploads.map((item) => [item.attachment.filename, item.size]),
      [['big.bin', 30 * 1024 * 1024]],
    );
    assert.deepEqual(plan.inline, [small]);
    // Five of 1 MiB (under UPLOAD_THRESHOLD): 1.37 MB each in base64, so two fit one request beside the text.
    const parts = [1, 2, 3, 4, 5].map((i) => ({ filename: `part${i}.bin`, content: sized(2 ** 20) }));
    assert.ok(2 ** 20 < UPLOAD_THRESHOLD);
    const mixed = planOf({ text: 'x', attachments: parts });
    assert.deepEqual([mixed.uploads.length, mixed.inline.length], [3, 2]);
    assert.ok(MIME_LIMIT * (4 / 3) < 4 * 1024 * 1024, 'the base64 of the MIME stays under 4 MB');
  });

  it('refuses to hold a MIME past its limit', async () => {
    assert.equal(await composeMime({ text: 'x'.repeat(10_000) }, 1000), undefined);
  });
});
