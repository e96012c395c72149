import type { Publication, PublicationData } from '../rooms/publication';

/**
 * The format of a publication between instances, as `publish` in lua/library.lua writes it (the
 * only writer: every publication, chat or membership, goes through a script):
 * `<offset>:<epoch>:<kind><body>`, kind `f` (a serialized frame), `j` / `l` (a user joined /
 * left; the body is the user id), `J` / `L` (the same, already shown to its own members by the
 * instance named in the body, `<instance>\n<user>`: made by a resync after an outage). Epochs
 * contain no `:`.
 */
export interface DecodedPublication {
  publication: Publication;
  /** The instance whose members were already shown this change, if any. */
  shownBy?: string;
}

export function decodePublication(roomId: string, message: string): DecodedPublication | undefined {
  const first = message.indexOf(':');
  const second = first === -1 ? -1 : message.indexOf(':', first + 1);
  if (second === -1 || second + 1 >= message.length) return undefined;
  const offset = Number(message.slice(0, first));
  if (!Number.isSafeInteger(offset) || offset < 1) return undefined;
  const epoch = message.slice(first + 1, second);
  const decoded = decodeEntry(message.slice(second + 1));
  if (!decoded) return undefined;
  return { publication: { roomId, offset, epoch, data: decoded.data }, shownBy: decoded.shownBy };
}

function decodeEntry(entry: string): { data: PublicationData; shownBy?: string } | undefined {
  const kind = entry[0];
  const body = entry.slice(1);
  if (kind === 'J' || kind === 'L') {
    const newline = body.indexOf('\n');
    if (newline === -1) return undefined;
    const userId = body.slice(newline + 1);
    const data: PublicationData =
      kind === 'J' ? { kind: 'join', userId } : { kind: 'leave', userId };
    return { data, shownBy: body.slice(0, newline) };
  }
  const data = decodeData(kind, body);
  return data ? { data } : undefined;
}

function decodeData(kind: string | undefined, body: string): PublicationData | undefined {
  switch (kind) {
    case 'f':
      return { kind: 'frame', frame: body };
    case 'j':
      return { kind: 'join', userId: body };
    case 'l':
      return { kind: 'leave', userId: body };
    default:
      return undefined;
  }
}

/** A history entry (`<kind><body>`, the channel format without its position) at its position. */
export function decodeStored(
  roomId: string,
  position: { offset: number; epoch: string },
  entry: string,
): DecodedPublication | undefined {
  const decoded = decodeEntry(entry);
  if (!decoded) return undefined;
  return { publication: { roomId, ...position, data: decoded.data }, shownBy: decoded.shownBy };
}

/** The `kind` and `body` arguments of the publish script for `data`. */
export function encodeData(data: PublicationData): [kind: string, body: string] {
  switch (data.kind) {
    case 'frame':
      return ['f', data.frame];
    case 'join':
      return ['j', data.userId];
    case 'leave':
      return ['l', data.userId];
  }
}
