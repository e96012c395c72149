import { readFileSync } from 'node:fs';
import * as ts from 'typescript';

/**
 * The doc comments of the members of `container` in the TypeScript file `path`, by member name,
 * each in one line: the properties of a class, the members of an enum, or the properties of an
 * object literal assigned to a constant (`as const` tables). A member without one is absent.
 */
export function memberDocs(path: string, container: string): Map<string, string> {
  const source = ts.createSourceFile(
    path,
    readFileSync(path, 'utf8'),
    ts.ScriptTarget.ES2022,
    true,
  );
  const docs = new Map<string, string>();
  const record = (member: ts.Node & { name?: ts.Node }): void => {
    const name = member.name;
    if (!name || !(ts.isIdentifier(name) || ts.isStringLiteral(name))) return;
    const text = ts
      .getJSDocCommentsAndTags(member)
      .map((doc) => (ts.isJSDoc(doc) ? (ts.getTextOfJSDocComment(doc.comment) ?? '') : ''))
      .join(' ')
      .replace(/\s+/g, ' ')
      .trim();
    if (text !== '') docs.set(name.text, text);
  };
  const visit = (node: ts.Node): void => {
    if (
      (ts.isClassDeclaration(node) || ts.isEnumDeclaration(node)) &&
      node.name?.text === container
    ) {
      node.members.forEach(record);
    }
    if (
      ts.isVariableDeclaration(node) &&
      ts.isIdentifier(node.name) &&
      node.name.text === container
    ) {
      const literal = objectLiteralOf(node.initializer);
      literal?.properties.forEach(record);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return docs;
}

/** The object literal of `{…} as const` or `{…}`. */
function objectLiteralOf(node: ts.Expression | undefined): ts.ObjectLiteralExpression | undefined {
  if (node === undefined) return undefined;
  if (ts.isObjectLiteralExpression(node)) return node;
  if (ts.isAsExpression(node) || ts.isSatisfiesExpression(node))
    return objectLiteralOf(node.expression);
  return undefined;
}
