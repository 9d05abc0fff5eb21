// Building the pages: a small element helper, times in the authority's time zone, and shared bits of layout.

import { lang, tr } from './i18n';

export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | null | undefined | ((event: Event) => void);
export type Attrs = Record<string, AttrValue>;

/** An element with attributes (`on...` adds a listener; `true` sets an empty attribute) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'value' && 'value' in element) {
      (element as HTMLInputElement).value = String(value);
    } else if (name === 'checked' && element instanceof HTMLInputElement) {
      element.checked = value === true;
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

/** Appends children (nested lists, and nothing for null or false) to `parent`. */
export function add(parent: Node, ...children: Child[]): void {
  append(parent, children);
}

function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces everything inside `parent`. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

// The authority works on Beijing time; the browser may be set to anything.
const ZONE = 'Asia/Shanghai';

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return new Intl.DateTimeFormat(lang() === 'zh' ? 'zh-CN' : 'en-GB', {
    timeZone: ZONE,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  }).format(at);
}

/** A `datetime-local` value (Beijing time) as RFC 3339 with its +08:00 offset. */
export function beijingToRfc3339(local: string): string {
  return `${local.length === 16 ? `${local}:00` : local}+08:00`;
}

/** Today's date in Beijing, `YYYY-MM-DD`, `days` later. */
export function beijingDate(days = 0): string {
  const at = new Date(Date.now() + days * 86_400_000);
  return new Intl.DateTimeFormat('en-CA', { timeZone: ZONE }).format(at);
}

/** "3 h 20 min left" or "2 h overdue", from now to `iso`. */
export function timeLeft(iso: string): { text: string; overdue: boolean } {
  const ms = new Date(iso).getTime() - Date.now();
  const overdue = ms <= 0;
  const minutes = Math.floor(Math.abs(ms) / 60_000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  const span =
    days > 0
      ? tr(`${days} 天 ${hours} 小时`, `${days} d ${hours} h`)
      : hours > 0
        ? tr(`${hours} 小时 ${mins} 分`, `${hours} h ${mins} min`)
        : tr(`${mins} 分钟`, `${mins} min`);
  return { overdue, text: overdue ? tr(`逾期 ${span}`, `${span} overdue`) : tr(`剩余 ${span}`, `${span} left`) };
}

/** A definition list of label/value pairs, skipping empty values. */
export function facts(rows: [string, Child][]): HTMLDListElement {
  return h(
    'dl',
    { class: 'facts' },
    rows.filter(([, value]) => value !== null && value !== undefined && value !== '').map(([label, value]) => [
      h('dt', null, label),
      h('dd', null, value),
    ]),
  );
}

/** A short-lived message at the top of the page (polite for screen readers). */
export function notice(kind: 'ok' | 'warn' | 'error', ...children: Child[]): HTMLDivElement {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

/** Tabs as links, the current one marked for assistive technology. */
export function tabs(items: { href: string; label: string; current: boolean }[]): HTMLElement {
  return h(
    'nav',
    { class: 'tabs', 'aria-label': tr('分页', 'Sections') },
    items.map((item) => h('a', { href: item.href, 'aria-current': item.current ? 'page' : null }, item.label)),
  );
}

/** A loading placeholder. */
export function loading(): HTMLParagraphElement {
  return h('p', { class: 'loading', role: 'status' }, tr('正在加载…', 'Loading…'));
}

/** Renders the current route again (the router listens for hash changes). */
export function refresh(): void {
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}
