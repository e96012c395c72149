/** Where a room's history stream stands: the offset of a publication, in the stream `epoch`. */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

/** What a broadcast frame is to the client that receives it (`RoomPositions.observe`). */
export type Observation = 'new' | 'duplicate' | 'unpositioned';

/**
 * The `offset` and `epoch` a frame carries, or undefined when it carries no usable pair (a frame
 * sent while Redis was away, or by a server without history).
 */
export function positionOf(frame: Readonly<Record<string, unknown>>): StreamPosition | undefined {
  const { offset, epoch } = frame;
  if (typeof epoch !== 'string' || epoch === '') return undefined;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return undefined;
  return { offset, epoch };
}

/**
 * The last position the client saw per room, to rejoin with `since` after a drop. Broadcast frames
 * move it forward; a `joined` sets it, backwards too (a `recovered:false` starts over from the
 * room's current position, in a new epoch or not). A frame without a position leaves it as it is.
 */
export class RoomPositions {
  private readonly positions = new Map<string, StreamPosition>();

  /** The last position seen in `roomId`, if any. */
  get(roomId: string): StreamPosition | undefined {
    return this.positions.get(roomId);
  }

  /**
   * Records a frame broadcast to `roomId`. One at or behind the known position of the same epoch
   * was seen already ('duplicate': live delivery is at-least-once where the server resynchronises
   * after a gap); one of another epoch starts that epoch.
   */
  observe(roomId: string, frame: Readonly<Record<string, unknown>>): Observation {
    const position = positionOf(frame);
    if (!position) return 'unpositioned';
    const known = this.positions.get(roomId);
    if (known && known.epoch === position.epoch && position.offset <= known.offset) {
      return 'duplicate';
    }
    this.positions.set(roomId, position);
    return 'new';
  }

  /** Sets `roomId`'s position from its `joined` frame; one without a position changes nothing. */
  joined(roomId: string, frame: Readonly<Record<string, unknown>>): void {
    const position = positionOf(frame);
    if (position) this.positions.set(roomId, position);
  }
}
