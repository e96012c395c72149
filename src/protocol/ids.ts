/** Identifiers accepted for users and rooms: no delimiter used in Redis keys (`{`, `}`, `\n`) can occur. */
export const ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;

// Keeps the pattern and its description in one place for error messages and docs.
export const ID_PATTERN_TEXT = '1 to 128 characters of [A-Za-z0-9_.:@-]';
