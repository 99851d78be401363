import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { productSources as sourceFiles, repoRoot } from '../fixtures/sources.js';

/**
 * Issue 15: no function over ~60 lines (as formatted) in lib/, cli/, connectors/ or index.ts
 * unless a comment right above it, or in its JSDoc, starts with `length:` and says why.
 */

const root = repoRoot;
const maxLines = 60;

interface LongFunction {
  /** `lib/router.ts:18` */
  at: string;
  lines: number;
  /** The text after `length:` in the comment above, when there is one. */
  reason?: string;
}

/** The comment lines directly above line `index` (a `//` run or a whole JSDoc block), nearest first. */
function commentAbove(lines: string[], index: number): string[] {
  const out: string[] = [];
  let inBlock = false;
  for (let i = index - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (inBlock || line.endsWith('*/')) {
      out.push(line);
      inBlock = !line.startsWith('/*');
    } else if (line.startsWith('//')) {
      out.push(line);
    } else {
      break;
    }
  }
  return out;
}

function reasonIn(comment: string[]): string | undefined {
  for (const line of comment) {
    const m = /^(?:\/\/|\/\*\*?|\*)?\s*length:\s*(.*?)\s*(?:\*\/)?$/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/** Every function, method, arrow function and constructor of `text` longer than `maxLines`. */
function longFunctions(file: string, text: string): LongFunction[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lines = text.split('\n');
  const out: LongFunction[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const length = last - first + 1;
      if (length > maxLines) {
        const reason = reasonIn(commentAbove(lines, first));
        out.push({ at: `${file}:${first + 1}`, lines: length, ...(reason !== undefined ? { reason } : {}) });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

describe('function length', () => {
  test(`no function over ${maxLines} lines without a "// length: <reason>" comment above it`, () => {
    const unexplained = sourceFiles()
      .flatMap((file) => longFunctions(file, fs.readFileSync(path.join(root, file), 'utf8')))
      .filter((f) => !f.reason)
      .map((f) => `${f.at} is ${f.lines} lines: split it, or say why not in a "// length: ..." comment right above it`);
    expect(unexplained).toEqual([]);
  });

  describe('the check itself', () => {
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const fn = (above: string, n: number) => `${above}export function f() {\n${body(n)}\n}\n`;

    test('counts lines from the first to the last line of the function, as formatted', () => {
      expect(longFunctions('a.ts', fn('', maxLines - 2))).toEqual([]);
      expect(longFunctions('a.ts', fn('', maxLines - 1))).toEqual([{ at: 'a.ts:1', lines: maxLines + 1 }]);
    });

    test('sees methods and arrow functions', () => {
      const text = `const o = {\n  m() {\n${body(maxLines)}\n  },\n  a: () => {\n${body(maxLines)}\n  },\n};\n`;
      expect(longFunctions('o.ts', text).map((f) => f.at)).toEqual(['o.ts:2', `o.ts:${maxLines + 4}`]);
    });

    test('takes a reason from the line above or from the JSDoc, not from elsewhere', () => {
      expect(longFunctions('a.ts', fn('// length: a table\n', maxLines))[0]?.reason).toBe('a table');
      expect(longFunctions('a.ts', fn('/**\n * Does it.\n * length: one switch\n */\n', maxLines))[0]?.reason).toBe('one switch');
      expect(longFunctions('a.ts', fn('/** length: inline */\n', maxLines))[0]?.reason).toBe('inline');
      expect(longFunctions('a.ts', fn('// length: far away\n\n', maxLines))[0]?.reason).toBeUndefined();
      expect(longFunctions('a.ts', fn('// the length: is not at the start\n', maxLines))[0]?.reason).toBeUndefined();
    });
  });
});
