/**
 * The test's Bicep reader (test/support/bicep.ts), which the infra consistency test stands on: it reads the
 * subset infra/ uses the way Bicep does, and refuses what it does not understand instead of guessing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BicepFile } from '../../support/bicep';

const TEMPLATE = `
// a comment, and a URL in a string: 'https://example.org/x'
@minLength(3)
@description('Queue name.')
param queueName string = 'outbound-mail'
param enabled bool = false
param required string
param ids string = ''

var names = {
  queue: queueName
  poison: '\${queueName}-poison' // the host's
  'quoted-key': toLower('ABC')
}
var list = filter(map(split(ids, ','), id => trim(id)), id => !empty(id))
var escaped = 'it\\'s \\\${not} interpolated'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: 'st\${take(required, 3)}'
}

resource queue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = {
  parent: account
  name: names.queue
}

resource one 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (enabled) {
  scope: queue
  properties: {
    principalId: required
  }
}

resource each 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in (enabled ? list : []): {
    scope: account
    properties: {
      principalId: principalId
    }
  }
]

module site 'app/site.bicep' = {
  name: 'site'
  params: {
    name: 'func-\${queueName}'
  }
}

output siteName string = site.outputs.name
`;

const file = new BicepFile('test.bicep', TEMPLATE);

describe('the infra tests’ Bicep reader', () => {
  it('reads declarations with their decorators, and object keys in order', () => {
    assert.deepEqual(
      file.declarations.map((item) => `${item.kind} ${item.name}`),
      [
        'param queueName',
        'param enabled',
        'param required',
        'param ids',
        'var names',
        'var list',
        'var escaped',
        'resource account',
        'resource queue',
        'resource one',
        'resource each',
        'module site',
        'output siteName',
      ],
    );
    assert.deepEqual(file.declaration('param', 'queueName').decorators, ['@minLength(3)', "@description('Queue name.')"]);
    assert.deepEqual(file.objectKeys('names'), ['queue', 'poison', 'quoted-key']);
  });

  it('evaluates defaults, given values, interpolation, escapes, lambdas and resource ids', () => {
    const run = file.evaluate({ required: 'abcdef', ids: ' a, b ,,' });
    assert.deepEqual({ ...(run.value('names') as object) }, { queue: 'outbound-mail', poison: 'outbound-mail-poison', 'quoted-key': 'abc' });
    assert.deepEqual(run.value('list'), ['a', 'b']);
    assert.equal(run.value('escaped'), "it's ${not} interpolated");
    assert.equal(run.expression('queue.id'), 'Microsoft.Storage/storageAccounts/stabc/queues/outbound-mail');
    assert.equal(run.expression('site.outputs.name'), 'func-outbound-mail');
    assert.equal(run.expression('site.outputs.resourceId'), '<site.outputs.resourceId>');
  });

  it('deploys a conditional resource only when its condition holds, and a loop once per item', () => {
    const off = file.evaluate({ required: 'abc', ids: 'a,b' });
    assert.deepEqual(off.bodies(file.declaration('resource', 'one')), []);
    assert.deepEqual(off.bodies(file.declaration('resource', 'each')), []);
    const on = file.evaluate({ required: 'abc', ids: 'a,b', enabled: true });
    assert.equal(on.bodies(file.declaration('resource', 'one')).length, 1);
    const principals = on.bodies(file.declaration('resource', 'each')).map((body) => (body.properties as { principalId: string }).principalId);
    assert.deepEqual(principals, ['a', 'b']);
  });

  it('fails loudly: a missing param value, an unknown param, property, function or declaration, a multi-line string', () => {
    assert.throws(() => file.evaluate({}).value('required'), /param required has no default/);
    assert.throws(() => file.evaluate({ nope: 1 }), /no param named nope/);
    assert.throws(() => file.evaluate({ required: 'abc' }).expression('names.queueName'), /no property queueName/);
    assert.throws(() => file.evaluate({ required: 'abc' }).expression('unknownFunction(1)'), /unknownFunction is not defined/);
    assert.throws(() => file.declaration('var', 'appSettings'), /no var named appSettings/);
    assert.throws(() => new BicepFile('bad.bicep', "var text = '''\nmulti\n'''\n"), /multi-line strings/);
    assert.throws(() => new BicepFile('bad.bicep', 'var broken = {\n  a: 1\n'), /unbalanced brackets/);
  });

  it('does not model integer division: string() of a fraction throws instead of giving a wrong value', () => {
    assert.throws(() => file.evaluate({ required: 'abc' }).expression('string(30 / 7)'), /divides integers/);
    assert.equal(file.evaluate({ required: 'abc' }).expression('string(30 / 3)'), '10');
  });
});
