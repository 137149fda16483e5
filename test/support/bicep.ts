/**
 * A reader for the small subset of Bicep that infra/ is written in, so tests can check the templates against
 * the code without the Bicep CLI (it is not in our package registries). It is NOT a Bicep compiler:
 *
 * - A file is a list of top-level declarations (`param`, `var`, `resource`, `module`, `output`, plus
 *   `targetScope` and decorators, which are kept as text). Each starts at column 0 and runs until its
 *   brackets balance.
 * - Values are evaluated by translating the Bicep expression into JavaScript, which reads almost the same:
 *   `'a${b}'` becomes a template literal, object and array literals (one entry a line, no commas) get their
 *   commas, `cond ? a : b`, `!`, `&&`, `==`, member access and `x => f(x)` lambdas are already JavaScript.
 *   The few Bicep functions the templates use are implemented below; any other one is a ReferenceError.
 * - Every symbol (param, var, resource, module) is evaluated on first use, so declaration order does not
 *   matter. A param takes the value the test gives, else its default; one with neither is an error.
 * - Modules and resources are stand-ins: `x.outputs.y` is the text `<x.outputs.y>` unless the test gives
 *   a value; a resource's `id` is its type and name path (parents included), its `name` its evaluated name.
 *
 * Anything outside this subset (multi-line strings, loops outside a declaration, an unknown property of an
 * object) fails loudly instead of being read wrong. Integer division is not modelled: `string()` of a
 * fraction throws, so a test that would depend on it fails instead of passing on a wrong value.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as vm from 'node:vm';

export type DeclarationKind = 'param' | 'var' | 'resource' | 'module' | 'output';

export interface Declaration {
  kind: DeclarationKind;
  name: string;
  /** param/output: the type; resource: the type with its API version; module: the module path. */
  type: string;
  /** Decorators above it, as written (`@minLength(3)`). */
  decorators: string[];
  /** The Bicep text after `=` (absent for a param without a default). */
  value?: string;
  /** A resource or module deployed only if this holds (`= if (cond) { ... }`). */
  condition?: string;
  /** A resource or module deployed once per item (`= [for item in list: { ... }]`). */
  loop?: { item: string; list: string };
  /** `existing` resources are read, not deployed. */
  existing: boolean;
}

export class BicepFile {
  readonly declarations: Declaration[];

  constructor(
    readonly path: string,
    readonly text: string,
  ) {
    this.declarations = parseDeclarations(stripComments(text), path);
  }

  static read(path: string): BicepFile {
    return new BicepFile(path, readFileSync(path, 'utf8'));
  }

  /** The declaration named `name` of that kind; throws when the template has none (the shape changed). */
  declaration(kind: DeclarationKind, name: string): Declaration {
    const found = this.declarations.find((item) => item.kind === kind && item.name === name);
    if (!found) throw new Error(`${this.path}: no ${kind} named ${name}; the test's reader expects one`);
    return found;
  }

  ofKind(kind: DeclarationKind): Declaration[] {
    return this.declarations.filter((item) => item.kind === kind);
  }

  /** Resources of one type (without the API version), e.g. Microsoft.Authorization/roleAssignments. */
  resourcesOfType(type: string): Declaration[] {
    return this.ofKind('resource').filter((item) => item.type.split('@')[0] === type);
  }

  /** The top-level keys of a `var` whose value is an object literal, in the order written. */
  objectKeys(varName: string): string[] {
    const value = this.declaration('var', varName).value ?? '';
    if (!value.startsWith('{')) throw new Error(`${this.path}: var ${varName} is not an object literal`);
    return topLevelLines(value).map((line) => {
      const match = /^('?)([A-Za-z_][\w-]*)\1\s*:/.exec(line);
      if (!match?.[2]) throw new Error(`${this.path}: var ${varName} has an entry the reader does not understand: ${line}`);
      return match[2];
    });
  }

  /** Evaluates the template with these parameter values (and module outputs, `module.output` → value). */
  evaluate(params: Record<string, unknown> = {}, outputs: Record<string, unknown> = {}): Evaluation {
    return new Evaluation(this, params, outputs);
  }
}

/** One deployment of a template: every value computed from the given parameters, on demand. */
export class Evaluation {
  private readonly context: vm.Context;
  private readonly values = new Map<string, unknown>();
  private readonly evaluating = new Set<string>();

  constructor(
    readonly file: BicepFile,
    private readonly params: Record<string, unknown>,
    private readonly outputs: Record<string, unknown>,
  ) {
    for (const name of Object.keys(params)) {
      if (!file.declarations.some((item) => item.kind === 'param' && item.name === name)) throw new Error(`${file.path}: no param named ${name}`);
    }
    const globals = bicepFunctions(dirname(file.path));
    for (const declaration of file.declarations) {
      if (declaration.kind === 'output') continue;
      Object.defineProperty(globals, declaration.name, { get: () => this.symbolForContext(declaration), enumerable: true });
    }
    this.context = vm.createContext(globals);
  }

  /** The value of a param or var. */
  value(name: string): unknown {
    const declaration = this.file.declarations.find((item) => (item.kind === 'param' || item.kind === 'var') && item.name === name);
    if (!declaration) throw new Error(`${this.file.path}: no param or var named ${name}`);
    return this.symbol(declaration);
  }

  /** Whether a conditional resource or module is deployed. */
  deployed(declaration: Declaration): boolean {
    return declaration.condition === undefined ? true : Boolean(this.run(declaration.condition, declaration.name));
  }

  /**
   * The body of a resource or module (its `params`, `properties`, `scope`, ...): one object, or one per item
   * of its loop; none when its condition is false.
   */
  bodies(declaration: Declaration): Array<Record<string, unknown>> {
    if (!this.deployed(declaration) || declaration.value === undefined) return [];
    if (!declaration.loop) return [this.run(declaration.value, declaration.name) as Record<string, unknown>];
    const items = this.run(declaration.loop.list, declaration.name) as unknown[];
    const each = this.run(`(${declaration.loop.item}) => (${declaration.value})`, declaration.name, false) as (item: unknown) => unknown;
    return items.map((item) => strict(each(item), declaration.name) as Record<string, unknown>);
  }

  /** The value of a Bicep expression in this deployment. */
  expression(bicep: string): unknown {
    return this.run(bicep, 'expression');
  }

  /**
   * V8 reports an error thrown by a global's getter as "<name> is not defined"; the real error is kept here
   * so run() can throw it instead.
   */
  private readonly failures = new Map<string, Error>();

  private symbolForContext(declaration: Declaration): unknown {
    try {
      return this.symbol(declaration);
    } catch (error) {
      this.failures.set(declaration.name, error as Error);
      throw error;
    }
  }

  private symbol(declaration: Declaration): unknown {
    const key = `${declaration.kind} ${declaration.name}`;
    if (this.values.has(key)) return this.values.get(key);
    if (this.evaluating.has(key)) throw new Error(`${this.file.path}: ${key} depends on itself`);
    this.evaluating.add(key);
    try {
      const value = this.compute(declaration);
      this.values.set(key, value);
      return value;
    } finally {
      this.evaluating.delete(key);
    }
  }

  private compute(declaration: Declaration): unknown {
    switch (declaration.kind) {
      case 'param':
        if (Object.hasOwn(this.params, declaration.name)) return this.params[declaration.name];
        if (declaration.value === undefined) throw new Error(`${this.file.path}: param ${declaration.name} has no default; the test must give it`);
        return this.run(declaration.value, declaration.name);
      case 'var':
        return this.run(declaration.value ?? '', declaration.name);
      case 'module':
        return standIn({ outputs: this.outputsOf(declaration) });
      case 'resource':
        return this.resourceStandIn(declaration);
      default:
        throw new Error(`${this.file.path}: ${declaration.kind} ${declaration.name} has no value`);
    }
  }

  /** A resource as other expressions see it: `name`, and an `id` that shows its type, parents and name. */
  private resourceStandIn(declaration: Declaration): Record<string, unknown> {
    const body = this.run(declaration.value ?? '{}', declaration.name) as Record<string, unknown>;
    const type = declaration.type.split('@')[0] ?? declaration.type;
    const parent = 'parent' in body ? (body.parent as { id: string }) : undefined;
    const name = String(body.name);
    const id = parent ? `${parent.id}/${type.split('/').pop()}/${name}` : `${type}/${name}`;
    return standIn(strict({ id, name, outputs: this.outputsOf(declaration) }, declaration.name) as Record<string, unknown>);
  }

  /**
   * A module's or resource's outputs: the value the test gave, else for `name` the name it was given (as every
   * Azure Verified Module outputs it), else a placeholder naming the output.
   */
  private outputsOf(declaration: Declaration): unknown {
    const symbol = declaration.name;
    return standIn(
      new Proxy(
        {},
        {
          get: (_target, property) => {
            if (typeof property !== 'string') return undefined;
            const key = `${symbol}.${property}`;
            if (Object.hasOwn(this.outputs, key)) return this.outputs[key];
            if (property === 'name' && declaration.kind === 'module') return (this.bodies(declaration)[0]?.params as { name: unknown }).name;
            return `<${symbol}.outputs.${property}>`;
          },
        },
      ),
    );
  }

  private run(bicep: string, where: string, wrap = true): unknown {
    const js = toJavaScript(bicep, `${this.file.path} (${where})`);
    try {
      const value: unknown = vm.runInContext(`(${js})`, this.context);
      return wrap ? strict(value, where) : value;
    } catch (thrown) {
      // The message names the real failure (a getter's, see failures); the cause stays what was caught.
      const undefinedName = thrown instanceof Error && /^(\w+) is not defined$/.exec(thrown.message)?.[1];
      const error = (undefinedName && this.failures.get(undefinedName)) || thrown;
      throw new Error(`${this.file.path}: evaluating ${where} failed: ${(error as Error).message}\n  Bicep: ${bicep}\n  JavaScript: ${js}`, { cause: thrown });
    }
  }
}

/** Objects whose unknown properties throw (Bicep refuses them at compile time; JavaScript would say undefined). */
function strict(value: unknown, where: string): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || standIns.has(value)) {
    // Array.from, not map: values made in the vm's realm would otherwise stay there and fail deepStrictEqual.
    return Array.isArray(value) ? Array.from(value as unknown[], (item) => strict(item, where)) : value;
  }
  const copy = Object.fromEntries(Object.entries(value).map(([key, item]) => [key, strict(item, where)]));
  return new Proxy(copy, {
    get(target, property) {
      if (typeof property === 'string' && !(property in target) && property !== 'then' && property !== 'toJSON') {
        throw new Error(`${where}: no property ${property} (has ${Object.keys(target).join(', ')})`);
      }
      return Reflect.get(target, property) as unknown;
    },
  });
}

/** Module and resource stand-ins, which strict() leaves as they are. */
const standIns = new WeakSet<object>();
function standIn<T extends object>(value: T): T {
  standIns.add(value);
  return value;
}

/** The Bicep functions infra/ uses, as JavaScript (https://learn.microsoft.com/azure/azure-resource-manager/bicep/bicep-functions). */
function bicepFunctions(folder: string): Record<string, unknown> {
  const functions: Record<string, unknown> = {
    empty: (value: unknown) =>
      value === null ||
      value === undefined ||
      value === '' ||
      (Array.isArray(value) && value.length === 0) ||
      (typeof value === 'object' && Object.keys(value).length === 0),
    toLower: (text: string) => text.toLowerCase(),
    contains: (container: unknown, item: string) =>
      typeof container === 'string' ? container.includes(item) : Array.isArray(container) ? container.includes(item) : Object.hasOwn(container as object, item),
    string: (value: unknown) => {
      if (typeof value === 'number' && !Number.isInteger(value)) throw new Error(`string(${value}): Bicep divides integers; the reader does not model that`);
      return typeof value === 'string' ? value : JSON.stringify(value);
    },
    max: (...values: number[]) => Math.max(...values),
    min: (...values: number[]) => Math.min(...values),
    take: (value: string | unknown[], count: number) => value.slice(0, count),
    split: (text: string, separator: string) => text.split(separator),
    trim: (text: string) => text.trim(),
    map: (list: unknown[], lambda: (item: unknown) => unknown) => list.map((item) => lambda(item)),
    filter: (list: unknown[], lambda: (item: unknown) => boolean) => list.filter((item) => lambda(item)),
    items: (object: Record<string, unknown>) => Object.keys(object).map((key) => ({ key, value: object[key] })),
    toObject: (list: unknown[], key: (item: unknown) => string, value: (item: unknown) => unknown) =>
      Object.fromEntries(list.map((item) => [key(item), value(item)])),
    union: (...objects: Array<Record<string, unknown>>) => Object.assign({}, ...objects) as unknown,
    uniqueString: (...parts: string[]) => `u${parts.join('').length.toString(36).padStart(12, '0')}`,
    guid: (...parts: string[]) => `guid(${parts.join(',')})`,
    subscriptionResourceId: (type: string, name: string) => `/subscriptions/<subscription>/providers/${type}/${name}`,
    subscription: () => ({ id: '/subscriptions/<subscription>', subscriptionId: '<subscription>' }),
    tenant: () => ({ tenantId: '<tenant>' }),
    environment: () => ({
      suffixes: { storage: 'core.windows.net', keyvaultDns: '.vault.azure.net' },
      authentication: { loginEndpoint: 'https://login.microsoftonline.com/' },
    }),
    loadJsonContent: (path: string) => JSON.parse(readFileSync(join(folder, path), 'utf8')) as unknown,
  };
  return functions;
}

/* Parsing -------------------------------------------------------------------------------------------- */

const DECLARATION = /^(param|var|resource|module|output)\s+([A-Za-z_]\w*)\s*(.*)$/s;

function parseDeclarations(text: string, path: string): Declaration[] {
  const lines = text.split(/\r?\n/);
  const declarations: Declaration[] = [];
  let decorators: string[] = [];
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? '';
    if (line.trim() === '' || /^targetScope\s*=/.test(line)) continue;
    if (/^\s/.test(line)) throw new Error(`${path}:${index + 1}: an indented line outside a declaration: ${line}`);
    // A declaration (or decorator) runs until its brackets balance.
    let chunk = line;
    while (depthOf(chunk) > 0) {
      index++;
      if (index >= lines.length) throw new Error(`${path}: unbalanced brackets in: ${line}`);
      chunk += `\n${lines[index] ?? ''}`;
    }
    if (chunk.startsWith('@')) {
      decorators.push(chunk);
      continue;
    }
    const match = DECLARATION.exec(chunk);
    if (!match) throw new Error(`${path}:${index + 1}: not a declaration the reader knows: ${line}`);
    declarations.push(declarationOf(match[1] as DeclarationKind, match[2] ?? '', match[3] ?? '', decorators, path));
    decorators = [];
  }
  return declarations;
}

function declarationOf(kind: DeclarationKind, name: string, rest: string, decorators: string[], path: string): Declaration {
  const equals = indexOutsideStrings(rest, '=');
  const head = (equals < 0 ? rest : rest.slice(0, equals)).trim();
  let value = equals < 0 ? undefined : rest.slice(equals + 1).trim();
  const declaration: Declaration = { kind, name, type: head, decorators, existing: false };
  if (kind === 'resource' || kind === 'module') {
    const typeMatch = /^'([^']*)'\s*(existing)?$/.exec(head);
    if (!typeMatch?.[1]) throw new Error(`${path}: ${kind} ${name} has a type the reader does not understand: ${head}`);
    declaration.type = typeMatch[1];
    declaration.existing = typeMatch[2] === 'existing';
    if (value?.startsWith('if')) {
      const open = value.indexOf('(');
      const close = matchingBracket(value, open);
      declaration.condition = value.slice(open + 1, close);
      value = value.slice(close + 1).trim();
    }
    if (value && /^\[\s*for\s/.test(value)) {
      const loop = /^\[\s*for\s+([A-Za-z_]\w*)\s+in\s+/.exec(value);
      if (!loop?.[1]) throw new Error(`${path}: ${kind} ${name} has a loop the reader does not understand`);
      const listStart = loop[0].length;
      const colon = indexOutsideStrings(value, ':', listStart);
      declaration.loop = { item: loop[1], list: value.slice(listStart, colon).trim() };
      value = value.slice(colon + 1, value.lastIndexOf(']')).trim();
    }
  }
  if (value !== undefined) declaration.value = value;
  return declaration;
}

/** The lines of an object literal's top level (its entries), without the braces. */
function topLevelLines(literal: string): string[] {
  const lines = literal.split('\n').slice(1, -1);
  const entries: string[] = [];
  let depth = 0;
  for (const line of lines) {
    if (depth === 0 && line.trim() !== '') entries.push(line.trim());
    depth += depthOf(line);
  }
  return entries;
}

/** Removes `//` and `/* *\/` comments outside strings. */
export function stripComments(text: string): string {
  let out = '';
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === "'") {
      const end = endOfString(text, index);
      out += text.slice(index, end + 1);
      index = end;
    } else if (char === '/' && text[index + 1] === '/') {
      while (index < text.length && text[index] !== '\n') index++;
      out = out.replace(/[ \t]+$/, '');
      out += '\n';
    } else if (char === '/' && text[index + 1] === '*') {
      const end = text.indexOf('*/', index + 2);
      if (end < 0) throw new Error('an unclosed /* comment');
      index = end + 1;
    } else {
      out += char;
    }
  }
  return out;
}

/** Index of the closing quote of the string starting at `start` (Bicep escapes with a backslash). */
function endOfString(text: string, start: number): number {
  if (text.startsWith("'''", start)) throw new Error("multi-line strings (''') are outside the reader's subset");
  let depth = 0;
  for (let index = start + 1; index < text.length; index++) {
    const char = text[index];
    if (char === '\\') index++;
    else if (char === '$' && text[index + 1] === '{') {
      depth++;
      index++;
    } else if (char === '}' && depth > 0) depth--;
    else if (char === "'" && depth > 0) index = endOfString(text, index);
    else if (char === "'") return index;
  }
  throw new Error(`an unclosed string: ${text.slice(start, start + 40)}`);
}

/** Opening minus closing brackets outside strings. */
function depthOf(text: string): number {
  let depth = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text[index] ?? '';
    if (char === "'") index = endOfString(text, index);
    else if ('{[('.includes(char)) depth++;
    else if ('}])'.includes(char)) depth--;
  }
  return depth;
}

function matchingBracket(text: string, open: number): number {
  let depth = 0;
  for (let index = open; index < text.length; index++) {
    const char = text[index] ?? '';
    if (char === "'") index = endOfString(text, index);
    else if ('{[('.includes(char)) depth++;
    else if ('}])'.includes(char) && --depth === 0) return index;
  }
  throw new Error(`no closing bracket for: ${text.slice(open, open + 40)}`);
}

/** First index of `wanted` at bracket depth 0 and outside strings, from `from`. */
function indexOutsideStrings(text: string, wanted: string, from = 0): number {
  let depth = 0;
  for (let index = from; index < text.length; index++) {
    const char = text[index] ?? '';
    if (char === "'") index = endOfString(text, index);
    else if ('{[('.includes(char)) depth++;
    else if ('}])'.includes(char)) depth--;
    else if (char === wanted && depth === 0) return index;
  }
  return -1;
}

/* Translation to JavaScript ---------------------------------------------------------------------------- */

/** A Bicep expression (comments already removed) as a JavaScript expression. */
export function toJavaScript(source: string, where: string): string {
  const bicep = source.trim();
  let js = '';
  for (let index = 0; index < bicep.length; index++) {
    const char = bicep[index];
    if (char === "'") {
      const end = endOfString(bicep, index);
      js += stringToJavaScript(bicep.slice(index + 1, end), where);
      index = end;
    } else {
      js += char;
    }
  }
  if (/\[\s*for\s/.test(js)) throw new Error(`${where}: a loop inside an expression is outside the reader's subset`);
  return addCommas(js);
}

/** The inside of a Bicep string as a JSON string, or a template literal when it interpolates. */
function stringToJavaScript(inside: string, where: string): string {
  let literal = '';
  let interpolates = false;
  for (let index = 0; index < inside.length; index++) {
    const char = inside[index] ?? '';
    if (char === '\\') {
      const next = inside[++index] ?? '';
      literal += next === "'" ? "'" : next === '$' ? '\\$' : `\\${next}`;
    } else if (char === '$' && inside[index + 1] === '{') {
      const close = matchingBracket(inside, index + 1);
      literal += '${' + toJavaScript(inside.slice(index + 2, close), where) + '}';
      interpolates = true;
      index = close;
    } else if (char === '`') {
      literal += '\\`';
    } else {
      literal += char;
    }
  }
  if (interpolates) return '`' + literal + '`';
  return JSON.stringify(vm.runInNewContext('`' + literal + '`') as string);
}

/** Bicep separates object and array entries by line breaks; JavaScript needs commas. */
function addCommas(js: string): string {
  const lines = js.split('\n');
  if (lines.length === 1) return js;
  const continues = /(?:[{[(,?:]|&&|\|\||=>)$/;
  return lines
    .map((line, index) => {
      const trimmed = line.trimEnd();
      const last = index === lines.length - 1;
      return trimmed === '' || last || continues.test(trimmed) ? trimmed : `${trimmed},`;
    })
    .join('\n');
}
