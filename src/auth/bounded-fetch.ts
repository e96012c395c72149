import { request as httpRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface FetchLimits {
  /** The whole exchange: connect, headers and body. */
  timeoutMs: number;
  /** Body bytes read at most; one byte more abandons the response. */
  maxBytes: number;
}

/** Why a bounded fetch failed, in words safe to log (no body, no URL query). */
export class FetchFailed extends Error {
  override readonly name = 'FetchFailed';
}

/**
 * GETs `url` and returns its body, or throws FetchFailed: not 200, over `maxBytes` (announced by
 * Content-Length or counted as it arrives, the connection cut at once without buffering the
 * rest), or over `timeoutMs` in all, whichever part (headers, a stalled body) is slow. Redirects
 * are not followed.
 */
export function boundedGet(url: URL, limits: FetchLimits): Promise<Buffer> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<Buffer>((resolve, reject) => {
    let settled = false;
    const finish = (error: FetchFailed | undefined, body?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        outgoing.destroy();
        reject(error);
      } else {
        resolve(body as Buffer);
      }
    };
    const outgoing = request(url, { method: 'GET', headers: { accept: 'application/json' } });
    const timer = setTimeout(
      () => finish(new FetchFailed(`no complete answer within ${limits.timeoutMs} ms`)),
      limits.timeoutMs,
    );
    timer.unref();
    outgoing.on('error', (error) =>
      finish(new FetchFailed(`request failed (${errorCode(error)})`)),
    );
    outgoing.on('response', (response: IncomingMessage) => {
      if (response.statusCode !== 200) {
        return finish(new FetchFailed(`answered HTTP ${response.statusCode ?? 'without status'}`));
      }
      const announced = Number(response.headers['content-length']);
      if (Number.isFinite(announced) && announced > limits.maxBytes) {
        return finish(new FetchFailed(`body of ${announced} bytes is over ${limits.maxBytes}`));
      }
      const chunks: Buffer[] = [];
      let received = 0;
      response.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > limits.maxBytes) {
          finish(new FetchFailed(`body is over ${limits.maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () => finish(undefined, Buffer.concat(chunks)));
      response.on('error', () => finish(new FetchFailed('body cut off')));
      response.on('aborted', () => finish(new FetchFailed('body cut off')));
    });
    outgoing.end();
  });
}

function errorCode(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? code : error.name;
}
