// Calling the HTTP API: the bearer token, problems (RFC 9457) turned into errors, and an ended session sent to sign-in.

import { replace, h, notice, type Child } from './dom';
import { tr } from './i18n';
import { active, currentConfig, rememberPlace, signOutLocally } from './session';

/** A problem document, or what stands for one when the answer was not one (a gateway, the network). */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly title: string,
    readonly detail: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(`${title}: ${detail}`);
  }

  /** The slug of `urn:edl:problem:<slug>`. */
  get slug(): string {
    return this.type.replace(/^urn:edl:problem:/, '');
  }
}

/** Thrown when the call cannot be made because the user must sign in (again); the page is already on its way there. */
export class SignInNeeded extends Error {}

/** Sends the user to sign in, keeping the place they were at. */
export function signInAgain(reason: 'expired' | 'signed-out'): never {
  rememberPlace(location.hash);
  signOutLocally();
  location.hash = `#/signin?${reason}`;
  throw new SignInNeeded(reason);
}

interface CallOptions {
  body?: unknown;
  /** Set for bodies that are not JSON (e.g. JSON Lines). */
  contentType?: string;
}

export async function call<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
  const session = active();
  if (!session) signInAgain('expired');
  const headers: Record<string, string> = { Authorization: `Bearer ${session.token}`, Accept: 'application/json' };
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['Content-Type'] = options.contentType ?? 'application/json';
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(`${currentConfig().api}${path}`, { method, headers, body });
  } catch (error) {
    throw new ApiProblem(
      0,
      'network',
      tr('无法连接服务', 'The service cannot be reached'),
      tr('请检查网络后重试。', 'Check the network and try again.') + ` (${String(error)})`,
    );
  }
  // API Gateway's JWT authorizer answers 401 with {"message":"Unauthorized"}; the local server with a problem.
  if (response.status === 401) signInAgain('expired');
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (response.ok) return parsed as T;
  const problem = (parsed && typeof parsed === 'object' ? parsed : {}) as Record<string, unknown>;
  const title = typeof problem.title === 'string' ? problem.title : response.statusText || `HTTP ${response.status}`;
  const detail =
    typeof problem.detail === 'string'
      ? problem.detail
      : typeof problem.message === 'string'
        ? problem.message
        : tr('服务暂时无法完成此操作，请稍后重试。', 'The service could not do this just now; try again shortly.');
  throw new ApiProblem(response.status, String(problem.type ?? 'about:blank'), title, detail, problem);
}

/** A problem in words: its title and detail, each reason and each field error it lists. */
export function problemView(error: unknown, ...extra: Child[]): HTMLElement | null {
  if (error instanceof SignInNeeded) return null;
  if (!(error instanceof ApiProblem)) {
    return notice('error', h('strong', null, tr('出现错误', 'Something went wrong')), ' ', String(error));
  }
  const reasons = Array.isArray(error.body.reasons) ? (error.body.reasons as { code?: string; message?: string }[]) : [];
  const errors = Array.isArray(error.body.errors)
    ? (error.body.errors as { field?: string; line?: number; message?: string }[])
    : [];
  return notice(
    'error',
    h('strong', { class: 'problem-title' }, error.title),
    h('p', { class: 'problem-detail' }, error.detail),
    reasons.length > 0 &&
      h(
        'ul',
        { class: 'problem-reasons' },
        reasons.map((r) => h('li', { 'data-code': r.code ?? '' }, r.message ?? r.code ?? '')),
      ),
    errors.length > 0 &&
      h(
        'ul',
        { class: 'problem-errors' },
        errors.map((e) =>
          h('li', null, [e.line ? tr(`第 ${e.line} 行 `, `line ${e.line} `) : '', e.field ? `${e.field}: ` : '', e.message ?? '']),
        ),
      ),
    ...extra,
  );
}

/** Shows a problem in `container` (nothing when the user is on the way to sign in). */
export function showProblem(container: Element, error: unknown): void {
  const view = problemView(error);
  if (view) replace(container, view);
}
