import { parseArgs } from './args';
import {
  RunRecord,
  formatSeriesTables,
  formatTable,
  formatVerdicts,
  summarize,
  summarizeSeries,
} from './report';
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

describe('the cluster-scale series of the bench', () => {
  const scale = scenario('cluster-scale');
  const setups: Setup[] = ['redis-cluster-1', 'redis-cluster-2', 'redis-cluster-4'];

  /** A run of `setup` whose shards carried `shares` of the publications. */
  function scaleRun(
    setup: Setup,
    run: number,
    framesPerCpuSecond: number,
    shares: number[] = [0.4, 0.3, 0.3],
  ): RunRecord {
    const metrics: Record<string, number> = {
      framesPerSecond: framesPerCpuSecond,
      framesPerCpuSecond,
      busPublishes: 0,
      errors: 0,
    };
    shares.forEach((share, i) => (metrics[`publishShareShard${i + 1}`] = share));
    return { scenario: scale.name, server: setup, run, metrics, errorSamples: [], seconds: 1 };
  }

  it('runs 1, 2 and 4 instances in every round, and leaves the pair tables alone', () => {
    expect(roundOrder(scale)).toEqual(setups);
    expect(summarize([scale], [scaleRun('redis-cluster-1', 1, 100)])).toEqual([]);
  });

  it('gives each setup its spread and its ratio over one instance, judged on the worst', () => {
    const records = [
      ...[100, 90, 40].map((perCpu, i) => scaleRun(setups[i], 1, perCpu)),
      ...[100, 100, 40].map((perCpu, i) => scaleRun(setups[i], 2, perCpu)),
    ];

    const perCpu = summarizeSeries([scale], records).find(
      (row) => row.metric === 'framesPerCpuSecond',
    );

    expect(perCpu).toMatchObject({
      values: [
        { median: 100, min: 100, max: 100 },
        { median: 95, min: 90, max: 100 },
        { median: 40, min: 40, max: 40 },
      ],
      ratios: [1, 0.95, 0.4],
      roundRatios: { median: 0.4, min: 0.4, max: 0.4 },
      target: '>= 0.5',
      judgedOn: 'ratio 0.40',
      verdict: 'MISS',
    });
  });

  it('wants every run of every setup to give each shard about a third of the publications', () => {
    const records = [
      scaleRun(setups[0], 1, 100),
      scaleRun(setups[1], 1, 100),
      scaleRun(setups[2], 1, 100, [0.6, 0.2, 0.2]),
    ];

    const shares = summarizeSeries([scale], records).filter((row) =>
      row.metric.startsWith('publishShare'),
    );

    expect(shares.map((row) => [row.judgedOn, row.verdict])).toEqual([
      ['runs 0.400–0.600', 'MISS'],
      ['runs 0.200–0.300', 'ok'],
      ['runs 0.200–0.300', 'ok'],
    ]);
  });

  it('misses a per-shard target when a shard reported nothing (one redis-server)', () => {
    const records = setups.map((setup) => scaleRun(setup, 1, 100, [1]));

    const third = summarizeSeries([scale], records).find(
      (row) => row.metric === 'publishShareShard3',
    );

    expect(third).toMatchObject({ target: '0.2–0.47', verdict: 'MISS' });
  });

  it('misses the bus row when any run relayed a publication to other nodes', () => {
    const records = setups.map((setup) => scaleRun(setup, 1, 100));
    records[1].metrics.busPublishes = 12;

    const bus = summarizeSeries([scale], records).find((row) => row.metric === 'busPublishes');

    expect(bus).toMatchObject({ target: 'all 0', judgedOn: 'max 12', verdict: 'MISS' });
  });

  it('prints a column per setup with the ratios 2/1 and 4/1, and verdict lines', () => {
    const rows = summarizeSeries(
      [scale],
      [100, 90, 80].map((perCpu, i) => scaleRun(setups[i], 1, perCpu)),
    );

    const table = formatSeriesTables(rows, [scale]);

    expect(table).toMatch(
      /1 instance median \(min–max\)\s+2 instances median \(min–max\)\s+4 instances median \(min–max\)\s+2\/1\s+4\/1\s+target/,
    );
    expect(table).toMatch(
      /^cluster-scale\s+frames per CPU-second \(instances \+ Redis\)\s+100 \(100–100\)\s+90\.0 \(90\.0–90\.0\)\s+80\.0 \(80\.0–80\.0\)\s+0\.90\s+0\.80\s+>= 0\.5 ok$/m,
    );
    expect(formatVerdicts(rows)).toMatch(
      /^ok\s+cluster-scale\s+frames per CPU-second \(instances \+ Redis\)\s+ratio 0\.80\s+>= 0\.5\s+per round 0\.80/m,
    );
  });
});
