/**
 * WebSocket close codes the server sends. Every other failure answers an error frame and keeps the
 * connection open. Application codes follow one rule without exception, as Centrifugo's do:
 * 4000–4499 mean "reconnect (with backoff)", 4500–4999 mean "do not reconnect". New ones go here
 * and in CLOSE_CODE_TABLE (a test checks that every code the server sends is in the table).
 */
export const CloseCode = {
  /** Rate or error abuse, no join within JOIN_TIMEOUT_MS, or failed first-frame authentication. */
  PolicyViolation: 1008,
  /** Inbound message larger than MAX_PAYLOAD_BYTES (sent by `ws` itself). */
  MessageTooBig: 1009,
  /** The server failed to set up the connection. */
  InternalError: 1011,
  /** The server is restarting or draining. */
  ServiceRestart: 1012,
  /** The client reads too slowly (MAX_BUFFERED_BYTES), or no user slot was free for a first-frame login. */
  TryAgainLater: 1013,
  /** The token expired and no valid `refresh` came within AUTH_REFRESH_GRACE_MS: reconnect with a new token. */
  TokenExpired: 4001,
  /** The user already holds MAX_CONNECTIONS_PER_USER connections (after a first-frame authentication). */
  TooManyConnectionsForUser: 4503,
  /** A backend disconnected the user (`user.disconnect`): do not reconnect. */
  DisconnectedByBackend: 4500,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Reason strings of the authentication closes, as the README states them. */
export const AuthCloseReason = {
  AuthenticationFailed: 'authentication failed',
  AuthenticationTimeout: 'authentication timeout',
  TokenExpired: 'token expired',
  TooManyConnectionsForUser: 'too many connections for this user',
  ServerFull: 'server full',
} as const;

/** Application close codes a client should retry after backoff. */
export const RECONNECT_RANGE = { from: 4000, to: 4499 } as const;
/** Application close codes a client must not retry. */
export const NO_RECONNECT_RANGE = { from: 4500, to: 4999 } as const;

export interface CloseCodeRow {
  code: number;
  when: string;
  reconnect: 'yes' | 'no' | 'after fixing the cause';
}

/** The table the README publishes (a test keeps the two equal). */
export const CLOSE_CODE_TABLE: readonly CloseCodeRow[] = [
  {
    code: 1002,
    when: 'a malformed WebSocket frame (sent by `ws`)',
    reconnect: 'after fixing the cause',
  },
  {
    code: 1007,
    when: 'a text frame that is not valid UTF-8 (sent by `ws`)',
    reconnect: 'after fixing the cause',
  },
  {
    code: CloseCode.PolicyViolation,
    when: 'more than ABUSE_ERRORS_MAX error frames within ABUSE_WINDOW_MS (`unavailable` and `internal` do not count)',
    reconnect: 'after fixing the cause',
  },
  {
    code: CloseCode.PolicyViolation,
    when: 'no join within JOIN_TIMEOUT_MS of connecting',
    reconnect: 'after fixing the cause',
  },
  {
    code: CloseCode.PolicyViolation,
    when: 'AUTH_MODE=jwt, no token at the handshake, and a first frame other than `Bearer <jwt>` with a valid token',
    reconnect: 'after fixing the cause',
  },
  {
    code: CloseCode.PolicyViolation,
    when: 'AUTH_MODE=jwt, no token at the handshake, and no first frame within AUTH_TIMEOUT_MS',
    reconnect: 'after fixing the cause',
  },
  {
    code: CloseCode.MessageTooBig,
    when: 'a frame over MAX_PAYLOAD_BYTES',
    reconnect: 'after fixing the cause',
  },
  {
    code: CloseCode.InternalError,
    when: 'the server failed to set up the connection',
    reconnect: 'yes',
  },
  {
    code: CloseCode.ServiceRestart,
    when: 'graceful shutdown (SIGTERM/SIGINT, deploys)',
    reconnect: 'yes',
  },
  {
    code: CloseCode.TryAgainLater,
    when: 'more than MAX_BUFFERED_BYTES queued for a client that reads too slowly',
    reconnect: 'yes',
  },
  {
    code: CloseCode.TryAgainLater,
    when: 'AUTH_MODE=jwt, a valid first-frame token while MAX_CONNECTIONS users are connected',
    reconnect: 'yes',
  },
  {
    code: CloseCode.TokenExpired,
    when: 'the token expired and no valid `refresh` came within AUTH_REFRESH_GRACE_MS',
    reconnect: 'yes',
  },
  {
    code: CloseCode.DisconnectedByBackend,
    when: 'a backend called `user.disconnect` for the user (the reason is the call’s `reason`)',
    reconnect: 'no',
  },
  {
    code: CloseCode.TooManyConnectionsForUser,
    when: 'the user already holds MAX_CONNECTIONS_PER_USER connections (after a first-frame authentication)',
    reconnect: 'no',
  },
  {
    code: 1006,
    when: 'no pong within HEARTBEAT_INTERVAL_MS, or the network dropped (no close frame)',
    reconnect: 'yes',
  },
];
