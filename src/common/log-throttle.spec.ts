import { LogThrottle } from './log-throttle';

describe('LogThrottle', () => {
  let lines: string[];
  const logger = { warn: (message: unknown) => void lines.push(String(message)) };

  beforeEach(() => {
    lines = [];
    jest.useFakeTimers();
  });
  afterEach(() => jest.useRealTimers());

  it('logs the first warning of a kind at once and its repeats as one line at the end of the interval', () => {
    const throttle = new LogThrottle(logger, 1_000);
    for (let i = 0; i < 500; i++) throttle.warn('cap', `cap reached (${i})`);
    expect(lines).toEqual(['cap reached (0)']);

    jest.advanceTimersByTime(1_000);
    expect(lines).toEqual(['cap reached (0)', 'cap: repeated 499 more time(s) in the last 1 s']);
  });

  it('keeps kinds apart and logs a kind again at once in the next interval', () => {
    const throttle = new LogThrottle(logger, 1_000);
    throttle.warn('a', 'a happened');
    throttle.warn('b', 'b happened');
    throttle.warn('a', 'a again');
    jest.advanceTimersByTime(1_000);
    throttle.warn('b', 'b in the next interval');
    expect(lines).toEqual([
      'a happened',
      'b happened',
      'a: repeated 1 more time(s) in the last 1 s',
      'b in the next interval',
    ]);
  });

  it('reports nothing for an interval without repeats and stops its timer when quiet', () => {
    const throttle = new LogThrottle(logger, 1_000);
    throttle.warn('a', 'once');
    jest.advanceTimersByTime(5_000);
    expect(lines).toEqual(['once']);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('counts warnings of kinds beyond its cap together instead of remembering each kind', () => {
    const throttle = new LogThrottle(logger, 1_000);
    for (let i = 0; i < 1_000; i++) throttle.warn(`kind ${i}`, `warning ${i}`);
    expect(lines).toHaveLength(100);
    jest.advanceTimersByTime(1_000);
    expect(lines).toHaveLength(101);
    expect(lines[100]).toBe('900 warning(s) of other kinds in the last 1 s');
  });

  it('does not keep the process alive', () => {
    const throttle = new LogThrottle(logger, 1_000);
    const setInterval = jest.spyOn(global, 'setInterval');
    throttle.warn('a', 'once');
    const timer = setInterval.mock.results[0].value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
  });
});
