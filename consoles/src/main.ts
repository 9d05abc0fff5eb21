// The consoles' entry: configuration, the return from the login, the page frame and the router.

import { h, notice, replace } from './dom';
import { lang, ROLES, setLang, tr, word } from './i18n';
import {
  active,
  completeOidcSignIn,
  endSessionUrl,
  loadConfig,
  rememberPlace,
  signOutLocally,
  takePlace,
  type Session,
} from './session';
import { signInPage } from './pages/signin';
import { reviewerPage } from './pages/reviewer';
import { counterPage } from './pages/counter';
import { adminPage } from './pages/admin';
import { verifierPage } from './pages/verifier';
import { fleetPage } from './pages/fleet';

export interface PageContext {
  root: HTMLElement;
  /** The route's segments after the console's name, decoded. */
  path: string[];
  query: URLSearchParams;
  session: Session;
}

/** What a page leaves running (key handlers, the camera) is stopped by what it returns. */
export type Cleanup = () => void;
type Page = (context: PageContext) => Promise<Cleanup | void> | Cleanup | void;

interface Console {
  name: string;
  roles: string[];
  title: () => string;
  page: Page;
}

const CONSOLES: Console[] = [
  { name: 'reviewer', roles: ['reviewer'], title: () => tr('照片审核', 'Photo review'), page: reviewerPage },
  { name: 'counter', roles: ['clerk'], title: () => tr('窗口办理', 'Counter'), page: counterPage },
  { name: 'admin', roles: ['admin'], title: () => tr('管理控制台', 'Administration'), page: adminPage },
  {
    name: 'verifier',
    roles: ['officer', 'relying_party'],
    title: () => tr('核验', 'Verify'),
    page: verifierPage,
  },
  { name: 'fleet', roles: ['fleet_manager'], title: () => tr('车队通行证', 'Fleet passes'), page: fleetPage },
];

let cleanup: Cleanup | void;
let rendering = 0;

function consolesOf(session: Session | null): Console[] {
  return CONSOLES.filter((c) => c.roles.some((role) => session?.claims.roles.includes(role)));
}

function frame(session: Session | null, currentName: string): { header: HTMLElement; main: HTMLElement } {
  const header = h(
    'header',
    { class: 'top' },
    h('a', { class: 'brand', href: '#/' }, tr('电子驾驶证 · 工作台', 'Electronic licence · Consoles')),
    h(
      'nav',
      { class: 'consoles', 'aria-label': tr('工作台', 'Consoles') },
      consolesOf(session).map((c) =>
        h('a', { href: `#/${c.name}`, 'aria-current': c.name === currentName ? 'page' : null }, c.title()),
      ),
    ),
    h(
      'div',
      { class: 'who' },
      h(
        'button',
        {
          type: 'button',
          class: 'link',
          lang: lang() === 'zh' ? 'en' : 'zh-CN',
          onclick: () => {
            setLang(lang() === 'zh' ? 'en' : 'zh');
            void render();
          },
        },
        lang() === 'zh' ? 'English' : '中文',
      ),
      session && [
        h(
          'span',
          { class: 'user', 'data-testid': 'user' },
          `${session.claims.sub} · ${session.claims.roles.map((r) => word(ROLES, r)).join('、')}`,
        ),
        h('button', { type: 'button', class: 'link', onclick: signOut }, tr('退出', 'Sign out')),
      ],
    ),
  );
  const main = h('main', { id: 'page', tabindex: '-1' });
  return { header, main };
}

function signOut(): void {
  const ended = active();
  signOutLocally();
  const url = endSessionUrl(ended);
  if (url) location.assign(url);
  else location.hash = '#/signin?signed-out';
}

function home(root: HTMLElement, session: Session): void {
  const mine = consolesOf(session);
  if (mine.length === 0) {
    replace(root, refusal(session, null));
    return;
  }
  replace(
    root,
    h('h1', null, tr('选择工作台', 'Choose a console')),
    h(
      'ul',
      { class: 'cards' },
      mine.map((c) => h('li', null, h('a', { class: 'card', href: `#/${c.name}` }, c.title()))),
    ),
  );
}

/** A plain refusal: this account may not use this console. */
function refusal(session: Session, wanted: Console | null): HTMLElement {
  const roles = session.claims.roles.map((r) => word(ROLES, r)).join('、') || tr('无', 'none');
  return h(
    'section',
    { class: 'refusal', 'data-testid': 'refusal' },
    h('h1', null, tr('无权使用', 'Not allowed')),
    h(
      'p',
      null,
      wanted
        ? tr(
            `“${wanted.title()}”需要${wanted.roles.map((r) => word(ROLES, r)).join('或')}角色；您当前的角色是：${roles}。`,
            `“${wanted.title()}” is for the role ${wanted.roles.map((r) => word(ROLES, r)).join(' or ')}; you are signed in as: ${roles}.`,
          )
        : tr(`您的角色（${roles}）没有可用的工作台。`, `Your roles (${roles}) have no console here.`),
    ),
    h(
      'p',
      null,
      h('a', { href: '#/' }, tr('返回首页', 'Back to the start')),
      ' · ',
      h('button', { type: 'button', class: 'link', onclick: signOut }, tr('换个账号登录', 'Sign in as someone else')),
    ),
  );
}

async function render(): Promise<void> {
  const ticket = ++rendering;
  if (cleanup) cleanup();
  cleanup = undefined;
  const [route = '', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [name = '', ...rest] = route.split('/');
  const path = rest.map((segment) => decodeURIComponent(segment));
  const session = active();
  const { header, main } = frame(session, name);
  document.body.replaceChildren(header, main);
  document.title = `${CONSOLES.find((c) => c.name === name)?.title() ?? tr('工作台', 'Consoles')} · ${tr('电子驾驶证', 'Electronic licence')}`;

  if (name === 'signin') {
    signInPage(main, new URLSearchParams(query));
    return;
  }
  if (!session) {
    // Signed out (or the token ended): sign in, then come back here.
    rememberPlace(location.hash || '#/');
    location.replace('#/signin');
    return;
  }
  if (name === '') {
    home(main, session);
    return;
  }
  const wanted = CONSOLES.find((c) => c.name === name);
  if (!wanted) {
    replace(main, notice('warn', tr('没有这个页面。', 'There is no such page.'), ' ', h('a', { href: '#/' }, tr('返回首页', 'Back to the start'))));
    return;
  }
  if (!wanted.roles.some((role) => session.claims.roles.includes(role))) {
    replace(main, refusal(session, wanted));
    return;
  }
  const left = await wanted.page({ root: main, path, query: new URLSearchParams(query), session });
  if (ticket === rendering) cleanup = left;
  else if (left) left();
}

async function boot(): Promise<void> {
  setLang(lang());
  try {
    await loadConfig();
  } catch (error) {
    document.body.replaceChildren(notice('error', tr('无法加载配置：', 'Cannot load the configuration: '), String(error)));
    return;
  }
  try {
    if (await completeOidcSignIn()) {
      location.replace(takePlace());
    }
  } catch (error) {
    sessionStorage.setItem('edl.signInError', String(error instanceof Error ? error.message : error));
    location.replace('#/signin?failed');
  }
  window.addEventListener('hashchange', () => void render());
  await render();
}

void boot();
