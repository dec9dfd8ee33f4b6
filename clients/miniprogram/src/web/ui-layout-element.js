'use strict';
/**
 * `<ui-layout>` for web pages (H5): a custom element that draws a layout document the way the
 * console's phones draw it (uiserver/http/preview/h5.py and templates/h5.html): the same view
 * model as the mini-program renderer (components/ui-layout/view-model.js), a navigation bar with
 * the `top_left` / `top_right` actions around the title, the page flow, floating actions, and a
 * bottom action bar of three physical cells (left / center / right follow the thumb, so an RTL
 * page keeps them). Each component is the element its role maps to (button -> <button>,
 * navigation -> <nav>, search -> a labelled search input, list -> a titled <ul>, image -> <img
 * alt>...), at its own `font_px`, with `min_target_px` as the min-height and min-width of what it
 * makes tappable, in the theme's palette. Labels and props are text, never markup.
 *
 * A tap on a component dispatches `action` ({id, type, role, placement, props, page}, as the
 * mini-program component's event) and, unless the `no-track` attribute is set, feeds the client
 * (`element.client`, else the registry's) `track(page, id, "click", {version, mode})`.
 * Impressions are measured as on the mini-programs (impressions.js): a component at least
 * `impression-ratio` (0.5) visible for `impression-ms` (800) through the page's
 * IntersectionObserver, once per launch (page and template version), with the version and mode
 * drawn; a dwell cut by the page hiding does not count, and a page without IntersectionObserver
 * draws without impressions.
 *
 * Not loaded by the package's main module (mini-programs have no DOM): a web build imports
 * `uiserver-miniprogram/src/web/ui-layout-element` and calls `defineUiLayout(window)`.
 */

const { viewModel, gridColumns } = require('../components/ui-layout/view-model');
const { createMeasure, actionDetail, trackDrawn } = require('../components/ui-layout/measure');
const registry = require('../registry');

/** @typedef {import('../components/ui-layout/view-model').Item} Item */
/** @typedef {import('../components/ui-layout/view-model').ViewModel} ViewModel */

/** @type {Record<string, string>} role -> how it is drawn (h5.py KIND_BY_ROLE) */
const KIND_BY_ROLE = {
  navigation: 'nav', tablist: 'nav', button: 'button', link: 'link', list: 'list', image: 'image',
  region: 'region', banner: 'carousel', search: 'search', status: 'status', heading: 'heading', text: 'text',
};
const PLACEHOLDER_ITEMS = 3;
const MAX_ITEMS = 12;

/**
 * (text, target page) of each item of a prop such as `items: [{text, page}]` or `methods: [a, b]`.
 * @param {unknown} value
 * @returns {Array<{text: string, page: unknown}>}
 */
function entries(value) {
  if (!Array.isArray(value)) return [];
  /** @type {Array<{text: string, page: unknown}>} */
  const out = [];
  value.slice(0, MAX_ITEMS).forEach((item) => {
    if (typeof item === 'string') out.push({ text: item, page: null });
    else if (item && typeof item === 'object') {
      const text = item.text || item.label || item.name;
      if (typeof text === 'string') out.push({ text, page: item.page });
    }
  });
  return out;
}

/**
 * The rows a list or navigation draws (h5.py `_items`): its items, else placeholders.
 * @param {Item} item
 * @param {string} page
 * @returns {Array<{text: string, current: boolean}>}
 */
function rows(item, page) {
  const props = item.props || {};
  const keys = ['items', 'methods', 'tabs'];
  for (let i = 0; i < keys.length; i++) {
    const found = entries(props[keys[i]]);
    if (found.length) return found.map((e) => ({ text: e.text, current: e.page === page }));
  }
  let count = PLACEHOLDER_ITEMS;
  ['max_items', 'page_size'].forEach((key) => {
    const n = props[key];
    if (typeof n === 'number' && n > 0 && Math.floor(n) === n) count = Math.min(count, n);
  });
  /** @type {Array<{text: string, current: boolean}>} */
  const out = [];
  for (let n = 1; n <= count; n++) out.push({ text: item.label + ' ' + n, current: false });
  return out;
}

/**
 * The element's stylesheet: h5.html's, with the palette as custom properties.
 * @returns {string}
 */
function css() {
  return [
    ':host { display: block; }',
    '*, *::before, *::after { box-sizing: border-box; }',
    '.root { display: flex; flex-direction: column; min-height: 100%; color: var(--ui-text); background: var(--ui-background); overflow-wrap: anywhere; }',
    '.navbar { flex: none; display: flex; align-items: center; gap: 8px; padding: 4px 12px; border-bottom: 1px solid var(--ui-muted); }',
    '.navbar h1 { flex: 1 1 auto; margin: 0; font-size: 1.1em; text-align: center; }',
    '.navbar .c, .float .c, .actionbar .c { margin: 0; }',
    '.content { position: relative; flex: 1 1 auto; padding: 0 12px 16px; }',
    '.float { position: sticky; bottom: 12px; z-index: 1; display: flex; flex-direction: column; gap: 8px; max-width: calc(50% - 18px); }',
    '.float-left { margin-right: auto; } .float-right { margin-left: auto; }',
    '.actionbar { position: sticky; bottom: 0; flex: none; display: flex; gap: 8px; padding: 8px 12px; border-top: 1px solid var(--ui-muted); background: var(--ui-background); }',
    '.cell { flex: 1 1 0; min-width: 0; display: flex; flex-direction: column; justify-content: flex-end; gap: 8px; }',
    '.actionbar .tap { width: 100%; justify-content: center; text-align: center; }',
    '.c { margin: 8px 0; }',
    'h2.title { margin: 0 0 4px; font-size: 1.1em; } p { margin: 0; } ul { margin: 0; padding: 0; list-style: none; }',
    '.items { display: grid; gap: 8px; } .tabs { display: flex; flex-wrap: wrap; gap: 8px; justify-content: space-around; }',
    '.card { background: var(--ui-surface); color: var(--ui-text); border-radius: 8px; padding: 4px 8px; }',
    '.tap { display: inline-flex; align-items: center; gap: 8px; padding: 4px 8px; font: inherit; line-height: inherit; cursor: pointer; }',
    '.block { display: flex; width: 100%; } a { color: var(--ui-text); text-decoration: underline; } a[aria-current="page"] { font-weight: 700; }',
    'button.primary { background: var(--ui-primary); color: var(--ui-on-primary); border: 2px solid var(--ui-primary); border-radius: 8px; font-weight: 600; }',
    'button.secondary { background: var(--ui-background); color: var(--ui-text); border: 2px solid var(--ui-primary); border-radius: 8px; }',
    'input[type="search"] { display: flex; width: 100%; color: var(--ui-text); background: var(--ui-background); border: 2px solid var(--ui-primary); border-radius: 8px; }',
    'label { display: block; } .pic { display: block; width: 3em; height: auto; aspect-ratio: 4 / 3; background: var(--ui-muted); border-radius: 4px; }',
    ':focus-visible { outline: 3px solid var(--ui-text); outline-offset: 2px; }',
    '.motion-reduced *, .motion-none * { animation: none !important; transition: none !important; scroll-behavior: auto !important; }',
  ].join('\n');
}

/**
 * Define `<ui-layout>` (or `name`) in a window.
 * @param {any} win the page's window (its HTMLElement, customElements, document)
 * @param {string} [name] the tag (default "ui-layout")
 * @returns {any} the element class
 */
function defineUiLayout(win, name) {
  const tag = name || 'ui-layout';
  const existing = win.customElements.get(tag);
  if (existing) return existing;
  const doc = win.document;

  /**
   * @param {string} tagName
   * @param {Record<string, string>} [attrs]
   * @param {string} [text]
   */
  function el(tagName, attrs, text) {
    const node = doc.createElement(tagName);
    Object.keys(attrs || {}).forEach((k) => node.setAttribute(k, /** @type {Record<string, string>} */ (attrs)[k]));
    if (text !== undefined) node.textContent = text; // text, never markup
    return node;
  }

  /** @param {Item} v */
  const target = (v) => 'min-height:' + v.min_target_px + 'px;min-width:' + v.min_target_px + 'px';

  /** @param {string} alt */
  const picture = (alt) => el('img', {
    class: 'pic', alt, width: '120', height: '90',
    src: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='4' height='3'/%3E",
  });

  /**
   * A tappable link-like block: an <a> as the console draws it, tapped through the element.
   * @param {Item} v
   * @param {string} cls
   * @param {string} [text]
   */
  function tapLink(v, cls, text) {
    const a = el('a', { class: 'tap ' + cls, href: '#c-' + v.id, style: target(v), 'data-tap': v.id });
    if (text !== undefined) a.appendChild(el('span', {}, text));
    return a;
  }

  /**
   * One component, as h5.html's `draw` macro.
   * @param {Item} v
   * @param {string} page
   */
  function draw(v, page) {
    const kind = KIND_BY_ROLE[v.role] || 'text';
    const interactive = v.role === 'button' || v.role === 'link';
    const image = v.role === 'image';
    const box = el('div', {
      class: 'c c-' + kind, id: 'c-' + v.id, 'data-id': v.id, 'data-type': v.type,
      'data-role': v.role, 'data-placement': v.placement, style: 'font-size:' + v.font_px + 'px',
    });
    if (kind === 'nav') {
      const nav = el('nav', { 'aria-label': v.label });
      if (entries(v.props.items).length) {
        const ul = el('ul', { class: 'tabs' });
        rows(v, page).forEach((r) => {
          const li = el('li');
          const a = el('a', { class: 'tap', href: '#c-' + v.id, style: target(v), 'data-tap': v.id }, r.text);
          if (r.current) a.setAttribute('aria-current', 'page');
          li.appendChild(a);
          ul.appendChild(li);
        });
        nav.appendChild(ul);
      } else {
        nav.appendChild(tapLink(v, 'block', v.label));
      }
      box.appendChild(nav);
    } else if (kind === 'button') {
      const primary = v.placement !== 'flow';
      box.appendChild(el('button', { type: 'button', class: 'tap ' + (primary ? 'primary' : 'secondary'),
        style: target(v), 'data-tap': v.id }, v.label));
    } else if (kind === 'link') {
      box.appendChild(tapLink(v, 'block card', v.label));
    } else if (kind === 'list') {
      const section = el('section', { 'aria-labelledby': 'h-' + v.id });
      section.appendChild(el('h2', { id: 'h-' + v.id, class: 'title' }, v.label));
      // its `columns`, else its type's catalogue default (h5.py: at most 4 on a phone)
      const columns = Math.max(1, Math.min(gridColumns(v), 4));
      const ul = el('ul', { class: 'items', style: 'grid-template-columns:repeat(' + columns + ',minmax(0,1fr))' });
      rows(v, page).forEach((r) => {
        const li = el('li', { class: 'card' });
        li.appendChild(tapLink(v, 'block', r.text));
        ul.appendChild(li);
      });
      section.appendChild(ul);
      box.appendChild(section);
    } else if (kind === 'image') {
      if (interactive) box.appendChild(tapLink(v, 'block')).appendChild(picture(v.label));
      else box.appendChild(picture(v.label));
    } else if (kind === 'carousel') {
      const section = el('section', { 'aria-roledescription': 'carousel', 'aria-label': v.label });
      const a = section.appendChild(tapLink(v, 'block card'));
      a.appendChild(picture(''));
      a.appendChild(el('span', {}, v.label));
      box.appendChild(section);
    } else if (kind === 'region') {
      const section = el('section', { 'aria-label': v.label, class: 'card' });
      section.appendChild(interactive || image ? tapLink(v, 'block', v.label) : el('p', {}, v.label));
      box.appendChild(section);
    } else if (kind === 'search') {
      const form = el('form', { role: 'search', 'aria-label': v.label, action: '#' });
      form.appendChild(el('label', { for: 'in-' + v.id }, v.label));
      const input = el('input', { id: 'in-' + v.id, type: 'search', class: 'tap', style: target(v) });
      if (typeof v.props.placeholder === 'string') input.setAttribute('placeholder', v.props.placeholder);
      form.appendChild(input);
      form.addEventListener('submit', (/** @type {any} */ e) => e.preventDefault());
      box.appendChild(form);
    } else if (kind === 'status') {
      const status = el('div', { role: 'status', class: 'card' });
      status.appendChild(el('p', {}, v.label));
      box.appendChild(status);
    } else if (kind === 'heading') {
      box.appendChild(el('h2', { class: 'title' }, v.label));
    } else {
      box.appendChild(el('p', {}, v.label));
    }
    return box;
  }

  class UiLayoutElement extends win.HTMLElement {
    constructor() {
      super();
      this.attachShadow({ mode: 'open' });
      /** @type {any} */
      this._layout = null;
      /** @type {Record<string, Item>} */
      this._byId = {};
      /** @type {{track: Function} | null} the client taps feed (default the registry's) */
      this.client = null;
      this.shadowRoot.addEventListener('click', (/** @type {any} */ e) => this._onTap(e));
      /** what it measures of the launch drawn (the observer over the drawn items, impressions) */
      this._measure = createMeasure((id, kind) => this._track(id, kind), {
        setTimeout: (fn, ms) => win.setTimeout(fn, ms),
        clearTimeout: (id) => win.clearTimeout(id),
      });
      this._onVisibility = () => {
        if (doc && doc.visibilityState === 'hidden') this._unobserve();
        else if (this._layout) this._observe();
      };
    }

    connectedCallback() {
      if (doc) doc.addEventListener('visibilitychange', this._onVisibility);
      if (this._layout) this._observe();
    }

    disconnectedCallback() {
      if (doc) doc.removeEventListener('visibilitychange', this._onVisibility);
      this._unobserve();
    }

    /** Stop observing; dwells under way are not impressions. */
    _unobserve() {
      this._measure.stop();
    }

    /** Observe the drawn items (none without IntersectionObserver); never throws. */
    _observe() {
      this._unobserve();
      if (this.hasAttribute('no-track') || typeof win.IntersectionObserver !== 'function') return;
      if (doc && doc.visibilityState === 'hidden') return;
      this._measure.connect(() => {
        const ratio = parseFloat(this.getAttribute('impression-ratio') || '');
        const dwell = parseFloat(this.getAttribute('impression-ms') || '');
        const impressions = this._measure.impressions(isNaN(ratio) ? undefined : ratio, isNaN(dwell) ? undefined : dwell);
        const observer = new win.IntersectionObserver((/** @type {any[]} */ seen) => {
          seen.forEach((entry) => {
            const id = entry.target && entry.target.getAttribute && entry.target.getAttribute('data-id');
            if (id) impressions.observe(id, entry.intersectionRatio);
          });
        }, { threshold: [0, impressions.ratio, 1] });
        this.shadowRoot.querySelectorAll('[data-id]').forEach((/** @type {any} */ node) => observer.observe(node));
        return observer;
      });
    }

    /**
     * Feed the client's track with what was drawn; never throws.
     * @param {string} id
     * @param {import('../../index').EventKind} kind
     */
    _track(id, kind) {
      if (this.hasAttribute('no-track')) return;
      // with the version and mode drawn, as on the mini-programs
      trackDrawn(this.client || registry.get(this.getAttribute('client') || ''), this._layout, id, kind);
    }

    /** The layout document drawn (set it; `null` draws nothing). */
    get layout() { return this._layout; }

    set layout(value) {
      this._layout = value;
      this._render();
      // a new launch (another page or version): every component may count again
      this._measure.launch(value);
      if (value && this.isConnected) this._observe();
      else this._unobserve();
    }

    _render() {
      const layout = this._layout;
      const vm = viewModel(layout);
      this._byId = vm.byId;
      const page = (layout && layout.page) || '';
      const root = this.shadowRoot;
      while (root.firstChild) root.removeChild(root.firstChild);
      root.appendChild(el('style', {}, css()));
      const dir = vm.theme.direction === 'rtl' ? 'rtl' : 'ltr';
      const top = el('div', {
        class: 'root ui-mode-' + vm.mode + ' motion-' + vm.theme.motion, dir, style: vm.rootStyle,
        'data-mode': vm.mode, 'data-version': (layout && layout.template_version) || '',
      });
      const navbar = el('header', { class: 'navbar' });
      vm.topLeft.forEach((v) => navbar.appendChild(draw(v, page)));
      navbar.appendChild(el('h1', {}, vm.title || (layout && layout.title) || ''));
      vm.topRight.forEach((v) => navbar.appendChild(draw(v, page)));
      top.appendChild(navbar);
      const content = el('div', { class: 'content' });
      const main = el('main');
      vm.flow.forEach((v) => main.appendChild(draw(v, page)));
      content.appendChild(main);
      vm.floating.forEach((group) => {
        const float = el('div', { class: 'float float-' + group.side });
        group.items.forEach((v) => float.appendChild(draw(v, page)));
        content.appendChild(float);
      });
      top.appendChild(content);
      if (vm.bar.length) {
        // all three cells when the bar exists: a lone bottom_right button stays on the right
        const bar = el('div', { class: 'actionbar', dir: 'ltr', role: 'toolbar' });
        ['left', 'center', 'right'].forEach((side) => {
          const cell = el('div', { class: 'cell cell-' + side, dir });
          const group = vm.bar.filter((g) => g.side === side)[0];
          (group ? group.items : []).forEach((v) => cell.appendChild(draw(v, page)));
          bar.appendChild(cell);
        });
        top.appendChild(bar);
      }
      root.appendChild(top);
    }

    /** @param {any} event */
    _onTap(event) {
      let node = event.target;
      while (node && node !== this.shadowRoot && !(node.getAttribute && node.getAttribute('data-tap'))) node = node.parentNode;
      if (!node || node === this.shadowRoot) return;
      const item = this._byId[node.getAttribute('data-tap')];
      if (!item) return;
      if (node.tagName === 'A') event.preventDefault();
      const detail = actionDetail(item, this._layout);
      this.dispatchEvent(new win.CustomEvent('action', { detail, bubbles: true, composed: true }));
      this._track(item.id, 'click');
    }
  }

  win.customElements.define(tag, UiLayoutElement);
  return UiLayoutElement;
}

module.exports = { defineUiLayout, KIND_BY_ROLE, rows };
