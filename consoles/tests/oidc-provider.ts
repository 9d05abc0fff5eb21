// A small OpenID Connect provider on loopback for the sign-in tests: discovery, a login page, the authorization code
// with PKCE (S256) checked at the token endpoint, and logout. Its access tokens are the local server's own, minted
// through /_dev/tokens, since in AWS the HTTP API accepts what the authority's login issues.

import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Identity {
  /** The button's text on the login page. */
  label: string;
  role: string;
  sub: string;
}

export interface ProviderOptions {
  clientId: string;
  redirectUri: string;
  /** The consoles' origin: the only one the discovery document and the token endpoint answer across origins. */
  consoleOrigin: string;
  identities: Identity[];
  /** The access token for an identity (the local server's development token). */
  mint: (identity: Identity) => Promise<string>;
}

export interface TokenExchange {
  ok: boolean;
  error?: string;
}

export interface Provider {
  issuer: string;
  /** Every request to the token endpoint, with how it ended. */
  exchanges: TokenExchange[];
  close: () => Promise<void>;
}

interface Grant {
  identity: Identity;
  challenge: string;
  redirectUri: string;
  nonce: string;
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

async function body(request: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export async function startProvider(options: ProviderOptions): Promise<Provider> {
  const grants = new Map<string, Grant>();
  const exchanges: TokenExchange[] = [];
  const secret = randomBytes(32);
  let issuer = '';

  const json = (response: ServerResponse, status: number, value: unknown) => {
    response.writeHead(status, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-store',
      'Access-Control-Allow-Origin': options.consoleOrigin,
      Vary: 'Origin',
    });
    response.end(JSON.stringify(value));
  };
  const idToken = (identity: Identity, nonce: string) => {
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const payload = base64url(JSON.stringify({ iss: issuer, aud: options.clientId, sub: identity.sub, nonce, iat: now, exp: now + 300 }));
    const signature = base64url(createHmac('sha256', secret).update(`${header}.${payload}`).digest());
    return `${header}.${payload}.${signature}`;
  };
  /** Checks an authorization request; the error in words, or null. */
  const invalid = (query: URLSearchParams): string | null => {
    if (query.get('client_id') !== options.clientId) return 'unknown client_id';
    if (query.get('redirect_uri') !== options.redirectUri) return 'redirect_uri is not registered';
    if (query.get('response_type') !== 'code') return 'response_type must be code';
    if (query.get('code_challenge_method') !== 'S256' || !query.get('code_challenge')) return 'PKCE with S256 is required';
    if (!query.get('state') || !query.get('nonce')) return 'state and nonce are required';
    return null;
  };

  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', issuer);
    try {
      if (request.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
        return json(response, 200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          end_session_endpoint: `${issuer}/logout`,
          response_types_supported: ['code'],
          grant_types_supported: ['authorization_code'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['none'],
        });
      }
      if (request.method === 'GET' && url.pathname === '/authorize') {
        const problem = invalid(url.searchParams);
        if (problem) {
          response.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' });
          return response.end(problem);
        }
        const hidden = [...url.searchParams].map(([k, v]) => `<input type="hidden" name="${k}" value="${v.replace(/"/g, '&quot;')}">`).join('');
        const buttons = options.identities.map((identity, i) => `<button name="identity" value="${i}">${identity.label}</button>`).join(' ');
        response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        return response.end(`<!doctype html><meta charset="utf-8"><title>统一身份认证</title><h1>统一身份认证（测试）</h1><form method="post" action="/login">${hidden}${buttons}</form>`);
      }
      if (request.method === 'POST' && url.pathname === '/login') {
        const form = await body(request);
        const identity = options.identities[Number(form.get('identity'))];
        const problem = invalid(form) ?? (identity ? null : 'unknown identity');
        if (problem || !identity) {
          response.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' });
          return response.end(problem);
        }
        const code = base64url(randomBytes(24));
        grants.set(code, {
          identity,
          challenge: form.get('code_challenge') ?? '',
          redirectUri: form.get('redirect_uri') ?? '',
          nonce: form.get('nonce') ?? '',
        });
        const back = new URL(options.redirectUri);
        back.search = new URLSearchParams({ code, state: form.get('state') ?? '', iss: issuer }).toString();
        response.writeHead(302, { Location: back.toString() });
        return response.end();
      }
      if (request.method === 'POST' && url.pathname === '/token') {
        const form = await body(request);
        const code = form.get('code') ?? '';
        const grant = grants.get(code);
        grants.delete(code); // single use, whatever happens
        const refuse = (error: string, description: string) => {
          exchanges.push({ ok: false, error });
          json(response, 400, { error, error_description: description });
        };
        if (form.get('grant_type') !== 'authorization_code') return refuse('unsupported_grant_type', 'authorization_code only');
        if (!grant) return refuse('invalid_grant', 'unknown or used code');
        if (form.get('client_id') !== options.clientId) return refuse('invalid_client', 'unknown client');
        if (form.get('redirect_uri') !== grant.redirectUri) return refuse('invalid_grant', 'redirect_uri differs');
        // RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) must equal the code_challenge.
        const verifier = form.get('code_verifier') ?? '';
        if (base64url(createHash('sha256').update(verifier).digest()) !== grant.challenge) {
          return refuse('invalid_grant', 'PKCE verification failed');
        }
        const accessToken = await options.mint(grant.identity);
        exchanges.push({ ok: true });
        return json(response, 200, {
          access_token: accessToken,
          id_token: idToken(grant.identity, grant.nonce),
          token_type: 'Bearer',
          expires_in: 3600,
        });
      }
      if (request.method === 'GET' && url.pathname === '/logout') {
        const to = url.searchParams.get('post_logout_redirect_uri');
        if (to !== options.redirectUri) {
          response.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' });
          return response.end('post_logout_redirect_uri is not registered');
        }
        response.writeHead(302, { Location: to });
        return response.end();
      }
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('not found');
    } catch (error) {
      response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      response.end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    exchanges,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
