import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatedFiles, troubleshootingTable } from '../../../scripts/docs';
import { DIAGNOSES } from '../../../src/core/diagnoses';
import { stepLabel } from '../../../src/core/setupSteps';
import { ConfigError, describeSettings, loadConfig } from '../../../src/settings';
import { PACKAGE_ROOT } from '../../support/paths';

const root = PACKAGE_ROOT;

for (const [file, generate] of Object.entries(generatedFiles)) {
  test(`${file} is up to date with describeSettings() (run npm run docs)`, () => {
    assert.equal(readFileSync(join(root, file), 'utf8'), generate());
  });
}

test('local.settings.json.example explains every setting in one line', () => {
  const example = JSON.parse(readFileSync(join(root, 'local.settings.json.example'), 'utf8'));
  for (const setting of describeSettings()) {
    const line = example.SettingDescriptions[setting.name];
    assert.ok(typeof line === 'string' && line.length > 10 && !line.includes('\n'), setting.name);
  }
});

test('the example settings load once the placeholders are filled, and until then each placeholder is named', () => {
  const values = JSON.parse(readFileSync(join(root, 'local.settings.json.example'), 'utf8')).Values as Record<string, string>;
  const placeholders = Object.keys(values)
    .filter((name) => values[name]!.startsWith('<'))
    .sort();
  assert.deepEqual(placeholders, ['OAUTH2_CLIENT_ID', 'OAUTH2_CLIENT_SECRET', 'OAUTH2_TENANT_ID', 'SMTP_USER']);
  assert.throws(
    () => loadConfig(values),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      // A secret has no shape to check (only a GUID, the secret's ID, is refused), so its placeholder passes.
      const named = [...new Set(error.problems.map((problem) => problem.setting))].sort();
      assert.deepEqual(
        named,
        placeholders.filter((name) => name !== 'OAUTH2_CLIENT_SECRET'),
      );
      return true;
    },
  );
  const config = loadConfig({
    ...values,
    OAUTH2_TENANT_ID: '7a1c0de0-0000-4000-8000-00000000cafe',
    OAUTH2_CLIENT_ID: '5e4d0000-0000-4000-8000-0000000000a1',
    OAUTH2_CLIENT_SECRET: 'Zq8Q~example-secret-value',
    SMTP_USER: 'relay@contoso.com',
  });
  assert.equal(config.smtp.host, 'smtp.office365.com');
  assert.equal(config.mail.from, 'relay@contoso.com');
});

test('the README troubleshooting table has one row per diagnosis, with its setup steps and fix', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const table = troubleshootingTable();
  assert.ok(readme.includes(table), 'the README holds the generated table');
  const rows = table.split('\n').slice(2);
  assert.equal(rows.length, Object.keys(DIAGNOSES).length);
  for (const [index, entry] of Object.values(DIAGNOSES).entries()) {
    const row = rows[index]!;
    for (const step of entry.steps) assert.ok(row.includes(stepLabel(step)), `${entry.symptom}: ${stepLabel(step)}`);
    assert.ok(row.includes(entry.fix.replace(/\|/g, '\\|')), entry.symptom);
  }
});
