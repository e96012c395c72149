import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Setup } from './setups';
import { Comparison, MetricDef, Scenario, Target, comparisonOf } from './scenarios';
import { Spread, spread } from './stats';

/** One run of one scenario against one setup. */
export interface RunRecord {
  scenario: string;
  server: Setup;
  run: number;
  metrics: Record<string, number>;
  errorSamples: string[];
  /** Set when the run did not complete; its metrics are then missing. */
  failure?: string;
  seconds: number;
}

/**
 * One metric of one scenario. `product` is the subject and `reference` the baseline of the
 * scenario's comparison (`subject`/`baseline` name them: product/reference, or cluster/product
 * for the cluster scenarios).
 */
export interface SummaryRow {
  scenario: string;
  metric: string;
  label: string;
  subject: Setup;
  baseline: Setup;
  product: Spread;
  reference: Spread;
  /** Subject median over baseline median. */
  ratio: number;
  /**
   * Subject over baseline within each round (run n of the one against run n of the other, taken
   * one after the other): a spread of these shows how much of the ratio is machine noise.
   */
  roundRatios: Spread;
  target?: string;
  /** What the verdict was reached on: the ratio, or the worst run's count. */
  judgedOn?: string;
  verdict?: 'ok' | 'MISS';
}

export function summarize(
  scenarios: readonly Scenario[],
  records: readonly RunRecord[],
): SummaryRow[] {
  return scenarios.flatMap((scenario) => {
    const runs = records.filter((r) => r.scenario === scenario.name && !r.failure);
    return scenario.metrics.map((metric) => row(scenario, metric, runs));
  });
}

function row(scenario: Scenario, metric: MetricDef, runs: readonly RunRecord[]): SummaryRow {
  const compare = comparisonOf(scenario);
  const values = (server: Setup): number[] =>
    runs.filter((r) => r.server === server).map((r) => r.metrics[metric.key] ?? NaN);
  const product = spread(values(compare.subject));
  const reference = spread(values(compare.baseline));
  const ratio = product.median / reference.median;
  const roundRatios = spread(
    runs
      .filter((r) => r.server === compare.subject)
      .map((subject) => {
        const baseline = runs.find((r) => r.server === compare.baseline && r.run === subject.run);
        return (subject.metrics[metric.key] ?? NaN) / (baseline?.metrics[metric.key] ?? NaN);
      }),
  );
  const judged = metric.target
    ? judge(metric.target, ratio, product, reference, compare)
    : undefined;
  return {
    scenario: scenario.name,
    metric: metric.key,
    label: metric.label,
    subject: compare.subject,
    baseline: compare.baseline,
    product,
    reference,
    ratio,
    roundRatios,
    ...judged,
  };
}

function judge(
  target: Target,
  ratio: number,
  subject: Spread,
  baseline: Spread,
  compare: Comparison,
): Pick<SummaryRow, 'target' | 'judgedOn' | 'verdict'> {
  const onRatio = `ratio ${Number.isFinite(ratio) ? ratio.toFixed(2) : '-'}`;
  switch (target.kind) {
    case 'ratio-at-least':
      return {
        target: `>= ${target.ratio}`,
        judgedOn: onRatio,
        verdict: ratio >= target.ratio ? 'ok' : 'MISS',
      };
    case 'ratio-at-most':
      return {
        target: `<= ${target.ratio}`,
        judgedOn: onRatio,
        verdict: ratio <= target.ratio ? 'ok' : 'MISS',
      };
    case 'ratio-below':
      return {
        target: `< ${target.ratio}`,
        judgedOn: onRatio,
        verdict: ratio < target.ratio ? 'ok' : 'MISS',
      };
    case 'zero': {
      const worst = target.both ? Math.max(subject.max, baseline.max) : subject.max;
      return {
        target: target.both ? 'both 0' : `${compare.subject} 0`,
        judgedOn: `max ${worst}`,
        verdict: worst === 0 ? 'ok' : 'MISS',
      };
    }
  }
}

/** 104,233 / 523 / 52.3 / 5.23 / 0.523: about three significant figures, thousands grouped. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '-';
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return Math.round(value).toLocaleString('en-US');
  if (magnitude >= 100 || value === 0) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  if (magnitude >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

function formatSpread(s: Spread): string {
  return `${formatNumber(s.median)} (${formatNumber(s.min)}–${formatNumber(s.max)})`;
}

/**
 * The side-by-side tables: one per pair of labels (product vs reference, cluster vs in-memory,
 * history on vs off), one line per scenario and metric.
 */
export function formatTable(rows: readonly SummaryRow[], scenarios: readonly Scenario[]): string {
  const tables = new Map<string, { compare: Comparison; names: Set<string> }>();
  for (const scenario of scenarios) {
    const compare = comparisonOf(scenario);
    const key = `${compare.subjectLabel}\n${compare.baselineLabel}`;
    const table = tables.get(key) ?? { compare, names: new Set<string>() };
    table.names.add(scenario.name);
    tables.set(key, table);
  }
  return [...tables.values()]
    .map(({ compare, names }) =>
      formatOneTable(
        rows.filter((r) => names.has(r.scenario)),
        compare,
      ),
    )
    .join('\n\n');
}

/**
 * One line per judged figure: the verdict, what it is judged on (the ratio of the medians, or the
 * worst run's count) and the target, with the spread of the per-round ratios beside a ratio: when
 * the rounds disagree about the target, the verdict is the machine's more than the code's.
 */
export function formatVerdicts(rows: readonly SummaryRow[]): string {
  const lines = rows.flatMap((r) => {
    if (r.verdict === undefined) return [];
    const rounds =
      r.judgedOn?.startsWith('ratio') && Number.isFinite(r.roundRatios.median)
        ? `per round ${formatRatios(r.roundRatios)}`
        : '';
    return [[r.verdict, r.scenario, r.label, r.judgedOn ?? '', r.target ?? '', rounds]];
  });
  const widths = lines.reduce(
    (w, line) => w.map((width, i) => Math.max(width, line[i].length)),
    [0, 0, 0, 0, 0, 0],
  );
  const render = (cells: string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return ['verdicts:', ...lines.map(render)].join('\n');
}

function formatRatios(s: Spread): string {
  return `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
}

function formatOneTable(rows: readonly SummaryRow[], compare: Comparison): string {
  const header = [
    'scenario',
    'metric',
    `${compare.subjectLabel} median (min–max)`,
    `${compare.baselineLabel} median (min–max)`,
    'ratio',
    'target',
  ];
  const lines = rows.map((r) => [
    r.scenario,
    r.label,
    formatSpread(r.product),
    formatSpread(r.reference),
    Number.isFinite(r.ratio) ? r.ratio.toFixed(2) : '-',
    r.target ? `${r.target} ${r.verdict ?? ''}` : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const render = (cells: string[]): string =>
    cells
      .map((cell, i) => (i >= 2 && i <= 4 ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [render(header), rule, ...lines.map(render)].join('\n');
}

/** Writes `payload` as DIR/<ISO timestamp>.json and returns the path. */
export function writeResults(dir: string, startedAt: Date, payload: unknown): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(payload, null, 2)}\n`);
  return file;
}
