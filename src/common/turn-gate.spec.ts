import { setImmediate as nextTurn } from 'node:timers/promises';
import { TurnGate } from './turn-gate';

describe('TurnGate', () => {
  it('lets perTurn callers through per turn of the event loop, in order', async () => {
    const gate = new TurnGate(2);
    const through: number[] = [];
    const all = Array.from({ length: 5 }, (_, i) => gate.pass().then(() => through.push(i)));
    expect(through).toEqual([]);
    await nextTurn();
    expect(through).toEqual([0, 1]);
    await nextTurn();
    expect(through).toEqual([0, 1, 2, 3]);
    await Promise.all(all);
    expect(through).toEqual([0, 1, 2, 3, 4]);
    expect(gate.size).toBe(0);
  });

  it('lets a caller through on the next turn when nobody waits', async () => {
    const gate = new TurnGate(1);
    await gate.pass();
    await gate.pass();
    expect(gate.size).toBe(0);
  });
});
