import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RelayError } from '../../../src/core/errors';
import type { MailSender } from '../../../src/smtp';
import { fallbackSender } from '../../../src/throttle/fallbackSender';

const zero = { messagesSent: 0, connectionsOpened: 0, authentications: 0, tokenRetries: 0 };
function fake(name: string, failure?: () => RelayError | undefined): MailSender & { sends: number } {
  const sender = {
    sends: 0,
    stats: zero,
    async send() {
      sender.sends++;
      const error = failure?.();
      if (error) throw error;
      return {
        messageId: name,
        response: `250 ${name}`,
        accepted: ['x@example.net'],
        rejected: [],
        envelope: { from: 'a@example.com', to: ['x@example.net'] },
      };
    },
    async verify() {},
    close() {},
  };
  return sender;
}
const disabled = () => new RelayError('SMTP AUTH disabled', { reason: 'smtp_auth_disabled', kind: 'configuration', providerReply: '535 5.7.139 disabled' });

describe('fallbackSender (smtp-then-graph)', () => {
  it('switches on 535 5.7.139 for that message and the next ones, warns once per switch, and tries SMTP again after the sticky time', async () => {
    let clock = 0;
    let smtpDisabled = true;
    const warnings: Array<Record<string, unknown> | undefined> = [];
    const smtp = fake('smtp', () => (smtpDisabled ? disabled() : undefined));
    const graph = fake('graph');
    const sender = fallbackSender({
      primary: smtp,
      fallback: graph,
      senderId: 'billing',
      now: () => clock,
      retryPrimaryAfterMs: 1000,
      logger: { info() {}, warn: (_m, props) => void warnings.push(props), error() {} },
    });
    assert.equal((await sender.send({})).messageId, 'graph');
    assert.equal((await sender.send({})).messageId, 'graph');
    assert.deepEqual([smtp.sends, graph.sends, warnings.length], [1, 2, 1]);
    assert.equal(warnings[0]!.event, 'relay.transport_fallback');
    assert.equal(warnings[0]!.sender, 'billing');
    assert.equal(warnings[0]!.reply, '535 5.7.139 disabled');
    clock = 1000;
    smtpDisabled = false;
    assert.equal((await sender.send({})).messageId, 'smtp');
    assert.equal(sender.usingFallback, false);
  });

  it('never switches on another failure (a refusal after DATA stays the SMTP failure)', async () => {
    const after = new RelayError('552 after DATA', { reason: 'message_too_large', kind: 'permanent' });
    const graph = fake('graph');
    const sender = fallbackSender({ primary: fake('smtp', () => after), fallback: graph, senderId: 'default' });
    await assert.rejects(sender.send({}), (error) => error === after);
    assert.equal(graph.sends, 0);
  });
});
