/** What the host-free HTTP handlers (src/http) work with, from the process's components. */
import type { TestSendDependencies } from '../http/testSend';
import type { RelayComponents } from './components';
import { senderDirectory } from './relay';

/** /api/send: the settings, senders and attachment reader of `load()`, and its storage account's queues for mode=enqueue. */
export function testSendDependencies(load: () => RelayComponents): TestSendDependencies {
  const createdQueues = new Set<string>();
  return {
    relay() {
      const { config, sender, attachments, senders } = load();
      return { config, sender, attachments, senders: senderDirectory(senders) };
    },
    async enqueue(queueName, text) {
      const queue = load().storage.queues.getQueueClient(queueName);
      if (!createdQueues.has(queueName)) {
        await queue.createIfNotExists();
        createdQueues.add(queueName);
      }
      // Plain JSON text: host.json reads queue messages with messageEncoding "none", and the relay also accepts base64.
      const sent = await queue.sendMessage(text);
      return { messageId: sent.messageId };
    },
  };
}
