import type { Publication, PublicationData } from '../rooms/publication';

/**
 * The format of a publication between instances, as `publish` in lua/library.lua writes it (the
 * only writer: every publication, chat or membership, goes through a script):
 * `<offset>:<epoch>:<kind><body>`, kind `f` (a serialized frame), `j` / `l` (a user joined /
 * left; the body is the user id). Epochs contain no `:`.
 */
export function decodePublication(roomId: string, message: string): Publication | undefined {
  const first = message.indexOf(':');
  const second = first === -1 ? -1 : message.indexOf(':', first + 1);
  if (second === -1 || second + 1 >= message.length) return undefined;
  const offset = Number(message.slice(0, first));
  if (!Number.isSafeInteger(offset) || offset < 1) return undefined;
  const epoch = message.slice(first + 1, second);
  const body = message.slice(second + 2);
  const data = decodeData(message[second + 1], body);
  return data ? { roomId, offset, epoch, data } : undefined;
}

function decodeData(kind: string, body: string): PublicationData | undefined {
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

/** The data of a history entry (`<kind><body>`, the channel format without its position). */
export function decodeStored(entry: string): PublicationData | undefined {
  return entry.length === 0 ? undefined : decodeData(entry[0], entry.slice(1));
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
