import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import { z } from "zod";
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
}

const claimsSchema = z.object({
  sub: z.string().regex(ID_PATTERN, "sub must match [A-Za-z0-9_-]{1,64}"),
  role: z.enum(["customer", "agent", "supervisor", "bot", "app"]),
  // shown to everyone in the room and stored with each message: normalised like every stored text
  name: textField(200).optional(),
  teams: z.array(z.string().regex(ID_PATTERN)).max(100).optional(),
});

/** Bounded clock skew between the token issuer and this server. */
const CLOCK_TOLERANCE_SECONDS = 30;

export class TokenVerifier {
  private key: Uint8Array;

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async verify(token: string | undefined): Promise<Identity> {
    if (!token) { throw new AuthError("auth_missing", "a JWT is required (set client.auth.token)"); }
    let payload: unknown;
    try {
      // algorithms pinned: `alg: none` and asymmetric-key confusion are refused here
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: ["HS256"],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) { throw new AuthError("auth_expired", "token expired"); }
      if (e instanceof joseErrors.JWTClaimValidationFailed) { throw new AuthError("auth_invalid", `token claim invalid: ${e.claim}`); }
      throw new AuthError("auth_invalid", "token invalid");
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) {
      throw new AuthError("auth_invalid", `token claims invalid: ${claims.error.issues[0]?.message ?? "bad claims"}`);
    }
    const { sub, role, name, teams } = claims.data;
    return { sub, role, name: name ?? sub, teams: teams ?? [] };
  }
}

/** Signs a token; used by tests, the load harness and development pages. */
export async function signToken(
  secret: string,
  identity: { sub: string; role: Role; name?: string; teams?: string[] },
  expiresIn: string | number = "1h",
): Promise<string> {
  return new SignJWT({ role: identity.role, name: identity.name ?? identity.sub, teams: identity.teams ?? [] })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(identity.sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}
