import { StratusError } from '../../sdk/core/errors';
import type { Principal } from '../../sdk/core/identity';
import { SessionTokens } from './session-tokens';
import type { TokenStore } from './tokens';

const HINT = 'pass a token with --token, STRATUS_TOKEN or the profile written by stratus dev';

/** Turns a bearer token into the principal it stands for: an API token's user, or a function's role credentials. */
export class Authenticator {
  constructor(
    private readonly tokens: TokenStore,
    private readonly sessions: SessionTokens,
  ) {}

  async authenticate(token: string | undefined): Promise<Principal> {
    if (!token) throw new StratusError('Unauthenticated', `no bearer token on the request: ${HINT}`);
    if (SessionTokens.looksLike(token)) return this.sessions.verify(token);
    return this.tokens.principalFor(token);
  }
}
