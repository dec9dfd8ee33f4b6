/** @jest-environment jsdom */
'use strict';
// <ui-layout> in miniprogram-simulate (official wcc compiler, jsdom), drawing real layouts the
// server produced (test/fixtures, from `npm run gen:fixtures`).

const path = require('path');
const { renderLayout, syncAria, simulate } = require('./helpers/render');
const registry = require('../src/registry');
const elderly = require('./fixtures/home-elderly.json');
const standard = require('./fixtures/home-standard.json');

const clone = (x) => JSON.parse(JSON.stringify(x));
const items = (comp) => Array.from(comp.dom.querySelectorAll('.ui-layout--ui-item'));
const byId = (comp, id) => comp.dom.querySelector(`[data-id="${id}"]`);
const flowIds = (comp) => Array.from(comp.dom.querySelectorAll('.ui-layout--ui-flow-item')).map((e) => e.dataset.id);
const px = (el, prop) => parseFloat(el.style.getPropertyValue(prop));

afterEach(() => registry.clear());

describe('an elderly layout', () => {
  let comp;
  beforeAll(() => { comp = renderLayout(elderly); });

  test('draws every component, in the layout order', () => {
    const flow = elderly.components.filter((c) => c.placement === 'flow').map((c) => c.id);
    expect(flowIds(comp)).toEqual(flow);
    expect(items(comp)).toHaveLength(elderly.components.length);
  });

  test('body text is 24 px or more, with line height >= 1.3', () => {
    for (const el of items(comp)) {
      expect(px(el, 'font-size')).toBeGreaterThanOrEqual(24);
      expect(parseFloat(el.style.getPropertyValue('line-height'))).toBeGreaterThanOrEqual(1.3);
    }
    const title = byId(comp, 'fresh_title');
    expect(px(title, 'font-size')).toBe(30);
  });

  test('main components get 60 px targets, everything else at least 44', () => {
    for (const id of ['search', 'categories', 'fresh_grid', 'restaurants', 'voice_nav', 'tab_bar']) {
      expect(px(byId(comp, id), 'min-height')).toBe(60);
    }
    for (const el of items(comp)) expect(px(el, 'min-height')).toBeGreaterThanOrEqual(44);
    // buttons off the flow are targets in both directions
    expect(px(byId(comp, 'voice_nav'), 'min-width')).toBe(60);
  });

  test('the bottom action bar is fixed, holds the bottom_* buttons, and the page is padded for it', () => {
    const bar = comp.dom.querySelector('.ui-layout--ui-bottom-bar');
    expect(bar).not.toBeNull();
    expect(window.getComputedStyle(bar).position).toBe('fixed');
    expect(bar.getAttribute('aria-role')).toBe('toolbar');
    const left = bar.querySelector('.ui-layout--ui-bar-left');
    expect(Array.from(left.querySelectorAll('[data-id]')).map((e) => e.dataset.id)).toEqual(['back_to_top']);
    // jsdom's CSS parser drops env(); the style the WXML binds is in the component's data
    expect(comp.instance.data.rootStyle).toMatch(/padding-bottom:calc\(60px \+ env\(safe-area-inset-bottom\)\)/);
  });

  test('floating buttons sit on their side, fixed', () => {
    const left = comp.dom.querySelector('.ui-layout--ui-floating-left');
    const right = comp.dom.querySelector('.ui-layout--ui-floating-right');
    expect(left.querySelector('[data-id]').dataset.id).toBe('voice_nav');
    expect(right.querySelector('[data-id]').dataset.id).toBe('cart_shortcut');
    expect(window.getComputedStyle(left).position).toBe('fixed');
  });

  test('aria-role and aria-label on every component', () => {
    const visible = elderly.components;
    expect(items(comp)).toHaveLength(visible.length);
    for (const c of visible) {
      const el = byId(comp, c.id);
      expect(el.getAttribute('aria-role')).toBe(c.role);
      // elderly mode: what the server derived to be read aloud (the label first)
      expect(el.getAttribute('aria-label')).toBe(c.speech);
      expect(c.speech.startsWith(c.label) && c.label.length > 0).toBe(true);
    }
  });

  test('no ads: the server removed them, nothing draws one', () => {
    expect(comp.dom.querySelector('[data-id^="ad_"]')).toBeNull();
    expect(comp.dom.innerHTML).not.toMatch(/Advertisement/);
    // the same renderer does draw them in the standard layout, so the check can fail
    const std = renderLayout(standard);
    expect(std.dom.querySelectorAll('[data-id^="ad_"]').length).toBe(3);
  });

  test('theme: palette on the root, reduced motion, high contrast colours reach the blocks', () => {
    const root = comp.dom.querySelector('.ui-layout--ui-root');
    expect(root.className).toMatch(/ui-motion-reduced/);
    expect(root.style.getPropertyValue('color')).toBe('rgb(0, 0, 0)');
    expect(root.style.getPropertyValue('--ui-primary')).toBe(elderly.theme.palette.primary);
    expect(root.style.getPropertyValue('direction')).toBe('ltr');
    const button = byId(comp, 'nearby_stores').querySelector('.ui-block--ui-block-button');
    expect(button.style.getPropertyValue('background-color')).toBe('rgb(140, 28, 0)'); // #8C1C00
  });
});

test('hidden components are not rendered', () => {
  const layout = clone(standard);
  layout.components.find((c) => c.id === 'banner').hidden = true;
  layout.components.find((c) => c.id === 'coupons').visible = false;
  const comp = renderLayout(layout);
  expect(byId(comp, 'banner')).toBeNull();
  expect(byId(comp, 'coupons')).toBeNull();
  expect(byId(comp, 'flash_sale')).not.toBeNull();
  expect(items(comp)).toHaveLength(standard.components.length - 2);
});

test('placements: top_right, bottom center and right cells, both floating sides', () => {
  const layout = clone(standard);
  const set = (id, placement) => { layout.components.find((c) => c.id === id).placement = placement; };
  set('service', 'top_right');
  set('back_to_top', 'bottom_center');
  set('cart_shortcut', 'bottom_right');
  set('nearby_stores', 'floating_left');
  const comp = renderLayout(layout);
  expect(comp.dom.querySelector('.ui-layout--ui-top-right [data-id]').dataset.id).toBe('service');
  expect(comp.dom.querySelector('.ui-layout--ui-bar-center [data-id]').dataset.id).toBe('back_to_top');
  expect(comp.dom.querySelector('.ui-layout--ui-bar-right [data-id]').dataset.id).toBe('cart_shortcut');
  expect(comp.dom.querySelector('.ui-layout--ui-bar-left')).toBeNull();
  expect(comp.dom.querySelector('.ui-layout--ui-floating-left [data-id]').dataset.id).toBe('nearby_stores');
  expect(flowIds(comp)).not.toContain('service');
});

test('top_left (a left-handed user\'s mirror of top_right) is drawn top left, not in the flow', () => {
  const layout = clone(standard);
  layout.components.find((c) => c.id === 'service').placement = 'top_left';
  const comp = renderLayout(layout);
  const topLeft = comp.dom.querySelector('.ui-layout--ui-top-left');
  expect(Array.from(topLeft.querySelectorAll('[data-id]')).map((e) => e.dataset.id)).toEqual(['service']);
  expect(window.getComputedStyle(topLeft).position).toBe('absolute');
  expect(window.getComputedStyle(topLeft).left).toBe('8px');
  expect(comp.dom.querySelector('.ui-layout--ui-top-right')).toBeNull();
  expect(flowIds(comp)).not.toContain('service');
  expect(px(byId(comp, 'service'), 'min-width')).toBe(px(byId(comp, 'service'), 'min-height'));
});

test('right-to-left pages set direction; the action bar keeps the thumb side', () => {
  const layout = clone(elderly);
  layout.theme.direction = 'rtl';
  layout.theme.motion = 'none';
  layout.theme.line_height = 1.6;
  const comp = renderLayout(layout);
  const root = comp.dom.querySelector('.ui-layout--ui-root');
  expect(root.style.getPropertyValue('direction')).toBe('rtl');
  expect(root.className).toMatch(/ui-motion-none/);
  expect(byId(comp, 'search').style.getPropertyValue('line-height')).toBe('1.6');
  const bar = comp.dom.querySelector('.ui-layout--ui-bottom-bar');
  expect(window.getComputedStyle(bar).direction).toBe('ltr');
  expect(bar.querySelector('.ui-layout--ui-bar-left [data-id]').dataset.id).toBe('back_to_top');
});

test('an app component for a type replaces the fallback block for that type only', () => {
  const comp = renderLayout(elderly, { search_bar: path.join(__dirname, 'components', 'big-search', 'index') });
  const search = byId(comp, 'search');
  expect(search.textContent).toBe(`custom search: ${elderly.components[1].label} (${elderly.theme.palette.primary})`);
  expect(search.querySelector('.ui-block--ui-block')).toBeNull();
  expect(byId(comp, 'header').querySelector('.ui-block--ui-block')).not.toBeNull();
});

test('the fallback block draws a tab bar\'s tabs', () => {
  const comp = renderLayout(elderly);
  const tabs = Array.from(byId(comp, 'tab_bar').querySelectorAll('.ui-block--ui-tab')).map((t) => t.textContent);
  expect(tabs).toEqual(['首页 Home', '分类 Categories', '购物车 Cart', '我的 Me']);
});

test('a tab bar with more items than its `visible` tabs draws the first ones and 更多', () => {
  const layout = clone(elderly);
  const bar = layout.components.find((c) => c.id === 'tab_bar');
  bar.props.items = [...bar.props.items, { page: 'orders', text: '订单 Orders' }, { page: 'help', text: '帮助 Help' }];
  bar.props.visible = 4;
  const comp = renderLayout(layout);
  const tabs = Array.from(byId(comp, 'tab_bar').querySelectorAll('.ui-block--ui-tab')).map((t) => t.textContent);
  expect(tabs).toEqual(['首页 Home', '分类 Categories', '购物车 Cart', '更多']);
});

test('a tap emits `action` with the component and feeds the client\'s track', async () => {
  const tracked = [];
  registry.setDefault({ track: (...args) => tracked.push(args) });
  const comp = renderLayout(elderly);
  const actions = [];
  comp.addEventListener('action', (e) => actions.push(e.detail));
  comp.querySelector('#ui-voice_nav').dispatchEvent('tap');
  comp.querySelector('#ui-search').dispatchEvent('tap');
  await simulate.sleep(0); // j-component dispatches in a microtask, as the runtime is async
  expect(actions.map((a) => [a.id, a.type, a.placement, a.page])).toEqual([
    ['voice_nav', 'voice_nav_entry', 'floating_left', 'home'],
    ['search', 'search_bar', 'flow', 'home'],
  ]);
  const drawn = { version: elderly.template_version, mode: 'elderly' };
  expect(tracked).toEqual([['home', 'voice_nav', 'click', drawn], ['home', 'search', 'click', drawn]]);
});

test('track="{{false}}" and a named client', async () => {
  const fallback = [];
  const named = [];
  registry.setDefault({ track: (...a) => fallback.push(a) });
  registry.register('shop', { track: (...a) => named.push(a) });
  renderLayout(elderly, null, { track: false }).querySelector('#ui-search').dispatchEvent('tap');
  renderLayout(elderly, null, { client: 'shop' }).querySelector('#ui-search').dispatchEvent('tap');
  await simulate.sleep(0);
  expect(fallback).toEqual([]);
  expect(named).toEqual([['home', 'search', 'click', { version: elderly.template_version, mode: 'elderly' }]]);
});

test('a new layout re-renders (the update applied on page show)', () => {
  const comp = renderLayout(standard);
  expect(byId(comp, 'ad_top')).not.toBeNull();
  comp.setData({ layout: elderly });
  syncAria(comp);
  expect(byId(comp, 'ad_top')).toBeNull();
  expect(px(byId(comp, 'search'), 'min-height')).toBe(60);
  expect(byId(comp, 'search').getAttribute('aria-label')).toBe(elderly.components[1].speech);
});

test('no layout yet: an empty page, no error', () => {
  const comp = renderLayout(null);
  expect(items(comp)).toHaveLength(0);
  expect(simulate).toBeDefined();
});
