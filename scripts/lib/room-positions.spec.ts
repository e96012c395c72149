import { RoomPositions, positionOf } from './room-positions';

const at = (offset: number, epoch = 'e1') => ({ type: 'chat_message', offset, epoch });

describe('positionOf', () => {
  it('reads an integer offset and a string epoch', () => {
    expect(positionOf({ offset: 7, epoch: 'abc' })).toEqual({ offset: 7, epoch: 'abc' });
    expect(positionOf({ offset: 0, epoch: 'abc' })).toEqual({ offset: 0, epoch: 'abc' });
  });

  it.each([
    ['no fields', {}],
    ['no epoch', { offset: 3 }],
    ['no offset', { epoch: 'e' }],
    ['an empty epoch', { offset: 3, epoch: '' }],
    ['a fractional offset', { offset: 1.5, epoch: 'e' }],
    ['a negative offset', { offset: -1, epoch: 'e' }],
    ['an offset as text', { offset: '3', epoch: 'e' }],
    ['an epoch as a number', { offset: 3, epoch: 1 }],
  ])('finds none in a frame with %s', (_, frame) => {
    expect(positionOf(frame)).toBeUndefined();
  });
});

describe('RoomPositions', () => {
  it('knows nothing of a room it has not seen', () => {
    expect(new RoomPositions().get('lobby')).toBeUndefined();
  });

  it('moves forward with the broadcast frames of each room separately', () => {
    const positions = new RoomPositions();
    expect(positions.observe('lobby', at(1))).toBe('new');
    expect(positions.observe('lobby', at(2))).toBe('new');
    expect(positions.observe('kitchen', at(40, 'k'))).toBe('new');
    expect(positions.get('lobby')).toEqual({ offset: 2, epoch: 'e1' });
    expect(positions.get('kitchen')).toEqual({ offset: 40, epoch: 'k' });
  });

  it('calls a frame at or behind the known offset of the same epoch a duplicate, and stays', () => {
    const positions = new RoomPositions();
    positions.observe('lobby', at(5));
    expect(positions.observe('lobby', at(5))).toBe('duplicate');
    expect(positions.observe('lobby', at(3))).toBe('duplicate');
    expect(positions.get('lobby')).toEqual({ offset: 5, epoch: 'e1' });
  });

  it('keeps the last known position through frames without one (degraded)', () => {
    const positions = new RoomPositions();
    positions.observe('lobby', at(5));
    expect(positions.observe('lobby', { type: 'chat_message' })).toBe('unpositioned');
    expect(positions.get('lobby')).toEqual({ offset: 5, epoch: 'e1' });
  });

  it('follows a new epoch, whatever its offsets', () => {
    const positions = new RoomPositions();
    positions.observe('lobby', at(50));
    expect(positions.observe('lobby', at(1, 'e2'))).toBe('new');
    expect(positions.get('lobby')).toEqual({ offset: 1, epoch: 'e2' });
  });

  it('takes the position of joined as it is, backwards too (recovered:false)', () => {
    const positions = new RoomPositions();
    positions.observe('lobby', at(50));
    positions.joined('lobby', { type: 'joined', recovered: false, offset: 10, epoch: 'e1' });
    expect(positions.get('lobby')).toEqual({ offset: 10, epoch: 'e1' });
    expect(positions.observe('lobby', at(11))).toBe('new');
  });

  it('keeps its position through a joined without one', () => {
    const positions = new RoomPositions();
    positions.observe('lobby', at(50));
    positions.joined('lobby', { type: 'joined' });
    expect(positions.get('lobby')).toEqual({ offset: 50, epoch: 'e1' });
  });

  it('keeps its position through the joined of a server whose broker is away (offset 0, no epoch)', () => {
    const positions = new RoomPositions();
    positions.observe('lobby', at(50));
    positions.joined('lobby', { type: 'joined', recovered: false, offset: 0, epoch: '' });
    expect(positions.get('lobby')).toEqual({ offset: 50, epoch: 'e1' });
  });
});
