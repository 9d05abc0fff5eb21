// Who is signed in: the token held in memory only, the development sign-in, and OpenID Connect with PKCE.
//
// The bearer token never touches web storage: a script injected into the page could read it there,
// and it would outlive the tab. Session storage keeps only what a redirect must carry (the PKCE
// verifier, the state, where to come back to), none of which lets anyone call the API.

export interface OidcConfig {
  issuer: string;
  clientId: string;
  scope?: string;
  redirectUri?: string;
}

export interface Config {
  /** `development`: the local server's role picker; `oidc`: the authority's login. */
  signIn: 'development' | 'oidc';
  /** Base URL of the HTTP API; empty when it is served from the consoles' own origin. */
  api: string;
  oidc?: OidcConfig;
}

export interface Claims {
  sub: string;
  roles: string[];
  office?: string;
  org?: string;
}

export interface Session {
  token: string;
  claims: Claims;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  /** Where the OpenID provider ends its own session, if it says. */
  endSession?: string;
}

export interface DevSignIn {
  role: string;
  sub?: string;
  office?: string;
  org?: string;
}

const RETURN_KEY = 'edl.returnTo';
const PENDING_KEY = 'edl.oidc.pending';
const DEV_IDENTITY_KEY = 'edl.dev.identity';
/** A token this close to its end is treated as ended, so no call fails half-way. */
const SKEW_MS = 10_000;

let session: Session | null = null;
let config: Config = { signIn: 'development', api: '' };

export class SignInFailed extends Error {}

export async function loadConfig(): Promise<Config> {
  const response = await fetch(new URL('config.json', document.baseURI), { cache: 'no-store' });
  if (!response.ok) throw new SignInFailed(`config.json: HTTP ${response.status}`);
  const loaded = (await response.json()) as Partial<Config>;
  config = {
    signIn: loaded.signIn === 'oidc' ? 'oidc' : 'development',
    api: (loaded.api ?? '').replace(/\/+$/, ''),
    oidc: loaded.oidc,
  };
  if (config.signIn === 'oidc' && (!config.oidc?.issuer || !config.oidc.clientId)) {
    throw new SignInFailed('config.json: oidc.issuer and oidc.clientId are required for OpenID Connect sign-in');
  }
  return config;
}

export function currentConfig(): Config {
  return config;
}

/** The signed-in session, or null when there is none or it has ended. */
export function active(): Session | null {
  if (session && Date.now() >= session.expiresAt - SKEW_MS) session = null;
  return session;
}

export function hasRole(role: string): boolean {
  return active()?.claims.roles.includes(role) ?? false;
}

export function signOutLocally(): void {
  session = null;
}

/** Remembers where the user was, so that signing in again brings them back there. */
export function rememberPlace(hash: string): void {
  if (hash && !hash.startsWith('#/signin')) sessionStorage.setItem(RETURN_KEY, hash);
}

export function takePlace(): string {
  const place = sessionStorage.getItem(RETURN_KEY) ?? '#/';
  sessionStorage.removeItem(RETURN_KEY);
  return place;
}

/** The claims of a JWT, read without verifying: only to show the right pages; the API verifies. */
export function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split('.')[1];
  if (!payload) throw new SignInFailed('the token is not a JWT');
  const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
  const bytes = Uint8Array.from(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, '=')), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}

function startSession(token: string, expiresIn: number | undefined, endSession?: string): Session {
  const raw = claimsOf(token);
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const roles = Array.isArray(raw.roles) ? raw.roles.map(String) : String(raw.roles ?? '').split(/\s+/);
  // The token's life is counted from now on this machine's clock, so that a clock set wrong does
  // not end a session at once (or never): `expires_in` when the login says, else `exp - iat`.
  const issuedFor =
    typeof raw.exp === 'number' && typeof raw.iat === 'number' ? raw.exp - raw.iat : undefined;
  const seconds = expiresIn ?? issuedFor ?? 3600;
  session = {
    token,
    claims: {
      sub: String(raw.sub ?? ''),
      roles: roles.filter((r) => r !== ''),
      office: text(raw.office),
      org: text(raw.org),
    },
    expiresAt: Date.now() + seconds * 1000,
    endSession,
  };
  return session;
}

// --- Development sign-in (the local server only) ---------------------------------------------

export function lastDevIdentity(): DevSignIn | null {
  const stored = sessionStorage.getItem(DEV_IDENTITY_KEY);
  return stored ? (JSON.parse(stored) as DevSignIn) : null;
}

export async function signInDevelopment(identity: DevSignIn): Promise<Session> {
  const body: Record<string, unknown> = { role: identity.role };
  for (const key of ['sub', 'office', 'org'] as const) {
    if (identity[key]) body[key] = identity[key];
  }
  const response = await fetch(`${config.api}/_dev/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await response.json().catch(() => ({}))) as { token?: string; detail?: string };
  if (!response.ok || !answer.token) {
    throw new SignInFailed(answer.detail ?? `HTTP ${response.status}`);
  }
  // Who signed in (not the token) is kept, so that signing in again after it ends is one click.
  sessionStorage.setItem(DEV_IDENTITY_KEY, JSON.stringify(identity));
  return startSession(answer.token, undefined);
}

// --- OpenID Connect: authorization code with PKCE (RFC 7636) ---------------------------------

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  end_session_endpoint?: string;
}

interface Pending {
  state: string;
  nonce: string;
  verifier: string;
  redirectUri: string;
  tokenEndpoint: string;
  endSession?: string;
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

function random(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function discover(oidc: OidcConfig): Promise<Discovery> {
  const issuer = oidc.issuer.replace(/\/+$/, '');
  const response = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (!response.ok) throw new SignInFailed(`the login's discovery document answered HTTP ${response.status}`);
  const discovery = (await response.json()) as Discovery;
  // OpenID Connect Discovery 1.0 §4.3: the document must name the issuer we asked.
  if (discovery.issuer.replace(/\/+$/, '') !== issuer) {
    throw new SignInFailed(`the login's discovery document names another issuer (${discovery.issuer})`);
  }
  return discovery;
}

function redirectUri(oidc: OidcConfig): string {
  return oidc.redirectUri ?? `${location.origin}${location.pathname}`;
}

/** Sends the browser to the authority's login; it comes back with a code. */
export async function beginOidcSignIn(): Promise<void> {
  const oidc = config.oidc;
  if (!oidc) throw new SignInFailed('no OpenID Connect configuration');
  const discovery = await discover(oidc);
  const pending: Pending = {
    state: random(),
    nonce: random(),
    verifier: random(48),
    redirectUri: redirectUri(oidc),
    tokenEndpoint: discovery.token_endpoint,
    endSession: discovery.end_session_endpoint,
  };
  const challenge = base64url(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(pending.verifier))),
  );
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: oidc.clientId,
    redirect_uri: pending.redirectUri,
    scope: oidc.scope ?? 'openid',
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  location.assign(url.toString());
}

/**
 * Finishes a sign-in when the login has sent the browser back (`?code=&state=` or `?error=`):
 * null when this page load is not such a return.
 */
export async function completeOidcSignIn(): Promise<Session | null> {
  const query = new URLSearchParams(location.search);
  if (!query.has('state') || !(query.has('code') || query.has('error'))) return null;
  const stored = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  // The code is single-use and must not stay in the address bar or the history.
  history.replaceState(null, '', `${location.pathname}${location.hash}`);
  if (!stored) throw new SignInFailed('this sign-in was not started here (or was already completed)');
  const pending = JSON.parse(stored) as Pending;
  if (query.get('state') !== pending.state) throw new SignInFailed('the login answered for another sign-in (state)');
  if (query.has('error')) {
    throw new SignInFailed(`${query.get('error')}: ${query.get('error_description') ?? ''}`.trim());
  }
  const oidc = config.oidc;
  if (!oidc) throw new SignInFailed('no OpenID Connect configuration');
  const response = await fetch(pending.tokenEndpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: query.get('code') ?? '',
      redirect_uri: pending.redirectUri,
      client_id: oidc.clientId,
      code_verifier: pending.verifier,
    }),
  });
  const tokens = (await response.json().catch(() => ({}))) as {
    access_token?: string;
    id_token?: string;
    expires_in?: number;
    error?: string;
    error_description?: string;
  };
  if (!response.ok || !tokens.access_token) {
    throw new SignInFailed(tokens.error_description ?? tokens.error ?? `the token endpoint answered HTTP ${response.status}`);
  }
  if (tokens.id_token) {
    // OpenID Connect Core §3.1.3.7: the ID token came straight from the token endpoint over TLS,
    // so its issuer, audience and nonce are checked; the API verifies the access token's signature.
    const id = claimsOf(tokens.id_token);
    const audience = Array.isArray(id.aud) ? id.aud : [id.aud];
    if (String(id.iss).replace(/\/+$/, '') !== oidc.issuer.replace(/\/+$/, '') || !audience.includes(oidc.clientId)) {
      throw new SignInFailed('the ID token is for another issuer or client');
    }
    if (id.nonce !== pending.nonce) throw new SignInFailed('the ID token answers another sign-in (nonce)');
  }
  return startSession(tokens.access_token, tokens.expires_in, pending.endSession);
}

/** Where to send the browser to end the login's own session too, if anywhere. */
export function endSessionUrl(ended: Session | null): string | null {
  if (!ended?.endSession || !config.oidc) return null;
  const url = new URL(ended.endSession);
  url.searchParams.set('client_id', config.oidc.clientId);
  url.searchParams.set('post_logout_redirect_uri', redirectUri(config.oidc));
  return url.toString();
}
