import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, sendersOf, transportOf } from '../../../src/settings';

const BASE = {
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  SMTP_USER: 'relay@contoso.com',
  OAUTH2_TENANT_ID: '7a1c0de0-0000-4000-8000-00000000cafe',
  OAUTH2_CLIENT_ID: '5e4d0000-0000-4000-8000-0000000000a1',
  OAUTH2_CLIENT_SECRET: 'secret~value-for-tests-000000000000000',
};
const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((item) => `${item.setting}: ${item.problem}`);
  }
};

describe('the transport settings', () => {
  it('default to smtp; graph takes its scope from GRAPH_URL (sovereign clouds)', () => {
    assert.equal(transportOf(loadConfig(BASE)), 'smtp');
    const config = loadConfig({ ...BASE, RELAY_TRANSPORT: 'graph', GRAPH_URL: 'https://graph.microsoft.us' });
    assert.deepEqual(config.transport, {
      kind: 'graph',
      graph: {
        url: 'https://graph.microsoft.us',
        scope: 'https://graph.microsoft.us/.default',
        saveToSentItems: true,
        permissionGrant: 'auto',
        concurrency: 4,
        requestTimeoutMs: 120_000,
      },
    });
    assert.equal(transportOf(sendersOf(config)[0]!), 'graph');
  });

  it('read GRAPH_PERMISSION_GRANT for every Graph sender, and refuse a grant model it does not know', () => {
    const senders = JSON.stringify([
      {
        id: 'billing',
        mailbox: 'billing@contoso.com',
        tenant: BASE.OAUTH2_TENANT_ID,
        clientId: BASE.OAUTH2_CLIENT_ID,
        credential: { secretSetting: 'OAUTH2_CLIENT_SECRET' },
        transport: 'graph',
      },
    ]);
    const config = loadConfig({ ...BASE, RELAY_TRANSPORT: 'graph', GRAPH_PERMISSION_GRANT: 'rbac', RELAY_SENDERS: senders });
    assert.equal(config.transport?.graph.permissionGrant, 'rbac');
    assert.equal(config.senders![0]!.transport?.graph.permissionGrant, 'rbac');
    assert.deepEqual(problems({ ...BASE, GRAPH_PERMISSION_GRANT: 'both' }), ['GRAPH_PERMISSION_GRANT: "both" is not one of auto, rbac, entra']);
  });

  it('gives RELAY_SENDERS entries their own transport, or the default one', () => {
    const entry = (extra: Record<string, unknown>) =>
      JSON.stringify([
        {
          id: 'billing',
          mailbox: 'billing@contoso.com',
          tenant: BASE.OAUTH2_TENANT_ID,
          clientId: BASE.OAUTH2_CLIENT_ID,
          credential: { secretSetting: 'OAUTH2_CLIENT_SECRET' },
          ...extra,
        },
      ]);
    const own = loadConfig({ ...BASE, RELAY_SENDERS: entry({ transport: 'smtp-then-graph' }) });
    assert.equal(transportOf(own.senders![0]!), 'smtp-then-graph');
    const inherited = loadConfig({ ...BASE, RELAY_TRANSPORT: 'graph', RELAY_SENDERS: entry({}) });
    assert.equal(transportOf(inherited.senders![0]!), 'graph');
    assert.deepEqual(problems({ ...BASE, RELAY_SENDERS: entry({ transport: 'carrier-pigeon' }) }), [
      'RELAY_SENDERS[0].transport: "carrier-pigeon" is not one of smtp, graph, smtp-then-graph',
    ]);
  });

  it('refuses Graph without Entra ID, and saveToSentItems=false that Graph cannot honour for MIME', () => {
    assert.match(
      problems({ ...BASE, RELAY_TRANSPORT: 'graph', OAUTH2_PROVIDER: 'generic', OAUTH2_TOKEN_URL: 'https://idp.example.com/token' }).join('\n'),
      /RELAY_TRANSPORT: .*Microsoft Entra ID/,
    );
    assert.match(problems({ ...BASE, GRAPH_SAVE_TO_SENT_ITEMS: 'false' }).join('\n'), /GRAPH_SAVE_TO_SENT_ITEMS: false cannot be honoured/);
  });
});
