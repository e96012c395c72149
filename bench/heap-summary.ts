/**
 * Summarizes a V8 heap snapshot (from `npm run bench -- --heap-snapshot DIR`): retained-size is
 * not computed, only self sizes and counts grouped by constructor (objects), function (closures)
 * or kind (strings, arrays, code...). Divided by CONNECTIONS, it reads as bytes per connection.
 * Usage: ts-node --transpile-only bench/heap-summary.ts FILE.heapsnapshot [CONNECTIONS] [TOP]
 */
import { readFileSync } from 'node:fs';
import { isRecord } from './lib/ipc';

interface Group {
  count: number;
  bytes: number;
}

function numbers(value: unknown, what: string): number[] {
  if (!Array.isArray(value)) throw new Error(`heap snapshot without ${what}`);
  return value as number[];
}

function strings(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || !value.every((s) => typeof s === 'string')) {
    throw new Error(`heap snapshot without ${what}`);
  }
  return value;
}

function groups(file: string): Map<string, Group> {
  const raw: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isRecord(raw) || !isRecord(raw.snapshot) || !isRecord(raw.snapshot.meta)) {
    throw new Error(`${file} is not a .heapsnapshot`);
  }
  const meta = raw.snapshot.meta;
  const fields = strings(meta.node_fields, 'node_fields');
  const types = Array.isArray(meta.node_types) ? strings(meta.node_types[0], 'node types') : [];
  const names = strings(raw.strings, 'strings');
  const nodes = numbers(raw.nodes, 'nodes');
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const result = new Map<string, Group>();
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + typeAt]] ?? 'unknown';
    const name = names[nodes[i + nameAt]] ?? '';
    const key =
      type === 'object'
        ? name
        : type === 'closure'
          ? `closure ${name || '(anonymous)'}`
          : `(${type})`;
    const group = result.get(key) ?? { count: 0, bytes: 0 };
    group.count += 1;
    group.bytes += nodes[i + sizeAt];
    result.set(key, group);
  }
  return result;
}

const [file, connectionsText, topText] = process.argv.slice(2);
if (!file) {
  console.error(
    'Usage: ts-node --transpile-only bench/heap-summary.ts FILE.heapsnapshot [CONNECTIONS] [TOP]',
  );
  process.exit(2);
}
const per = Number(connectionsText ?? 1) || 1;
const rows = [...groups(file).entries()].sort((a, b) => b[1].bytes - a[1].bytes);
const total = rows.reduce((sum, [, g]) => sum + g.bytes, 0);
console.log(
  `${file}: ${(total / 1024 / 1024).toFixed(1)} MiB in objects; per ${per === 1 ? 'snapshot' : 'connection'}:`,
);
console.log('   bytes   count  group');
for (const [key, group] of rows.slice(0, Number(topText ?? 30))) {
  const bytes = (group.bytes / per).toFixed(0).padStart(8);
  const count = (group.count / per).toFixed(per === 1 ? 0 : 2).padStart(7);
  console.log(`${bytes} ${count}  ${key}`);
}
