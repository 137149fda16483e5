/**
 * Finds remedy texts written outside the catalogue (src/core/diagnoses.ts and
 * src/core/diagnoses/): a string literal or template in the value of anything
 * named like a remedy (`remedy:`, `fix:`, `const ACCESS_REMEDY = …`, a `remedies`
 * table, a `remedy` parameter's default or argument), followed through
 * conditionals, `??`/`||`/`+` and the file's own constants. Other call arguments
 * are ids and parameters (`advice('attachment_not_found')`), not texts, so they
 * are not looked into.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import ts from 'typescript';

export interface RemedyLiteral {
  file: string;
  line: number;
  text: string;
}

const REMEDY_NAME = /remed|^fix$/i;

export function isCatalogue(file: string): boolean {
  return file === 'src/core/diagnoses.ts' || file.startsWith('src/core/diagnoses/');
}

/** The .ts files under `dir`, as paths relative to `root` with "/" separators. */
export function sourceFiles(root: string, dir = 'src'): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) files.push(...sourceFiles(root, path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

function nameOf(name: ts.Node | undefined): string | undefined {
  return name && (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isPrivateIdentifier(name)) ? name.text : undefined;
}

function parse(file: string, text: string): ts.SourceFile {
  return ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
}

/**
 * Functions, methods and classes (by name) with the positions of their parameters named
 * like a remedy: `make(reason, kind, text, remedy)` → make: [3].
 */
export function remedyParameters(sources: ts.SourceFile[]): Map<string, Set<number>> {
  const positions = new Map<string, Set<number>>();
  const add = (name: string | undefined, parameters: readonly ts.ParameterDeclaration[]) => {
    if (!name) return;
    parameters.forEach((parameter, index) => {
      if (REMEDY_NAME.test(nameOf(parameter.name) ?? '')) positions.set(name, new Set([...(positions.get(name) ?? []), index]));
    });
  };
  const visit = (node: ts.Node): void => {
    if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) && node.name) add(nameOf(node.name), node.parameters);
    if (ts.isVariableDeclaration(node) && node.initializer && (ts.isArrowFunction(node.initializer) || ts.isFunctionExpression(node.initializer))) {
      add(nameOf(node.name), node.initializer.parameters);
    }
    if (ts.isConstructorDeclaration(node) && ts.isClassDeclaration(node.parent)) add(nameOf(node.parent.name), node.parameters);
    ts.forEachChild(node, visit);
  };
  for (const source of sources) visit(source);
  return positions;
}

/** Remedy literals in one parsed file; `parameters` from remedyParameters() over all files. */
export function remedyLiterals(source: ts.SourceFile, parameters: Map<string, Set<number>> = remedyParameters([source])): RemedyLiteral[] {
  const locals = new Map<string, ts.Expression[]>();
  const collect = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
      locals.set(node.name.text, [...(locals.get(node.name.text) ?? []), node.initializer]);
    }
    ts.forEachChild(node, collect);
  };
  collect(source);

  const found = new Map<number, RemedyLiteral>();
  const report = (node: ts.Node) => {
    const start = node.getStart(source);
    found.set(start, { file: source.fileName, line: source.getLineAndCharacterOfPosition(start).line + 1, text: node.getText(source).slice(0, 100) });
  };

  /** Whether `expr` can evaluate to a text written here; reports each one found. */
  const values = (expr: ts.Expression, seen: ReadonlySet<string>): boolean => {
    if (ts.isStringLiteral(expr) || ts.isNoSubstitutionTemplateLiteral(expr)) {
      if (expr.text.trim() === '') return false;
      report(expr);
      return true;
    }
    if (ts.isTemplateExpression(expr)) {
      report(expr);
      return true;
    }
    if (ts.isParenthesizedExpression(expr) || ts.isAsExpression(expr) || ts.isSatisfiesExpression(expr) || ts.isNonNullExpression(expr)) {
      return values(expr.expression, seen);
    }
    if (ts.isConditionalExpression(expr)) return [values(expr.whenTrue, seen), values(expr.whenFalse, seen)].some(Boolean);
    if (ts.isBinaryExpression(expr)) {
      const op = expr.operatorToken.kind;
      if (op === ts.SyntaxKind.QuestionQuestionToken || op === ts.SyntaxKind.BarBarToken || op === ts.SyntaxKind.PlusToken) {
        const hit = [values(expr.left, seen), values(expr.right, seen)].some(Boolean);
        // One text written in pieces counts once.
        if (hit && op === ts.SyntaxKind.PlusToken) {
          for (const [start] of found) if (start >= expr.getStart(source) && start < expr.getEnd()) found.delete(start);
          report(expr);
        }
        return hit;
      }
      if (op === ts.SyntaxKind.AmpersandAmpersandToken) return values(expr.right, seen);
      return false;
    }
    if (ts.isObjectLiteralExpression(expr)) {
      return expr.properties
        .map((property) =>
          ts.isPropertyAssignment(property)
            ? values(property.initializer, seen)
            : ts.isShorthandPropertyAssignment(property)
              ? values(property.name, seen)
              : false,
        )
        .some(Boolean);
    }
    if (ts.isArrayLiteralExpression(expr)) return expr.elements.map((element) => values(element, seen)).some(Boolean);
    if (ts.isIdentifier(expr) && !seen.has(expr.text)) {
      const next = new Set([...seen, expr.text]);
      return (locals.get(expr.text) ?? []).map((initializer) => values(initializer, next)).some(Boolean);
    }
    return false;
  };

  const calleeName = (callee: ts.Expression): string | undefined =>
    ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : undefined;

  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAssignment(node) && REMEDY_NAME.test(nameOf(node.name) ?? '')) values(node.initializer, new Set());
    else if (ts.isShorthandPropertyAssignment(node) && REMEDY_NAME.test(node.name.text)) values(node.name, new Set());
    else if (
      (ts.isVariableDeclaration(node) || ts.isParameter(node) || ts.isPropertyDeclaration(node)) &&
      node.initializer &&
      REMEDY_NAME.test(nameOf(node.name) ?? '')
    ) {
      values(node.initializer, new Set());
    } else if (
      ts.isBinaryExpression(node) &&
      node.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
      ts.isPropertyAccessExpression(node.left) &&
      REMEDY_NAME.test(node.left.name.text)
    ) {
      values(node.right, new Set());
    } else if ((ts.isCallExpression(node) || ts.isNewExpression(node)) && node.arguments) {
      const positions = parameters.get(calleeName(node.expression) ?? '');
      node.arguments.forEach((argument, index) => {
        if (positions?.has(index)) values(argument, new Set());
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return [...found.values()].sort((a, b) => a.line - b.line);
}

/** Every remedy literal in src/ outside the catalogue. */
export function remedyLiteralsOutsideCatalogue(root: string): RemedyLiteral[] {
  const sources = sourceFiles(root).map((file) => parse(file, readFileSync(join(root, ...file.split('/')), 'utf8')));
  const parameters = remedyParameters(sources);
  return sources.filter((source) => !isCatalogue(source.fileName.split(sep).join('/'))).flatMap((source) => remedyLiterals(source, parameters));
}

/** For tests of the scan itself. */
export function remedyLiteralsIn(text: string, file = 'src/example.ts'): RemedyLiteral[] {
  return remedyLiterals(parse(file, text));
}
