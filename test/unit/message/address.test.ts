import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addressKey, isEmailAddress, otherAddressInName, parseMailboxText } from '../../../src/message/address';
import { decodeStrictBase64, isStrictBase64 } from '../../../src/message/base64';
import { isOwnedHeader, isVerbatimHeader } from '../../../src/message/headers';

describe('isEmailAddress', () => {
  const valid = [
    'ada@example.com',
    'first.last+tag@sub.example.co.uk',
    "o'brien@example.ie",
    'jürgen@bücher.de',
    '用户@例子.广告',
    'x@xn--bcher-kva.de',
    `${'a'.repeat(64)}@example.com`,
  ];
  const invalid = [
    '',
    'ada',
    'ada@',
    '@example.com',
    'ada@example',
    'ada@@example.com',
    'a..b@example.com',
    '.ada@example.com',
    'ada.@example.com',
    '"ada"@example.com',
    'a b@example.com',
    'ada@exa mple.com',
    'ada@-example.com',
    'ada@example-.com',
    'ada@exa_mple.com',
    'ada@1.2.3.4',
    'ada@[127.0.0.1]',
    'Ada <ada@example.com>',
    'ada@example.com\r\n',
    `${'a'.repeat(65)}@example.com`,
    `ada@${'a'.repeat(64)}.com`,
  ];
  for (const address of valid) it(`accepts ${JSON.stringify(address)}`, () => assert.equal(isEmailAddress(address), true));
  for (const address of invalid) it(`rejects ${JSON.stringify(address)}`, () => assert.equal(isEmailAddress(address), false));
});

describe('parseMailboxText and addressKey', () => {
  it('parses the two documented forms only', () => {
    assert.deepEqual(parseMailboxText(' ada@example.com '), { address: 'ada@example.com' });
    assert.deepEqual(parseMailboxText('Ada Lovelace <ada@example.com>'), { name: 'Ada Lovelace', address: 'ada@example.com' });
    assert.deepEqual(parseMailboxText('<ada@example.com>'), { address: 'ada@example.com' });
    for (const text of ['ada@example.com (Ada)', 'Ada ada@example.com', 'a@example.com, b@example.com', 'G: a@example.com;', 'Ada <>']) {
      assert.equal(parseMailboxText(text), undefined, text);
    }
  });

  it('refuses a string holding more than one address in angle brackets, instead of reading one and folding the rest into the name', () => {
    for (const text of ['A <a@x.test> <b@y.test>', '<a@x.test> <b@y.test>', 'A <<a@x.test>>', 'A <a@x.test>>', '<a@x.test>b <c@y.test>', 'A > <a@x.test>']) {
      assert.equal(parseMailboxText(text), undefined, text);
    }
    assert.deepEqual(
      parseMailboxText('"A <a@x.test>" <b@y.test>'),
      { name: 'A <a@x.test>', address: 'b@y.test' },
      'brackets inside quotes are the name (refused elsewhere: it shows another address)',
    );
    assert.deepEqual(parseMailboxText('"Say \\"hi\\" <x>" <b@y.test>'), { name: 'Say "hi" <x>', address: 'b@y.test' });
  });

  it('compares case-insensitively with IDN domains in ASCII form', () => {
    assert.equal(addressKey('Ada@Example.COM'), 'ada@example.com');
    assert.equal(addressKey('STØTTE@bücher.de'), addressKey('støtte@xn--bcher-kva.de'));
  });
});

describe('otherAddressInName', () => {
  it('finds an address the display name shows that is not its own, look-alikes included', () => {
    const cases: Array<[string, string | undefined]> = [
      ['ceo@contoso.com', 'ceo@contoso.com'],
      ['CEO <ceo@contoso.com>', 'ceo@contoso.com'],
      ['CEO (ceo@contoso.com)!', 'ceo@contoso.com'],
      ['ceo＠contoso．com', 'ceo@contoso.com'],
      ['ceo﹫contoso.com', 'ceo@contoso.com'],
      ['ceo@contoso\u3002com', 'ceo@contoso.com'],
      ['ceo@con\u200Btoso.com', 'ceo@contoso.com'],
      ['c\u202Eeo@contoso.com', 'ceo@contoso.com'],
      ['x@evil.test.contoso.com', 'x@evil.test.contoso.com'],
      ['x@evil.test', undefined],
      ['X@EVIL.TEST', undefined],
      ["'x@evil.test'", undefined],
      ['Support team', undefined],
      ['Team @ Contoso', undefined],
      ['ceo@localhost', undefined],
      ['@@@@', undefined],
    ];
    for (const [name, shown] of cases) assert.equal(otherAddressInName(name, 'x@evil.test'), shown, name);
  });

  it('stays linear on long names full of @', () => {
    const name = `${'a@'.repeat(30_000)}${'b'.repeat(30_000)}`;
    assert.equal(otherAddressInName(name, 'x@evil.test'), undefined);
  });
});

describe('strict base64', () => {
  const cases: Array<[string, boolean]> = [
    ['', true],
    ['aGk=', true],
    ['aGVsbG8=', true],
    ['SGVsbG8sIHdvcmxkIQ==', true],
    ['+/+/', true],
    ['aGk', false],
    ['aGk==', false],
    ['a===', false],
    ['====', false],
    ['aG=k', false],
    ['aGVs\nbG8=', false],
    ['aGVs bG8=', false],
    ['-_-_', false],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} is ${expected ? '' : 'not '}strict base64`, () => assert.equal(isStrictBase64(text), expected));
  }

  it('decodes only strict base64', () => {
    assert.deepEqual(decodeStrictBase64('aGk='), Buffer.from('hi'));
    assert.equal(decodeStrictBase64('aGk'), undefined);
  });
});

describe('isOwnedHeader', () => {
  it('owns the address, identity, trace and MIME headers, any case', () => {
    for (const name of ['from', 'REPLY-TO', 'Content-Language', 'dkim-signature', 'Return-Path']) assert.equal(isOwnedHeader(name), true, name);
    for (const name of ['X-Ticket', 'List-Unsubscribe', 'In-Reply-To', 'References', 'Contents']) assert.equal(isOwnedHeader(name), false, name);
  });

  it('names the fields that are sent verbatim (no encoded words)', () => {
    for (const name of ['in-reply-to', 'References', 'List-Unsubscribe', 'list-id', 'Archived-At', 'OTP-Token'])
      assert.equal(isVerbatimHeader(name), true, name);
    for (const name of ['X-Ticket', 'Keywords', 'Comments', 'Listing']) assert.equal(isVerbatimHeader(name), false, name);
  });
});
