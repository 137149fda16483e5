/** The queue-message contract for blob attachments (streaming them from Azurite: test/integration/delivery/attachmentBlobs.test.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseQueueMessage } from '../../../src/message/validate';
import type { MailSettings } from '../../../src/settings';

const mail: MailSettings = { user: 'relay@example.com', from: 'relay@example.com', allowedFrom: [], maxRecipients: 500 };
const message = (attachments: unknown[]) => parseQueueMessage({ to: 'a@example.net', text: 'x', attachments }, mail);

describe('the contract for blob attachments', () => {
  const problems = (attachments: unknown[]) => {
    try {
      message(attachments);
      return [];
    } catch (error) {
      return ((error as { problems?: Array<{ path: string; problem: string }> }).problems ?? []).map((item) => `${item.path} ${item.problem}`);
    }
  };
  it('needs exactly one of content and blob', () => {
    assert.match(problems([{ filename: 'a', content: 'aGk=', blob: 'a' }]).join('\n'), /exactly one of "content".*"blob"/);
    assert.match(problems([{ filename: 'a' }]).join('\n'), /exactly one of "content".*"blob"/);
  });
  it('refuses blob names that climb out of the container or carry control characters', () => {
    for (const blob of ['/etc/passwd', '../secret', 'a/../b', 'a\\b', 'line\nbreak', '']) {
      assert.ok(problems([{ filename: 'a', blob }]).length > 0, JSON.stringify(blob));
    }
    assert.deepEqual(problems([{ filename: 'a', blob: 'orders/2026/11/invoice 42.pdf' }]), []);
  });
});
