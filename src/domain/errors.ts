/** One catalogue of stable error codes with their HTTP status; dialects map them to their own envelope. */
export const ERROR_STATUS = {
  BAD_JSON: 400,
  INVALID_BODY: 400,
  INVALID_SCHEDULE: 400,
  INVALID_ACTION: 400,
  INVALID_QUERY: 400,
  USER_NOT_ALLOWED: 400,
  BODY_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  INVALID_STATE: 409,
  NOT_LEADER: 503,
  UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class RotaError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'RotaError';
    this.status = ERROR_STATUS[code];
  }
}

export function isRotaError(e: unknown): e is RotaError {
  return e instanceof RotaError;
}

/** A lookup whose "no such thing" is an answer (null); any other failure, etcd being away included, still fails. */
export async function orNullIfNotFound<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof RotaError && err.code === 'NOT_FOUND') return null;
    throw err;
  }
}
