/** The secret monitor's reading of a Google service account key's Key Vault secret: an expiry only when the organization sets one. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assessSecret } from '../../../src/monitor/assessSecret';

const NOW = Date.parse('2026-12-02T00:00:00Z');
const WINDOWS = { warningDays: 30, criticalDays: 7 };
const KEY = { kind: 'service-account-key' as const, where: 'Key Vault secret "google-key" in https://kv.vault.azure.net (Google service account key)' };

describe('assessSecret for a Google service account key', () => {
  it('no expiry recorded is no alert (Google keys need none), unlike a client secret', () => {
    assert.deepEqual(assessSecret('google-key', { version: 'v1', enabled: true }, NOW, WINDOWS, KEY), []);
    assert.equal(assessSecret('client-secret', { version: 'v1', enabled: true }, NOW, WINDOWS)[0]?.alert.name, 'secret_no_expiry');
  });

  it('warns, then turns critical, before the expiry, with the key renewal remedy', () => {
    const at = (days: number) => assessSecret('google-key', { version: 'v1', enabled: true, expiresOn: new Date(NOW + days * 86_400_000) }, NOW, WINDOWS, KEY);
    const warning = at(20)[0]!;
    assert.equal(warning.key, 'secret:expiry_warning:v1');
    assert.match(warning.alert.summary, /^The Google service account key in Key Vault secret "google-key".* expires in 20 day/);
    assert.match(warning.alert.remedy ?? '', /new key for the service account/);
    assert.equal(at(3)[0]!.key, 'secret:expiry_critical:v1');
    assert.equal(at(-1)[0]!.key, 'secret:expired:v1');
    assert.deepEqual(at(60), []);
  });
});
