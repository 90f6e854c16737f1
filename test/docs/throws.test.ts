// Every callable of the public API says what it throws. TypeDoc's `{@inheritDoc}` copies a summary but no `@throws`,
// and a forgotten tag leaves callers guessing which ERR_CSE_ codes to handle, so this reads the sources of both entry
// points (oss-cse and oss-cse/server) with the TypeScript compiler API and checks that:
// - every exported function, every public constructor and method of an exported class, and every method of an
//   exported interface carries a `@throws` tag (on any one of its overloads), unless CANNOT_THROW lists it with its
//   reason, or PENDING lists it as a known gap;
// - those lists name only callables that exist and still lack the tag (so they shrink, never go stale);
// - every ERR_CSE_ code a `@throws` names is a real ErrorCode (`ERR_CSE_ENVELOPE_*` must match at least one).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { ErrorCode } from '../../src/errors.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY_POINTS = ['src/index.ts', 'server/src/index.ts'];

/** Callables that genuinely cannot throw (for arguments of their declared types), by reason. Keep it short. */
const CANNOT_THROW: Readonly<Record<string, readonly string[]>> = {
  'error classes: the constructor only formats a message and stores fields': [
    'CseError.constructor',
    'NoMatchingKeyError.constructor',
    'TransferError.constructor',
    'MultipartUploadError.constructor',
    'DownloadError.constructor',
    'ObjectChangedError.constructor',
    'KmsRequestError.constructor',
  ],
  'type guards and predicates: true or false for any input': ['isCseError()'],
  'total pure functions: parsers answer null or `invalid` instead of throwing, the rest are projections': [
    'mulberry32()',
    'RsaMasterKey.exportPublicKeyPem',
    'ObjectStore.objectUrl',
  ],
  'in-memory state only: constructors that store their arguments, methods that touch no I/O': [
    'FileCheckpointStore.constructor',
    'MemoryCheckpointStore.constructor',
    'MemoryCheckpointStore.load',
    'MemoryCheckpointStore.save',
    'MemoryCheckpointStore.remove',
    'CachingMasterKey.clear',
    'DataKeyCachingMasterKey.clear',
    'FaultController.clear',
    'FaultController.log',
    'FaultController.resetLog',
    'FaultController.stats',
  ],
  "caller-supplied adapters: they throw whatever the KMS SDK throws, which classifyKmsError sorts out": [
    'KmsClientLike.encrypt',
    'KmsClientLike.decrypt',
    'KmsClientLike.describeKey',
  ],
};

/** Callables that can throw but do not document it yet: each entry says what it throws. Remove entries, never add. */
const PENDING: Readonly<Record<string, string>> = {};

interface Callable {
  readonly name: string;
  readonly throws: string[];
}

function isPublicMember(member: ts.ClassElement): boolean {
  if (member.name !== undefined && ts.isPrivateIdentifier(member.name)) return false;
  return (ts.getCombinedModifierFlags(member) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) === 0;
}

function throwsTexts(node: ts.Node): string[] {
  return ts
    .getJSDocTags(node)
    .filter((tag) => tag.tagName.text === 'throws')
    .map((tag) => (typeof tag.comment === 'string' ? tag.comment : ts.getTextOfJSDocComment(tag.comment) ?? ''));
}

/** The public callables of the entry points, overloads merged (a tag on any overload counts). */
function publicCallables(): Map<string, Callable> {
  const program = ts.createProgram(
    ENTRY_POINTS.map((p) => `${root}${p}`),
    {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      noEmit: true,
      skipLibCheck: true,
      types: [],
    },
  );
  const checker = program.getTypeChecker();
  const found = new Map<string, Callable>();
  const add = (name: string, node: ts.Node): void => {
    const entry = found.get(name) ?? { name, throws: [] };
    entry.throws.push(...throwsTexts(node));
    found.set(name, entry);
  };
  for (const entry of ENTRY_POINTS) {
    const source = program.getSourceFile(`${root}${entry}`);
    assert.ok(source, entry);
    const module = checker.getSymbolAtLocation(source);
    assert.ok(module, `${entry} is not a module`);
    for (const exported of checker.getExportsOfModule(module)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      for (const declaration of symbol.declarations ?? []) {
        if (ts.isFunctionDeclaration(declaration)) {
          add(`${exported.name}()`, declaration);
        } else if (ts.isClassDeclaration(declaration)) {
          for (const member of declaration.members) {
            if (!isPublicMember(member)) continue;
            if (ts.isConstructorDeclaration(member)) add(`${exported.name}.constructor`, member);
            else if (ts.isMethodDeclaration(member)) add(`${exported.name}.${member.name.getText()}`, member);
          }
        } else if (ts.isInterfaceDeclaration(declaration)) {
          for (const member of declaration.members) {
            if (ts.isMethodSignature(member)) add(`${exported.name}.${member.name.getText()}`, member);
          }
        }
      }
    }
  }
  return found;
}

describe('@throws documentation of the public API', () => {
  const callables = publicCallables();
  const allowed = new Set(Object.values(CANNOT_THROW).flat());

  test('finds the public callables (sanity)', () => {
    for (const name of ['EncryptionClient.putStream', 'AliOssStore.put', 'FileCheckpointStore.load', 'encryptObject()', 'startServer()']) {
      assert.ok(callables.has(name), `${name} not found among ${callables.size} callables`);
    }
  });

  test('every exported function, method and constructor that can throw has a @throws tag', () => {
    const missing = [...callables.values()]
      .filter((c) => c.throws.length === 0 && !allowed.has(c.name) && !(c.name in PENDING))
      .map((c) => c.name);
    assert.deepEqual(missing, [], `add a @throws tag (or, if it truly cannot throw, a CANNOT_THROW entry with its reason): ${missing.join(', ')}`);
  });

  test('the allow-lists name existing callables that still have no @throws', () => {
    for (const name of [...allowed, ...Object.keys(PENDING)]) {
      const callable = callables.get(name);
      assert.ok(callable, `${name} is listed but is not a public callable: remove it`);
      assert.deepEqual(callable.throws, [], `${name} documents @throws now: remove it from the list`);
    }
  });

  test('every ERR_CSE_ code named in a @throws tag exists', () => {
    const codes: readonly string[] = Object.values(ErrorCode);
    const wrong: string[] = [];
    for (const callable of callables.values()) {
      for (const text of callable.throws) {
        assert.notEqual(text.trim(), '', `${callable.name}: empty @throws`);
        for (const [token] of text.matchAll(/ERR_CSE_[A-Z0-9_]*\*?/g)) {
          const ok = token.endsWith('*') ? codes.some((c) => c.startsWith(token.slice(0, -1))) : codes.includes(token);
          if (!ok) wrong.push(`${callable.name}: ${token}`);
        }
      }
    }
    assert.deepEqual(wrong, [], 'unknown error codes in @throws');
  });
});
