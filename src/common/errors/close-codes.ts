/**
 * WebSocket close codes the server uses. Failures not listed here answer an error frame and keep
 * the connection open. `reconnect` tells clients whether retrying (with backoff) can succeed.
 */
export const CloseCode = {
  /** Inbound message larger than MAX_PAYLOAD_BYTES (sent by `ws` itself). Do not resend it. */
  MessageTooBig: 1009,
  /** The server is restarting or draining; reconnect with jittered backoff. */
  ServiceRestart: 1012,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

export interface CloseCodeInfo {
  code: CloseCode | 1006;
  when: string;
  reconnect: boolean;
}

/** The table published in the README; kept beside the codes so both change together. */
export const CLOSE_CODE_TABLE: readonly CloseCodeInfo[] = [
  {
    code: CloseCode.MessageTooBig,
    when: 'a frame over MAX_PAYLOAD_BYTES',
    reconnect: true,
  },
  {
    code: CloseCode.ServiceRestart,
    when: 'graceful shutdown (SIGTERM/SIGINT, deploys)',
    reconnect: true,
  },
  {
    code: 1006,
    when: 'no pong within HEARTBEAT_INTERVAL_MS (connection terminated, no close frame)',
    reconnect: true,
  },
];
