import type { Publication, PublicationData } from '../rooms/publication';

/**
 * The format of a publication between instances, as `publish` in lua/library.lua writes it (the
 * only writer: every publication, chat or membership, goes through a script):
 * `<offset>:<epoch>:<kind><body>`, kind `f` (a serialized frame), `j` / `l` (a user joined /
 * left; the body is `<ms>\n<user>`, `<ms>` when it happened, Redis' clock). `J` / `L` (the same,
 * already shown to its own members by the instance named in the body, `<ms>\n<instance>\n<user>`)
 * are written by earlier versions only: read still, as their entries may sit in a room's stream
 * during a rolling deploy and after it. Epochs contain no `:`. A membership body without its `<ms>`
 * (`<user>`, `<instance>\n<user>`: a history entry or an instance that does not stamp) is read
 * with no time: no id contains a newline and no instance id is all digits, so the two cannot be
 * mistaken.
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
  if (kind === 'f') return { data: { kind: 'frame', frame: body } };
  if (kind !== 'j' && kind !== 'l' && kind !== 'J' && kind !== 'L') return undefined;
  const timed = MEMBERSHIP_TIME.exec(body);
  const at = timed ? Number(timed[1]) : undefined;
  let userId = timed ? body.slice(timed[0].length) : body;
  let shownBy: string | undefined;
  if (kind === 'J' || kind === 'L') {
    const newline = userId.indexOf('\n');
    if (newline === -1) return undefined;
    shownBy = userId.slice(0, newline);
    userId = userId.slice(newline + 1);
  }
  const change = kind === 'j' || kind === 'J' ? 'join' : 'leave';
  const data: PublicationData = { kind: change, userId, ...(at !== undefined && { at }) };
  return shownBy === undefined ? { data } : { data, shownBy };
}

/** The time a membership body starts with: `<ms>\n`. */
const MEMBERSHIP_TIME = /^(\d{1,15})\n/;

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

/**
 * The `kind` and `body` arguments of the publish script for `data`. A membership change's time is
 * not sent: the script writes Redis' own clock (`at` is what it was, read back by decoding).
 */
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
