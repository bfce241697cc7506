import type { z } from 'zod';

/**
 * JSON text checked against a schema, or null when it is absent, not JSON or not valid: for
 * records written by other processes or versions (Redis, files a killed server may have torn).
 */
export function parseJson<T>(schema: z.ZodType<T>, text: string | null): T | null {
  if (text === null) return null;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
