/** Identifiers accepted for users and rooms: no delimiter used in Redis keys (`{`, `}`, `\n`) can occur. */
export const ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;

// Keeps the pattern and its description in one place for error messages and docs.
export const ID_PATTERN_TEXT = '1 to 128 characters of [A-Za-z0-9_.:@-]';

/**
 * Room patterns of a token's `rooms` and `publish` claims and of AUTH_DEFAULT_ROOMS: id characters
 * plus `*`, which matches any run of characters (none included). Nothing else is special.
 */
export const ROOM_PATTERN = /^[A-Za-z0-9_.:@*-]{1,256}$/;

export const ROOM_PATTERN_TEXT = '1 to 256 characters of [A-Za-z0-9_.:@-] and *';
