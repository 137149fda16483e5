/**
 * infra/ cannot drift from the code. The templates are read with the test's Bicep reader (test/support/bicep.ts:
 * the Bicep CLI is not available here), evaluated for the deployment modes they support, and the app settings
 * the Function App would get are handed to the relay's own loadConfig — so "every setting the relay requires
 * is set" is decided by the code that requires it, not by a list kept beside it. Then the names the template
 * creates (queues, containers, secrets) are compared with the names it passes as settings, and the role
 * assignments with what the code does with each resource.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type RelayConfig } from '../../../src/settings';
import { SETTING_NAMES, settingSpec, type SettingName } from '../../../src/settings/spec';
import { BicepFile, type Evaluation } from '../../support/bicep';
import { PACKAGE_ROOT } from '../../support/paths';

const INFRA = join(PACKAGE_ROOT, 'infra');
const main = BicepFile.read(join(INFRA, 'main.bicep'));
const relayApp = BicepFile.read(join(INFRA, 'app', 'relay.bicep'));
const rbac = BicepFile.read(join(INFRA, 'app', 'rbac.bicep'));
const parameterFile = JSON.parse(readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')) as { parameters: Record<string, { value: unknown }> };
const hostJson = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'host.json'), 'utf8')) as { extensions: { queues: { maxDequeueCount: number } } };

/**
 * Microsoft's built-in role definition IDs (learn.microsoft.com/azure/role-based-access-control/built-in-roles,
 * sections storage, security and monitor); written here from the documentation, not copied from rbac.bicep.
 */
const BUILT_IN_ROLES = {
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  'Storage Blob Data Contributor': 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  'Storage Queue Data Message Sender': 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a',
  'Key Vault Secrets User': '4633458b-17de-408a-b874-0445c86b69e6',
  'Key Vault Secrets Officer': 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
  'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
} as const;
type RoleName = keyof typeof BUILT_IN_ROLES;

/** Settings of the spec the template leaves out on purpose, and why (main.bicep says the same above appSettings). */
const NOT_DEPLOYED: Partial<Record<SettingName, string>> = {
  OAUTH2_CLIENT_SECRET: 'the secret lives in Key Vault only',
  SMTP_PASSWORD: 'password SMTP AUTH is not deployed',
  OAUTH2_ENABLED: 'always OAuth2 (the default)',
  TLS_EXTRA_CA_FILE: 'a file path on the machine, not a deployment value',
  SMTP_RATE_LIMIT_WINDOW_SECONDS: 'Exchange counts a minute: a shorter window is for scaled-down tests and benchmarks',
  SMTP_DAILY_RECIPIENT_WINDOW_SECONDS: 'Exchange counts a rolling day: a shorter one is for scaled-down tests and benchmarks',
  OAUTH2_CLIENT_CERTIFICATE_PATH: 'a file path on the machine (local runs): in Azure the certificate is read from Key Vault',
  AzureWebJobsStorage: 'identity-based storage: no connection string',
  AzureWebJobsStorage__accountName: 'the service URIs are set instead',
  OAUTH2_SERVICE_ACCOUNT_KEY: 'the Google key lives in Key Vault only',
  OAUTH2_SERVICE_ACCOUNT_KEY_NAME: 'the template deploys Microsoft senders; a Google sender is set up with setup --provider google (README: Google Workspace)',
};
/** App settings the Functions host (not the relay) reads. */
const HOST_SETTINGS = ['AzureWebJobsStorage__credential', 'APPLICATIONINSIGHTS_CONNECTION_STRING', 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'];
/** Settings Flex Consumption refuses or takes from functionAppConfig instead. */
const FLEX_DEPRECATED = ['FUNCTIONS_WORKER_RUNTIME', 'FUNCTIONS_EXTENSION_VERSION', 'WEBSITE_RUN_FROM_PACKAGE', 'WEBSITE_NODE_DEFAULT_VERSION'];

const TENANT = '7a1c0de0-0000-4000-8000-00000000cafe';
const CLIENT_ID = '5e4d0000-0000-4000-8000-0000000000a1';
const IDENTITY_CLIENT_ID = '0b1d0000-0000-4000-8000-0000000000c1';
const IDENTITY_PRINCIPAL_ID = '0b1d0000-0000-4000-8000-0000000000e1';
const PRODUCERS = ['aaaa0000-0000-4000-8000-000000000001', 'aaaa0000-0000-4000-8000-000000000002'];
const WEBHOOK = 'https://contoso.webhook.office.com/webhookb2/hook-that-is-a-secret';

/** What azd would pass: the required parameters; everything else from the template's defaults unless a test says. */
const REQUIRED = { environmentName: 'relay-prod', location: 'westeurope', oauth2TenantId: TENANT, oauth2ClientId: CLIENT_ID, smtpUser: 'relay@contoso.com' };
/** Outputs of the Azure Verified Modules that the settings carry. */
const OUTPUTS = {
  'identity.clientId': IDENTITY_CLIENT_ID,
  'identity.principalId': IDENTITY_PRINCIPAL_ID,
  'appInsights.connectionString':
    'InstrumentationKey=00000000-0000-4000-8000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/',
};

interface Deployment {
  main: Evaluation;
  /** The app settings the Function App gets, as relay.bicep writes them. */
  settings: Record<string, string>;
  site: Record<string, unknown>;
  storage: StorageParams;
}

interface StorageParams {
  name: string;
  queueServices: { queues: Array<{ name: string }> };
  blobServices: { containers: Array<{ name: string }> };
  managementPolicyRules: Array<{ name: string; definition: { filters: { prefixMatch: string[] } } }>;
}

function moduleParams(evaluation: Evaluation, file: BicepFile, name: string): Record<string, unknown> {
  const [body] = evaluation.bodies(file.declaration('module', name));
  assert.ok(body, `module ${name} is not deployed`);
  return body.params as Record<string, unknown>;
}

function deploy(params: Record<string, unknown> = {}): Deployment {
  const evaluation = main.evaluate({ ...REQUIRED, ...params }, OUTPUTS);
  // main.bicep hands its settings to app/relay.bicep, which drops the empty ones and gives the rest to the site.
  const app = relayApp.evaluate(moduleParams(evaluation, main, 'relay'), {});
  const site = moduleParams(app, relayApp, 'site');
  const configs = site.configs as Array<{ name: string; retainCurrentAppSettings: boolean; properties: Record<string, unknown> }>;
  const appsettings = configs.find((config) => config.name === 'appsettings');
  assert.ok(appsettings, 'relay.bicep passes no appsettings config to the site module');
  assert.equal(appsettings.retainCurrentAppSettings, false, 'settings removed from the template must be removed from the app');
  const settings: Record<string, string> = {};
  for (const [key, value] of Object.entries(appsettings.properties)) {
    assert.equal(typeof value, 'string', `app setting ${key} must be a string, is ${JSON.stringify(value)}`);
    settings[key] = value as string;
  }
  return { main: evaluation, settings, site, storage: moduleParams(evaluation, main, 'storage') as unknown as StorageParams };
}

/** The Functions platform resolves a Key Vault reference before the app reads it: here, from the secrets the template stores. */
function resolveKeyVaultReferences(deployment: Deployment): Record<string, string> {
  const vault = moduleParams(deployment.main, main, 'keyVault') as { name: string; secrets: Array<{ name: string; value: string }> };
  return Object.fromEntries(
    Object.entries(deployment.settings).map(([key, value]) => {
      const reference = /^@Microsoft\.KeyVault\(VaultName=([^;]+);SecretName=([^;)]+)\)$/.exec(value);
      if (!reference) return [key, value];
      assert.equal(reference[1], vault.name, `${key} refers to another vault than the one the template makes`);
      const secret = vault.secrets.find((item) => item.name === reference[2]);
      assert.ok(secret, `${key} refers to secret ${reference[2] ?? ''}, which the template does not store`);
      return [key, secret.value];
    }),
  );
}

function loadDeployed(deployment: Deployment): RelayConfig {
  return loadConfig(resolveKeyVaultReferences(deployment), () => {
    throw new Error('the deployed settings name no file');
  });
}

/** SMTP_HOST -> smtpHost: the parameter a relay setting comes from (main.bicep's rule). */
function camelCase(setting: string): string {
  const words = setting.toLowerCase().split('_').filter(Boolean);
  return words.map((word, index) => (index === 0 ? word : word.charAt(0).toUpperCase() + word.slice(1))).join('');
}

describe('infra: the deployed app settings are a configuration the relay accepts', () => {
  it('secret mode: the client secret is read from the template’s Key Vault with the user-assigned identity', () => {
    const deployment = deploy();
    const config = loadDeployed(deployment);
    assert.equal(config.auth.kind, 'clientSecret');
    assert.ok(config.auth.kind === 'clientSecret' && config.auth.source.kind === 'keyVault', 'the secret must come from Key Vault');
    const vaultName = deployment.main.expression('names.keyVault');
    assert.deepEqual(config.auth.source.keyVault, {
      vaultUrl: `https://${String(vaultName)}.vault.azure.net`,
      secretName: 'smtp-relay-client-secret',
      cacheMs: 3600_000,
      managedIdentityClientId: IDENTITY_CLIENT_ID,
    });
    assert.equal(deployment.settings.OAUTH2_CLIENT_SECRET, undefined);
    assert.equal(config.mail.user, 'relay@contoso.com');
  });

  it('federation mode: no secret and no vault, the user-assigned identity signs in for the app registration', () => {
    const deployment = deploy({ oauth2AuthMode: 'managed-identity-federation' });
    const config = loadDeployed(deployment);
    assert.equal(config.auth.kind, 'federation');
    assert.ok(config.auth.kind === 'federation');
    assert.equal(config.auth.federation.managedIdentityClientId, IDENTITY_CLIENT_ID);
    assert.equal(deployment.settings.KEYVAULT_URL, undefined);
    assert.equal(deployment.settings.OAUTH2_CLIENT_SECRET_NAME, undefined);
  });

  it('certificate mode: the certificate is read from the template’s Key Vault (its secret) with the user-assigned identity, which may read it', () => {
    const deployment = deploy({ oauth2AuthMode: 'certificate' });
    const config = loadDeployed(deployment);
    assert.ok(config.auth.kind === 'certificate' && config.auth.source.kind === 'keyVault', 'the certificate must come from Key Vault');
    assert.equal(config.auth.source.keyVault.secretName, 'smtp-relay-client-certificate');
    assert.equal(config.auth.source.keyVault.managedIdentityClientId, IDENTITY_CLIENT_ID);
    assert.equal(deployment.settings.OAUTH2_CLIENT_SECRET_NAME, undefined);
    const vaultRoles = assignmentsOf(deployment).filter((item) => item.principal === IDENTITY_PRINCIPAL_ID && item.role.startsWith('Key Vault'));
    assert.deepEqual(
      vaultRoles.map((item) => item.role),
      ['Key Vault Secrets User'],
    );
  });

  it('rotation and an alert webhook: accepted, and the webhook is a Key Vault reference to the secret the template stores', () => {
    const deployment = deploy({ rotationEnabled: true, alertWebhookUrl: WEBHOOK });
    assert.match(deployment.settings.ALERT_WEBHOOK_URL ?? '', /^@Microsoft\.KeyVault\(/);
    assert.ok(!Object.values(deployment.settings).includes(WEBHOOK), 'the webhook URL itself must not be an app setting');
    const config = loadDeployed(deployment);
    assert.equal(config.monitor.rotation.enabled, true);
    assert.equal(config.monitor.alertWebhookUrl, WEBHOOK);
  });

  it('more instances: the mailbox’s whole limits, held for all instances together through the coordination container', () => {
    const config = loadDeployed(deploy({ maximumInstanceCount: 3 }));
    assert.equal(config.smtp.limitsScope, 'app');
    assert.equal(config.smtp.rateLimitPerMinute, 30);
    assert.equal(config.smtp.poolSize, 3);
    assert.equal(config.smtp.dailyRecipientLimit, 10_000);
    assert.equal(config.queue.coordinationContainerName, 'relay-coordination');
  });

  it('the storage connection is identity-based and complete for the host and the relay: URIs of the template’s account, the user-assigned identity', () => {
    const deployment = deploy();
    const account = deployment.storage.name;
    assert.equal(deployment.settings.AzureWebJobsStorage__credential, 'managedidentity');
    assert.equal(deployment.settings.AzureWebJobsStorage__clientId, IDENTITY_CLIENT_ID);
    assert.equal(deployment.settings.AzureWebJobsStorage__queueServiceUri, `https://${account}.queue.core.windows.net`);
    assert.equal(deployment.settings.AzureWebJobsStorage__blobServiceUri, `https://${account}.blob.core.windows.net`);
    assert.equal(deployment.settings.AzureWebJobsStorage, undefined, 'no connection string (shared keys are off)');
    assert.deepEqual(loadDeployed(deployment).queue.connection, {
      kind: 'identity',
      queueServiceUri: `https://${account}.queue.core.windows.net`,
      blobServiceUri: `https://${account}.blob.core.windows.net`,
      clientId: IDENTITY_CLIENT_ID,
    });
  });

  it('Application Insights is reached with Microsoft Entra auth as the user-assigned identity', () => {
    const { settings } = deploy();
    assert.equal(settings.APPLICATIONINSIGHTS_CONNECTION_STRING, OUTPUTS['appInsights.connectionString']);
    assert.equal(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING, `ClientId=${IDENTITY_CLIENT_ID};Authorization=AAD`);
  });
});

describe('infra: setting names, parameters and defaults match the settings spec', () => {
  const keys = main.objectKeys('appSettings');

  it('every app setting in the template is a setting the relay or the host reads (no typo), and none is deprecated on Flex', () => {
    const known = new Set<string>([...SETTING_NAMES, ...HOST_SETTINGS]);
    assert.deepEqual(
      keys.filter((key) => !known.has(key)),
      [],
    );
    assert.deepEqual(
      keys.filter((key) => FLEX_DEPRECATED.includes(key)),
      [],
    );
  });

  it('every relay setting is in the template, or left out on purpose', () => {
    assert.deepEqual(
      SETTING_NAMES.filter((name) => !keys.includes(name) && NOT_DEPLOYED[name] === undefined),
      [],
    );
    assert.deepEqual(
      Object.keys(NOT_DEPLOYED).filter((name) => keys.includes(name)),
      [],
      'a setting listed as left out is in the template',
    );
  });

  it('no secret setting is written into the template in clear', () => {
    const { settings } = deploy({ alertWebhookUrl: WEBHOOK });
    const secretsInClear = SETTING_NAMES.filter((name) => settingSpec(name).secret === 'value' && name in settings).filter(
      (name) => !(settings[name] ?? '').startsWith('@Microsoft.KeyVault('),
    );
    assert.deepEqual(secretsInClear, []);
  });

  it('a setting taken straight from a parameter comes from camelCase(setting), which main.parameters.json maps to the azd variable of the same name', () => {
    const appSettings = main.declaration('var', 'appSettings').value ?? '';
    const direct = [...appSettings.matchAll(/^\s+(\w+):\s*([A-Za-z_]\w*)\s*$/gm)].map(([, key, value]) => ({ key: key ?? '', value: value ?? '' }));
    assert.ok(direct.length > 30, `the reader found only ${direct.length} settings taken from a parameter`);
    const params = new Set(main.ofKind('param').map((param) => param.name));
    const computed = new Set(main.ofKind('var').map((item) => item.name));
    assert.deepEqual(
      direct.filter(({ value }) => !params.has(value) && !computed.has(value)),
      [],
      'a setting names neither a param nor a var',
    );
    const mismatched = direct
      .filter(({ key, value }) => SETTING_NAMES.includes(key as SettingName) && params.has(value))
      .filter(({ key, value }) => value !== camelCase(key) || parameterFile.parameters[value]?.value !== `\${${key}}`);
    assert.deepEqual(mismatched, []);
  });

  it('main.parameters.json maps exactly the parameters main.bicep declares', () => {
    const declared = main.ofKind('param').map((param) => param.name);
    assert.deepEqual(Object.keys(parameterFile.parameters).sort(), [...declared].sort());
  });

  it('each relay parameter defaults to the relay’s own default, or to empty (the setting is then left out); the required ones have none', () => {
    const defaults = deploy().main;
    const drift: string[] = [];
    for (const name of SETTING_NAMES) {
      const param = main.declarations.find((item) => item.kind === 'param' && item.name === camelCase(name));
      if (!param) continue;
      if (name === 'SMTP_USER' || name === 'OAUTH2_TENANT_ID' || name === 'OAUTH2_CLIENT_ID') {
        if (param.value !== undefined) drift.push(`${param.name} has a default, but the deployment requires ${name}`);
        continue;
      }
      // The Key Vault names have no relay default; the template names the secret (or certificate) setup stores.
      if (name === 'OAUTH2_CLIENT_SECRET_NAME' || name === 'OAUTH2_CLIENT_CERTIFICATE_NAME') continue;
      const value = defaults.value(param.name);
      if (value === '') continue;
      const preset = settingSpec(name).default;
      const relayDefault = preset === undefined || typeof preset === 'object' ? undefined : String(preset);
      if (String(value) !== relayDefault)
        drift.push(`${param.name} = ${JSON.stringify(value)}, the relay's default is ${JSON.stringify(relayDefault ?? 'computed')}`);
    }
    assert.deepEqual(drift, []);
  });

  it('RELAY_MAX_DEQUEUE_COUNT equals host.json extensions.queues.maxDequeueCount', () => {
    assert.equal(deploy().settings.RELAY_MAX_DEQUEUE_COUNT, String(hostJson.extensions.queues.maxDequeueCount));
  });

  it('the app runs Node.js 22 (package.json engines), one instance by default', () => {
    const { site } = deploy();
    const config = site.functionAppConfig as { runtime: { name: string; version: string }; scaleAndConcurrency: { maximumInstanceCount: number } };
    assert.deepEqual({ ...config.runtime }, { name: 'node', version: '22' });
    const engines = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    assert.match(engines, /^>=22 <23$/);
    assert.equal(config.scaleAndConcurrency.maximumInstanceCount, 1);
  });
});

describe('infra: the queues, containers and secrets it creates are the ones its settings name', () => {
  const custom = {
    relayQueueName: 'billing-mail',
    relayDeadletterQueueName: 'billing-mail-dead',
    relayDeadletterContainer: 'billing-dead',
    relayAttachmentContainer: 'billing-files',
    relayLedgerContainer: 'billing-ledger',
    monitorStateContainer: 'billing-monitor',
    relayCoordinationContainer: 'billing-coordination',
  };

  for (const [label, params] of [
    ['default names', {}],
    ['names chosen by the operator', custom],
  ] as const) {
    it(`${label}: queues (with the host's -poison queue) and containers`, () => {
      const deployment = deploy(params);
      const config = loadDeployed(deployment);
      const queues = deployment.storage.queueServices.queues.map((queue) => queue.name).sort();
      assert.deepEqual(queues, [config.queue.queueName, `${config.queue.queueName}-poison`, config.queue.deadLetterQueueName].sort());
      const deploymentContainer = String(deployment.main.value('deploymentContainerName'));
      const containers = deployment.storage.blobServices.containers.map((container) => container.name).sort();
      assert.deepEqual(
        containers,
        [
          deploymentContainer,
          config.queue.ledgerContainerName,
          config.queue.deadLetterContainerName,
          config.queue.attachmentContainerName,
          config.monitor.stateContainer,
          config.queue.coordinationContainerName,
        ].sort(),
      );
      // Flex Consumption reads the package from that container of the same account.
      const storage = (deployment.site.functionAppConfig as { deployment: { storage: { value: string } } }).deployment.storage;
      assert.equal(storage.value, `https://${deployment.storage.name}.blob.core.windows.net/${deploymentContainer}`);
    });
  }

  it('lifecycle rules expire attachments and ledger entries, never dead letters', () => {
    const deployment = deploy(custom);
    const prefixes = deployment.storage.managementPolicyRules.flatMap((rule) => rule.definition.filters.prefixMatch).sort();
    assert.deepEqual(prefixes, [`${custom.relayAttachmentContainer}/`, `${custom.relayLedgerContainer}/`].sort());
  });

  it('the Key Vault secret: the app reads the name the template passes, in the vault it creates', () => {
    const deployment = deploy({ oauth2ClientSecretName: 'relay-secret' });
    assert.equal(deployment.settings.OAUTH2_CLIENT_SECRET_NAME, 'relay-secret');
    const vault = moduleParams(deployment.main, main, 'keyVault') as { name: string; enableRbacAuthorization: boolean; enablePurgeProtection: boolean };
    assert.equal(deployment.settings.KEYVAULT_URL, `https://${vault.name}.vault.azure.net`);
    assert.equal(vault.enableRbacAuthorization, true);
    assert.equal(vault.enablePurgeProtection, true);
  });
});

interface Assignment {
  principal: string;
  role: RoleName;
  scope: string;
}

/** The role assignments rbac.bicep makes for one deployment of main.bicep. */
function assignmentsOf(deployment: Deployment): Assignment[] {
  const roles = rbac.evaluate(moduleParams(deployment.main, main, 'rbac'), {});
  const byGuid = new Map<string, RoleName>(Object.entries(BUILT_IN_ROLES).map(([name, guid]) => [guid, name as RoleName]));
  const found: Assignment[] = [];
  for (const declaration of rbac.resourcesOfType('Microsoft.Authorization/roleAssignments')) {
    for (const body of roles.bodies(declaration)) {
      const properties = body.properties as { roleDefinitionId: string; principalId: string };
      const guid = properties.roleDefinitionId.split('/').pop() ?? '';
      const role = byGuid.get(guid);
      assert.ok(role, `${declaration.name} assigns role ${guid}, which is none of the documented built-in roles`);
      assert.match(properties.roleDefinitionId, /^\/subscriptions\/<subscription>\/providers\/Microsoft\.Authorization\/roleDefinitions\//);
      found.push({ principal: properties.principalId, role, scope: (body.scope as { id: string }).id });
    }
  }
  return found;
}

function scopes(deployment: Deployment) {
  const account = `Microsoft.Storage/storageAccounts/${deployment.storage.name}`;
  const config = loadDeployed(deployment);
  const container = (name: string) => `${account}/blobServices/default/containers/${name}`;
  return {
    account,
    queue: `${account}/queueServices/default/queues/${config.queue.queueName}`,
    containers: [
      container(String(deployment.main.value('deploymentContainerName'))),
      container(config.queue.ledgerContainerName),
      container(config.queue.deadLetterContainerName),
      container(config.queue.attachmentContainerName),
      container(config.monitor.stateContainer),
    ],
    attachments: container(config.queue.attachmentContainerName),
    vault: `Microsoft.KeyVault/vaults/${String(deployment.main.expression('names.keyVault'))}`,
    appInsights: `Microsoft.Insights/components/${String(deployment.main.expression('names.appInsights'))}`,
  };
}

/** Whether an assignment on `scope` reaches `resource` (the resource itself or anything below it). */
function reaches(scope: string, resource: string): boolean {
  return resource === scope || resource.startsWith(`${scope}/`);
}

function rolesOf(assignments: Assignment[], principal: string): string[] {
  return assignments
    .filter((item) => item.principal === principal)
    .map((item) => `${item.role} @ ${item.scope}`)
    .sort();
}

describe('infra: every role the code needs is assigned, and no more', () => {
  it('rbac.bicep names each built-in role by its documented GUID', () => {
    const roles = deploy().main;
    const rbacRoles = rbac.evaluate(moduleParams(roles, main, 'rbac'), {}).value('roles') as Record<string, string>;
    const expected = Object.fromEntries(Object.entries(BUILT_IN_ROLES).map(([name, guid]) => [camelCase(name.replaceAll(' ', '_')), guid] as const));
    assert.deepEqual({ ...rbacRoles }, expected);
  });

  it('secret mode: the app identity gets queue and blob data roles covering every queue and container, Secrets User on the vault, Metrics Publisher on Application Insights', () => {
    const deployment = deploy();
    const where = scopes(deployment);
    const assignments = assignmentsOf(deployment);
    const app = assignments.filter((item) => item.principal === IDENTITY_PRINCIPAL_ID);
    assert.deepEqual(rolesOf(assignments, IDENTITY_PRINCIPAL_ID), [
      `Key Vault Secrets User @ ${where.vault}`,
      `Monitoring Metrics Publisher @ ${where.appInsights}`,
      `Storage Blob Data Owner @ ${where.account}`,
      `Storage Queue Data Contributor @ ${where.account}`,
    ]);
    // Reads, writes and leases blobs in each container (the host's own need Owner on the account).
    for (const container of where.containers) {
      assert.ok(
        app.some((item) => item.role === 'Storage Blob Data Owner' && reaches(item.scope, container)),
        `no blob role reaches ${container}`,
      );
    }
    assert.ok(app.some((item) => item.role === 'Storage Queue Data Contributor' && reaches(item.scope, where.queue)));
  });

  it('rotation on: Secrets Officer for the app identity (it writes new secret versions), not Secrets User as well', () => {
    const deployment = deploy({ rotationEnabled: true });
    const vaultRoles = assignmentsOf(deployment).filter((item) => item.principal === IDENTITY_PRINCIPAL_ID && item.role.startsWith('Key Vault'));
    assert.deepEqual(
      vaultRoles.map((item) => item.role),
      ['Key Vault Secrets Officer'],
    );
  });

  it('federation without a webhook: the app identity gets no Key Vault role', () => {
    const assignments = assignmentsOf(deploy({ oauth2AuthMode: 'managed-identity-federation' }));
    assert.deepEqual(
      assignments.filter((item) => item.principal === IDENTITY_PRINCIPAL_ID && item.role.startsWith('Key Vault')),
      [],
    );
  });

  it('producers get Storage Queue Data Message Sender on the relay queue only (and, if asked, blob rights on the attachment container only)', () => {
    const deployment = deploy({ producerPrincipalIds: ` ${PRODUCERS[0]}, ${PRODUCERS[1]},`, relayQueueName: 'billing-mail' });
    const where = scopes(deployment);
    for (const producer of PRODUCERS) {
      assert.deepEqual(rolesOf(assignmentsOf(deployment), producer), [`Storage Queue Data Message Sender @ ${where.queue}`]);
    }
    const uploading = deploy({ producerPrincipalIds: PRODUCERS.join(','), producersUploadAttachments: true });
    const uploadingScopes = scopes(uploading);
    assert.deepEqual(rolesOf(assignmentsOf(uploading), PRODUCERS[0] ?? ''), [
      `Storage Blob Data Contributor @ ${uploadingScopes.attachments}`,
      `Storage Queue Data Message Sender @ ${uploadingScopes.queue}`,
    ]);
  });

  it('the template tells producers the role and the queue (outputs)', () => {
    const outputs = rbac.ofKind('output');
    const roleName = outputs.find((output) => output.name === 'producerRoleName');
    assert.equal(roleName?.value, "'Storage Queue Data Message Sender'");
    const roleId = outputs.find((output) => output.name === 'producerRoleDefinitionId');
    assert.equal(
      rbac.evaluate(moduleParams(deploy().main, main, 'rbac'), {}).expression(roleId?.value ?? ''),
      BUILT_IN_ROLES['Storage Queue Data Message Sender'],
    );
  });
});
