import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidMessageError, parseRoutedMessage, type SenderRouting } from '../../../src/message/validate';

const ROUTING: SenderRouting = {
  defaultId: 'default',
  senders: [
    { id: 'default', from: 'relay@contoso.com', allowedFrom: ['alerts@contoso.com'], maxRecipients: 500 },
    { id: 'billing', from: 'billing@fabrikam.com', allowedFrom: ['billing@fabrikam.com', 'invoices@fabrikam.com'], maxRecipients: 2 },
  ],
};

function route(message: Record<string, unknown>): { sender: string; from: string } {
  const { message: parsed, sender } = parseRoutedMessage(message, ROUTING);
  return { sender, from: parsed.from.address };
}

function refusal(message: Record<string, unknown>): InvalidMessageError {
  try {
    parseRoutedMessage(message, ROUTING);
  } catch (error) {
    assert.ok(error instanceof InvalidMessageError, String(error));
    return error;
  }
  assert.fail('the message was accepted');
}

describe('routing a message to its sender', () => {
  it("takes the sender the message names, with that sender's default From", () => {
    assert.deepEqual(route({ sender: 'billing', to: 'ada@example.com', text: 'x' }), { sender: 'billing', from: 'billing@fabrikam.com' });
    assert.deepEqual(route({ sender: 'default', to: 'ada@example.com', text: 'x' }), { sender: 'default', from: 'relay@contoso.com' });
  });

  it('takes the one sender whose From addresses include "from" (case-insensitively), else the default sender', () => {
    assert.deepEqual(route({ from: 'Invoices@Fabrikam.com', to: 'ada@example.com', text: 'x' }), { sender: 'billing', from: 'Invoices@Fabrikam.com' });
    assert.deepEqual(route({ from: 'Alerts <alerts@contoso.com>', to: 'ada@example.com', text: 'x' }), { sender: 'default', from: 'alerts@contoso.com' });
    assert.deepEqual(route({ to: 'ada@example.com', text: 'x' }), { sender: 'default', from: 'relay@contoso.com' });
  });

  it("applies the chosen sender's own recipient limit", () => {
    const error = refusal({ sender: 'billing', to: ['a@example.com', 'b@example.com', 'c@example.com'], text: 'x' });
    assert.equal(error.reason, 'too_many_recipients');
    assert.equal(route({ to: ['a@example.com', 'b@example.com', 'c@example.com'], text: 'x' }).sender, 'default');
  });

  it('refuses an unknown sender, a From of no sender and a From the named sender may not use: sender_not_allowed', () => {
    const unknown = refusal({ sender: 'payroll', to: 'ada@example.com', text: 'x' });
    assert.equal(unknown.reason, 'sender_not_allowed');
    assert.deepEqual(unknown.problems, [{ path: '$.sender', problem: 'payroll is not a sender of this relay' }]);
    assert.match(unknown.remedy ?? '', /RELAY_SENDERS/);

    const nobody = refusal({ from: 'ceo@contoso.com', to: 'ada@example.com', text: 'x' });
    assert.equal(nobody.reason, 'sender_not_allowed');
    assert.deepEqual(nobody.problems, [
      { path: '$.from', problem: 'ceo@contoso.com is a From address of no sender (MAIL_FROM, MAIL_ALLOWED_FROM, RELAY_SENDERS)' },
    ]);

    const crossed = refusal({ sender: 'billing', from: 'alerts@contoso.com', to: 'ada@example.com', text: 'x' });
    assert.equal(crossed.reason, 'sender_not_allowed');
    assert.deepEqual(crossed.problems, [{ path: '$.from', problem: 'alerts@contoso.com is not a From address of sender billing' }]);
  });

  it('refuses a sender field off the contract (shape, length) as invalid_message', () => {
    for (const sender of ['Billing', 'a'.repeat(33), '-x', 'x y', 7]) {
      const error = refusal({ sender, to: 'ada@example.com', text: 'x' });
      assert.equal(error.reason, 'invalid_message', String(sender));
      assert.equal(error.problems[0]!.path, '$.sender');
    }
  });
});
