import { LoopStallMeter, STALL_TICK_MS } from './loop-stall-meter';

describe('LoopStallMeter', () => {
  it('counts no stall while its timer runs on time', () => {
    const meter = new LoopStallMeter(() => 0);
    for (let t = STALL_TICK_MS; t <= 1000; t += STALL_TICK_MS) meter.tick(t);
    expect(meter.stalledBetween(0, 1000)).toBe(0);
  });

  it('counts the time a late tick was kept from running, within the span asked about', () => {
    const meter = new LoopStallMeter(() => 0);
    meter.tick(20);
    meter.tick(1020); // due at 40: stalled from 40 to 1020
    expect(meter.stalledBetween(0, 1030)).toBe(980);
    expect(meter.stalledBetween(540, 1030)).toBe(480);
    expect(meter.stalledBetween(1020, 1030)).toBe(0);
  });

  it('counts a stall that no tick has closed yet', () => {
    const meter = new LoopStallMeter(() => 0);
    meter.tick(20);
    expect(meter.stalledBetween(0, 1040)).toBe(1000);
  });
});
