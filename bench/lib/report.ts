import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Setup } from './setups';
import { Comparison, MetricDef, Scenario, Series, Target, comparisonOf } from './scenarios';
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

/**
 * One metric of a series scenario: each setup's runs, and the ratio of each setup's median over
 * the first setup's.
 */
export interface ScaleRow {
  scenario: string;
  metric: string;
  label: string;
  setups: Setup[];
  values: Spread[];
  /** Median of each setup over the first's (the first's is 1). */
  ratios: number[];
  /** The last setup over the first within each round: how much of its ratio is noise. */
  roundRatios: Spread;
  target?: string;
  judgedOn?: string;
  verdict?: 'ok' | 'MISS';
}

/** The rows of the pair scenarios among `scenarios` (series have `summarizeSeries`). */
export function summarize(
  scenarios: readonly Scenario[],
  records: readonly RunRecord[],
): SummaryRow[] {
  return scenarios.flatMap((scenario) => {
    if (scenario.scale) return [];
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

/** The rows of the series scenarios among `scenarios`. */
export function summarizeSeries(
  scenarios: readonly Scenario[],
  records: readonly RunRecord[],
): ScaleRow[] {
  return scenarios.flatMap((scenario) => {
    const series = scenario.scale;
    if (!series) return [];
    const runs = records.filter((r) => r.scenario === scenario.name && !r.failure);
    return scenario.metrics.map((metric) => seriesRow(scenario.name, series, metric, runs));
  });
}

function seriesRow(
  scenario: string,
  series: Series,
  metric: MetricDef,
  runs: readonly RunRecord[],
): ScaleRow {
  const valuesOf = (setup: Setup): number[] =>
    runs.filter((r) => r.server === setup).map((r) => r.metrics[metric.key] ?? NaN);
  const setups = [...series.setups];
  const values = setups.map((setup) => spread(valuesOf(setup)));
  const ratios = values.map((v) => v.median / values[0].median);
  const [first, last] = [setups[0], setups[setups.length - 1]];
  const roundRatios = spread(
    runs
      .filter((r) => r.server === last)
      .map((r) => {
        const base = runs.find((b) => b.server === first && b.run === r.run);
        return (r.metrics[metric.key] ?? NaN) / (base?.metrics[metric.key] ?? NaN);
      }),
  );
  const judged = metric.target
    ? judgeSeries(metric.target, ratios.slice(1), setups.flatMap(valuesOf))
    : undefined;
  return {
    scenario,
    metric: metric.key,
    label: metric.label,
    setups,
    values,
    ratios,
    roundRatios,
    ...judged,
  };
}

/**
 * A series is judged on its worst: the lowest (or highest) ratio of a setup over the first, or
 * the most extreme value of any run of any setup.
 */
function judgeSeries(
  target: Target,
  ratios: readonly number[],
  all: readonly number[],
): Pick<ScaleRow, 'target' | 'judgedOn' | 'verdict'> {
  const finite = (xs: readonly number[]): number[] => xs.filter((x) => Number.isFinite(x));
  const verdict = (ok: boolean): 'ok' | 'MISS' => (ok ? 'ok' : 'MISS');
  // A missing figure (a setup that never ran, a shard that is not there) is no evidence.
  const complete = (xs: readonly number[]): boolean =>
    xs.length > 0 && finite(xs).length === xs.length;
  const onRatio = (r: number): string => `ratio ${Number.isFinite(r) ? r.toFixed(2) : '-'}`;
  switch (target.kind) {
    case 'ratio-at-least': {
      const worst = Math.min(...ratios);
      return {
        target: `>= ${target.ratio}`,
        judgedOn: onRatio(worst),
        verdict: verdict(complete(ratios) && worst >= target.ratio),
      };
    }
    case 'ratio-at-most':
    case 'ratio-below': {
      const worst = Math.max(...ratios);
      const below = target.kind === 'ratio-below';
      return {
        target: `${below ? '<' : '<='} ${target.ratio}`,
        judgedOn: onRatio(worst),
        verdict: verdict(
          complete(ratios) && (below ? worst < target.ratio : worst <= target.ratio),
        ),
      };
    }
    case 'zero': {
      const worst = Math.max(...all);
      return {
        target: 'all 0',
        judgedOn: `max ${Number.isInteger(worst) ? worst : formatNumber(worst)}`,
        verdict: verdict(complete(all) && worst === 0),
      };
    }
    case 'between': {
      const [min, max] = [Math.min(...all), Math.max(...all)];
      return {
        target: `${target.min}–${target.max}`,
        judgedOn: `runs ${formatNumber(min)}–${formatNumber(max)}`,
        verdict: verdict(complete(all) && min >= target.min && max <= target.max),
      };
    }
  }
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
    case 'between':
      return {
        target: `${target.min}–${target.max}`,
        judgedOn: `runs ${formatNumber(subject.min)}–${formatNumber(subject.max)}`,
        verdict: subject.min >= target.min && subject.max <= target.max ? 'ok' : 'MISS',
      };
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
    if (scenario.scale) continue;
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
export function formatVerdicts(rows: readonly (SummaryRow | ScaleRow)[]): string {
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

/**
 * One table per series scenario: a column per setup (median and min–max), then the ratio of each
 * later setup over the first.
 */
export function formatSeriesTables(
  rows: readonly ScaleRow[],
  scenarios: readonly Scenario[],
): string {
  return scenarios
    .flatMap((scenario) => {
      const series = scenario.scale;
      if (!series) return [];
      const first = series.labels[0].split(' ')[0];
      const header = [
        'scenario',
        'metric',
        ...series.labels.map((label) => `${label} median (min–max)`),
        ...series.labels.slice(1).map((label) => `${label.split(' ')[0]}/${first}`),
        'target',
      ];
      const lines = rows
        .filter((r) => r.scenario === scenario.name)
        .map((r) => [
          r.scenario,
          r.label,
          ...r.values.map(formatSpread),
          ...r.ratios.slice(1).map((x) => (Number.isFinite(x) ? x.toFixed(2) : '-')),
          r.target ? `${r.target} ${r.verdict ?? ''}` : '',
        ]);
      const numeric = (i: number): boolean => i >= 2 && i < header.length - 1;
      return [renderTable(header, lines, numeric)];
    })
    .join('\n\n');
}

/** Columns padded to their widest cell, `numeric` ones aligned right, under a rule. */
function renderTable(
  header: readonly string[],
  lines: readonly string[][],
  numeric: (column: number) => boolean,
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const render = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (numeric(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [render(header), rule, ...lines.map(render)].join('\n');
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
  return renderTable(header, lines, (i) => i >= 2 && i <= 4);
}

/** Writes `payload` as DIR/<ISO timestamp>.json and returns the path. */
export function writeResults(dir: string, startedAt: Date, payload: unknown): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(payload, null, 2)}\n`);
  return file;
}
