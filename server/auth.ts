import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import { z } from "zod";
import type { Config } from "./config";
import { AuthError } from "./errors";
import type { Role } from "./store/types";
import { ID_PATTERN } from "./ids";
import { textField } from "./text";

/** The verified identity of a connection, from the contract's claims. */
export interface Identity {
  sub: string;
  role: Role;
  name: string;
  teams: string[];
  /** the token's exp (seconds since the epoch): a connection lives no longer (server/policy/tokenExpiry.ts) */
  exp?: number;
  /** a connector's channel types (`channels` claim): the connector API refuses any other (server/channels/) */
  channels?: string[];
}

const claimsSchema = z.object({
  sub: z.string().regex(ID_PATTERN, "sub must match [A-Za-z0-9_-]{1,64}"),
  role: z.enum(["customer", "agent", "supervisor", "bot", "app", "connector"]),
  // shown to everyone in the room and stored with each message: normalised like every stored text
  name: textField(200).optional(),
  teams: z.array(z.string().regex(ID_PATTERN)).max(100).optional(),
  channels: z.array(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/)).max(32).optional(),
});

/** Bounded clock skew between the token issuer and this server. */
const CLOCK_TOLERANCE_SECONDS = 30;

/** What a token must satisfy besides its signature and claims (docs/security.md, token rules). */
export interface TokenRules {
  /** neither exp - iat nor exp - now may exceed this */
  maxLifetimeSeconds: number;
  /** when set, iss must be exactly this */
  issuer?: string;
  /** when set, aud must be (or contain) this */
  audience?: string;
}

export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 86_400;

/** The process' verifier: rooms, the HTTP API and `refresh` share it, so one set of rules holds everywhere. */
export function verifierFor(config: Pick<Config, "authSecret" | "authMaxTokenLifetimeSeconds" | "authIssuer" | "authAudience">) {
  return new TokenVerifier(config.authSecret, {
    maxLifetimeSeconds: config.authMaxTokenLifetimeSeconds, issuer: config.authIssuer, audience: config.authAudience,
  });
}

export class TokenVerifier {
  private key: Uint8Array;

  constructor(secret: string, private rules: TokenRules = { maxLifetimeSeconds: DEFAULT_MAX_TOKEN_LIFETIME_SECONDS }) {
    this.key = new TextEncoder().encode(secret);
  }

  async verify(token: string | undefined): Promise<Identity> {
    if (!token) { throw new AuthError("auth_missing", "a JWT is required (set client.auth.token)"); }
    let payload: { exp?: number; iat?: number };
    try {
      // algorithms pinned: `alg: none` and asymmetric-key confusion are refused here
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: ["HS256"],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        // a token without exp would be valid forever, and its connection with it
        requiredClaims: ["exp"],
        issuer: this.rules.issuer || undefined,
        audience: this.rules.audience || undefined,
      }));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) { throw new AuthError("auth_expired", "token expired"); }
      if (e instanceof joseErrors.JWTClaimValidationFailed) {
        if (e.claim === "exp" && e.reason === "missing") { throw new AuthError("auth_invalid", "token has no exp"); }
        throw new AuthError("auth_invalid", `token claim invalid: ${e.claim}${e.reason === "missing" ? " missing" : ""}`);
      }
      throw new AuthError("auth_invalid", "token invalid");
    }
    // jose checked that exp (required) and iat (when present) are numbers; an iat
    // in the future must not shorten the lifetime, hence both differences
    const exp = payload.exp!;
    const now = Math.floor(Date.now() / 1000);
    const lifetime = Math.max(exp - (payload.iat ?? now), exp - now);
    if (lifetime > this.rules.maxLifetimeSeconds) {
      throw new AuthError("auth_invalid", `token lifetime ${lifetime} s is over the maximum of ${this.rules.maxLifetimeSeconds} s`);
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) {
      throw new AuthError("auth_invalid", `token claims invalid: ${claims.error.issues[0]?.message ?? "bad claims"}`);
    }
    const { sub, role, name, teams, channels } = claims.data;
    return { sub, role, name: name ?? sub, teams: teams ?? [], exp, ...(channels ? { channels } : {}) };
  }
}

/**
 * Signs a token; used by tests, the load harness, the sample bot and the development
 * pages. With the configuration's AUTH_ISSUER / AUTH_AUDIENCE it sets iss / aud, so
 * the project's own tokens pass its verifier.
 */
export async function signToken(
  secret: string,
  identity: { sub: string; role: Role; name?: string; teams?: string[]; channels?: string[] },
  expiresIn: string | number = "1h",
  claims: Partial<Pick<Config, "authIssuer" | "authAudience">> = {},
): Promise<string> {
  const jwt = new SignJWT({
    role: identity.role, name: identity.name ?? identity.sub, teams: identity.teams ?? [],
    ...(identity.channels ? { channels: identity.channels } : {}),
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(identity.sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn);
  if (claims.authIssuer) { jwt.setIssuer(claims.authIssuer); }
  if (claims.authAudience) { jwt.setAudience(claims.authAudience); }
  return jwt.sign(new TextEncoder().encode(secret));
}
