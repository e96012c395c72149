import { parseArgs } from './args';
import { RunRecord, formatTable, formatVerdicts, summarize } from './report';
import { Scenario, roundOrder, scenarioNamed } from './scenarios';
import type { Setup } from './setups';

function scenario(name: string): Scenario {
  const found = scenarioNamed(name);
  if (!found) throw new Error(`no scenario ${name}`);
  return found;
}

/** A run whose server had its core to itself: frames per CPU-second equal frames per second. */
function record(name: string, server: Setup, run: number, framesPerSecond: number): RunRecord {
  const metrics = { framesPerSecond, framesPerCpuSecond: framesPerSecond, errors: 0 };
  return { scenario: name, server, run, metrics, errorSamples: [], seconds: 1 };
}

/** Alternating rounds of history on and off; `rounds` holds [on, off] frames/s per round. */
function historyRuns(name: string, on: Setup, off: Setup, rounds: number[][]): RunRecord[] {
  return rounds.flatMap(([a, b], i) => [record(name, on, i + 1, a), record(name, off, i + 1, b)]);
}

describe('the history on/off comparison of the bench', () => {
  const inMemory = scenario('history-fan-out');
  const redis = scenario('cluster-history-fan-out');

  it('selects both history scenarios with --scenario history', () => {
    expect(parseArgs(['--scenario', 'history'], __dirname).scenarios).toEqual([
      'history-fan-out',
      'cluster-history-fan-out',
    ]);
  });

  it('runs history on, then off, in every round, in memory and on Redis', () => {
    expect(roundOrder(inMemory)).toEqual(['history-on', 'history-off']);
    expect(roundOrder(redis)).toEqual(['cluster-history-on', 'cluster-history-off']);
  });

  it('judges the ratio of the medians on/off against 0.90 and keeps the per-round ratios', () => {
    const records = [
      ...historyRuns(inMemory.name, 'history-on', 'history-off', [
        [95, 100],
        [80, 100],
        [99, 90],
      ]),
      ...historyRuns(redis.name, 'cluster-history-on', 'cluster-history-off', [
        [80, 100],
        [85, 100],
        [90, 100],
      ]),
    ];

    const frames = summarize([inMemory, redis], records).filter(
      (row) => row.metric === 'framesPerSecond',
    );

    expect(frames.map((row) => [row.scenario, row.ratio, row.target, row.verdict])).toEqual([
      [inMemory.name, 0.95, '>= 0.9', 'ok'],
      [redis.name, 0.85, '>= 0.9', 'MISS'],
    ]);
    expect(frames[0].roundRatios).toEqual({ median: 0.95, min: 0.8, max: 1.1 });
  });

  it('judges frames per CPU-second on/off against 0.90 too, for a core shared with others', () => {
    const records = historyRuns(inMemory.name, 'history-on', 'history-off', [[85, 100]]);
    records[0].metrics.framesPerCpuSecond = 95;

    const perCpu = summarize([inMemory], records).find(
      (row) => row.metric === 'framesPerCpuSecond',
    );

    expect(perCpu).toMatchObject({ ratio: 0.95, target: '>= 0.9', verdict: 'ok' });
  });

  it('fails the errors row when either setup had an error', () => {
    const records = historyRuns(inMemory.name, 'history-on', 'history-off', [[100, 100]]);
    records[1].metrics.errors = 2;

    const errors = summarize([inMemory], records).find((row) => row.metric === 'errors');

    expect(errors).toMatchObject({ target: 'both 0', judgedOn: 'max 2', verdict: 'MISS' });
  });

  it('prints both backends in one table and a verdict line per judged figure', () => {
    const records = [
      ...historyRuns(inMemory.name, 'history-on', 'history-off', [[95, 100]]),
      ...historyRuns(redis.name, 'cluster-history-on', 'cluster-history-off', [[85, 100]]),
    ];
    const rows = summarize([inMemory, redis], records);

    const table = formatTable(rows, [inMemory, redis]);
    const verdicts = formatVerdicts(rows);

    expect(table.match(/history on \(HISTORY_SIZE 100\) median/g)).toHaveLength(1);
    expect(table).toMatch(/^cluster-history-fan-out\s+delivered frames\/s/m);
    expect(verdicts).toMatch(
      /^ok\s+history-fan-out\s+delivered frames\/s\s+ratio 0\.95\s+>= 0\.9\s+per round 0\.95/m,
    );
    expect(verdicts).toMatch(
      /^MISS\s+cluster-history-fan-out\s+delivered frames\/s\s+ratio 0\.85\s+>= 0\.9/m,
    );
    expect(verdicts).toMatch(/^ok\s+history-fan-out\s+errors \(all runs of both: 0\)\s+max 0/m);
  });
});
