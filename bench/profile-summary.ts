/**
 * Summarizes a V8 .cpuprofile (from `npm run bench -- --cpu-prof DIR`): where the samples fell,
 * by package or area, by function (self), and by function including callees.
 * Usage: ts-node --transpile-only bench/profile-summary.ts FILE.cpuprofile [TOP]
 */
import { readFileSync } from 'node:fs';
import { isRecord } from './lib/ipc';

interface ProfileNode {
  id: number;
  hitCount: number;
  children: number[];
  functionName: string;
  url: string;
  lineNumber: number;
}

function readProfile(file: string): ProfileNode[] {
  const raw: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isRecord(raw) || !Array.isArray(raw.nodes)) throw new Error(`${file} is not a .cpuprofile`);
  return raw.nodes.map((node: unknown): ProfileNode => {
    if (!isRecord(node) || !isRecord(node.callFrame)) throw new Error('malformed profile node');
    const frame = node.callFrame;
    return {
      id: Number(node.id),
      hitCount: Number(node.hitCount ?? 0),
      children: Array.isArray(node.children) ? node.children.map(Number) : [],
      functionName: typeof frame.functionName === 'string' ? frame.functionName : '',
      url: typeof frame.url === 'string' ? frame.url : '',
      lineNumber: Number(frame.lineNumber ?? 0),
    };
  });
}

/** The package (node_modules/NAME), product file (dist/...), node internal, or V8 pseudo-frame. */
function area(node: ProfileNode): string {
  const url = node.url;
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1];
  const dist = /\/dist\/(.*)$/.exec(url);
  if (dist) return `product ${dist[1]}`;
  if (url.startsWith('node:')) return 'node internals';
  if (url === '') return node.functionName.startsWith('(') ? node.functionName : 'native';
  return url.replace(/^.*\/(bench|src)\//, '$1/');
}

function label(node: ProfileNode): string {
  const where =
    node.url === ''
      ? ''
      : ` ${node.url.replace(/^.*\/(node_modules|dist|bench|src)\//, '$1/')}:${node.lineNumber + 1}`;
  return `${node.functionName || '(anonymous)'}${where}`;
}

function top(counts: Map<string, number>, total: number, n: number): string[] {
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([key, hits]) => `${((hits / total) * 100).toFixed(1).padStart(5)}%  ${key}`);
}

function summarize(file: string, n: number): string {
  const nodes = readProfile(file);
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of nodes) for (const child of node.children) parent.set(child, node.id);
  const total = nodes.reduce((sum, node) => sum + node.hitCount, 0);
  const busy =
    total -
    nodes.filter((node) => node.functionName === '(idle)').reduce((s, x) => s + x.hitCount, 0);
  const areas = new Map<string, number>();
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, hits: number): void => {
    map.set(key, (map.get(key) ?? 0) + hits);
  };
  for (const node of nodes) {
    if (node.hitCount === 0 || node.functionName === '(idle)') continue;
    add(areas, area(node), node.hitCount);
    add(self, label(node), node.hitCount);
    const seen = new Set<string>();
    for (let at: ProfileNode | undefined = node; at; at = byId.get(parent.get(at.id) ?? -1)) {
      const key = label(at);
      if (!seen.has(key) && at.url !== '') add(inclusive, key, node.hitCount);
      seen.add(key);
    }
  }
  return [
    `${file}: ${total} samples, ${((busy / total) * 100).toFixed(1)}% not idle; percentages of the non-idle samples`,
    '\nby area (self):',
    ...top(areas, busy, n),
    '\nby function (self):',
    ...top(self, busy, n),
    '\nby function (with callees, JavaScript only):',
    ...top(inclusive, busy, n),
  ].join('\n');
}

const [file, count] = process.argv.slice(2);
if (!file) {
  console.error('Usage: ts-node --transpile-only bench/profile-summary.ts FILE.cpuprofile [TOP]');
  process.exit(2);
}
console.log(summarize(file, Number(count ?? 25)));
