import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assessSecret } from '../../../src/monitor';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const DAY = 86_400_000;
const WINDOWS = { warningDays: 30, criticalDays: 7 };

function assess(props: { enabled?: boolean; expiresInDays?: number; version?: string }) {
  return assessSecret(
    'relay-secret',
    {
      version: props.version ?? 'v1',
      enabled: props.enabled ?? true,
      expiresOn: props.expiresInDays === undefined ? undefined : new Date(NOW + props.expiresInDays * DAY),
    },
    NOW,
    WINDOWS,
  );
}

describe('assessSecret', () => {
  const table: Array<{ name: string; props: Parameters<typeof assess>[0]; keys: string[]; severity?: string }> = [
    { name: 'far from expiry', props: { expiresInDays: 31 }, keys: [] },
    { name: 'entering the warning window', props: { expiresInDays: 30 }, keys: ['secret:expiry_warning:v1'], severity: 'warning' },
    { name: 'just outside the critical window', props: { expiresInDays: 7.5 }, keys: ['secret:expiry_warning:v1'], severity: 'warning' },
    { name: 'inside the critical window', props: { expiresInDays: 7 }, keys: ['secret:expiry_critical:v1'], severity: 'critical' },
    { name: 'expired', props: { expiresInDays: -1 }, keys: ['secret:expired:v1'], severity: 'critical' },
    { name: 'no expiry recorded', props: {}, keys: ['secret:no_expiry:v1'], severity: 'warning' },
    { name: 'disabled (wins over expiry)', props: { enabled: false, expiresInDays: 3 }, keys: ['secret:disabled:v1'], severity: 'critical' },
  ];
  for (const row of table) {
    it(row.name, () => {
      const findings = assess(row.props);
      assert.deepEqual(
        findings.map((finding) => finding.key),
        row.keys,
      );
      if (row.severity) assert.equal(findings[0]!.alert.severity, row.severity);
    });
  }

  it('keys the windows by version, so a new version starts over', () => {
    assert.notEqual(assess({ expiresInDays: 10, version: 'v1' })[0]!.key, assess({ expiresInDays: 10, version: 'v2' })[0]!.key);
  });

  it('says how many days are left and what to do', () => {
    const [finding] = assess({ expiresInDays: 12 });
    assert.match(finding!.alert.summary, /expires in 12 days/);
    assert.equal(finding!.alert.details.daysLeft, 12);
    assert.match(finding!.alert.remedy ?? '', /Certificates & secrets/);
  });
});

describe('assessSecret for a client certificate', () => {
  const where = 'Key Vault certificate "relay-cert" in https://v.vault.azure.net';
  const cert = (expiresInDays: number | undefined, enabled = true) =>
    assessSecret(
      'relay-cert',
      { version: 'v1', enabled, expiresOn: expiresInDays === undefined ? undefined : new Date(NOW + expiresInDays * DAY) },
      NOW,
      WINDOWS,
      { kind: 'certificate', where },
    );

  it('same windows and keys as a secret, texts that name the certificate and its renewal', () => {
    assert.deepEqual(cert(31), []);
    const [warning] = cert(20);
    assert.equal(warning!.key, 'secret:expiry_warning:v1');
    assert.match(warning!.alert.summary, /^The client certificate in Key Vault certificate "relay-cert" .* expires in 20 day/);
    assert.match(warning!.alert.remedy!, /Renew the Key Vault certificate/);
    assert.equal(cert(3)[0]!.key, 'secret:expiry_critical:v1');
    assert.equal(cert(-1)[0]!.key, 'secret:expired:v1');
    assert.equal(cert(3, false)[0]!.key, 'secret:disabled:v1');
  });

  it('no "no expiry" warning: a certificate always has its notAfter (the provider gives it)', () => {
    assert.deepEqual(cert(undefined), []);
  });
});
