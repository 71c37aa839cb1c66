/** The `exp` of a JWT (seconds since the epoch), read without verifying: only to know when to ask for a new one. */
export function tokenExp(token: string): number | undefined {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const exp = JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4))).exp;
    return typeof exp === "number" ? exp : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the token runs out within `seconds` (a token without a readable exp never does). */
export function expiresWithin(token: string, seconds: number): boolean {
  const exp = tokenExp(token);
  return exp !== undefined && exp - Date.now() / 1000 < seconds;
}
