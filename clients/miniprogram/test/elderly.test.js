/** @jest-environment jsdom */
'use strict';
// 长辈版 2.0 (uiserver issue 24) in <ui-layout>, on the layout the server made for a user in
// elderly mode (test/fixtures/home-elderly.json): spoken text, the "更多 More" entry, spacing
// and reflow as style, confirmation before a payment, and the one-time prompt.
const { renderLayout, syncAria, simulate } = require('./helpers/render');
const elderly = require('./fixtures/home-elderly.json');

const clone = (x) => JSON.parse(JSON.stringify(x));
const byId = (comp, id) => comp.dom.querySelector(`[data-id="${id}"]`);
const hidden = (el) => el.classList.contains('ui-layout--ui-folded');

test('the server folded part of home behind one More entry, drawn before the first of them', async () => {
  const folded = elderly.components.filter((c) => c.folded).map((c) => c.id);
  expect(folded.length).toBeGreaterThan(0);
  const comp = renderLayout(elderly);
  const entries = comp.dom.querySelectorAll('.ui-layout--ui-more-entry');
  expect(entries).toHaveLength(1);
  expect(entries[0].textContent).toBe(elderly.elderly.more_label);
  expect(entries[0].nextElementSibling.dataset.id).toBe(folded[0]);
  for (const id of folded) expect(hidden(byId(comp, id))).toBe(true);
  const kept = elderly.components.find((c) => !c.folded && c.placement === 'flow');
  expect(hidden(byId(comp, kept.id))).toBe(false);
  comp.querySelector('.ui-more-entry').dispatchEvent('tap');
  await simulate.sleep(0);
  for (const id of folded) expect(hidden(byId(comp, id))).toBe(false);
});

test('paragraph spacing, the gap around targets and reflowed columns reach the style', () => {
  const comp = renderLayout(elderly);
  const grid = elderly.components.find((c) => c.id === 'categories');
  expect(grid.props.columns).toBe(3);
  const el = byId(comp, 'categories');
  expect(el.style.getPropertyValue('--ui-columns')).toBe('3');
  expect(el.style.getPropertyValue('--ui-paragraph')).toBe(grid.paragraph_px + 'px');
  expect(el.style.getPropertyValue('--ui-gap')).toBe(grid.gap_px + 'px');
});

test('a grid without a columns prop (a standard layout) gets its catalogue default columns, not none', () => {
  const standard = require('./fixtures/home-standard.json');
  const grid = standard.components.find((c) => c.id === 'fresh_grid');
  expect(grid.type).toBe('product_grid');
  expect(grid.props.columns).toBeUndefined();
  const comp = renderLayout(standard);
  expect(byId(comp, 'fresh_grid').style.getPropertyValue('--ui-columns')).toBe('2'); // components/product_grid.yaml
  expect(byId(comp, 'categories').style.getPropertyValue('--ui-columns')).toBe('5'); // components/category_grid.yaml
  expect(byId(comp, 'search').style.getPropertyValue('--ui-columns')).toBe(''); // not a grid
});

test('a payment asks first: the action goes out only after 确认 Confirm', async () => {
  const layout = clone(elderly);
  layout.components.push({ id: 'pay', type: 'primary_button', role: 'button', label: '去支付 Pay',
    font_px: 24, min_target_px: 60, placement: 'bottom_right', pinned: false,
    props: { confirm: true }, reasons: ['elderly:confirm'], speech: '去支付 Pay' });
  const asked = [];
  global.wx = { showModal: (o) => asked.push(o) };
  try {
    const comp = renderLayout(layout);
    const actions = [];
    comp.addEventListener('action', (e) => actions.push(e.detail.id));
    comp.querySelector('#ui-pay').dispatchEvent('tap');
    await simulate.sleep(0);
    expect(actions).toEqual([]);
    expect(asked).toHaveLength(1);
    expect(asked[0].title).toBe('去支付 Pay');
    asked[0].success({ confirm: false });
    expect(actions).toEqual([]);
    asked[0].success({ confirm: true });
    expect(actions).toEqual(['pay']);
    comp.querySelector('#ui-search').dispatchEvent('tap'); // no confirm prop: at once
    await simulate.sleep(0);
    expect(actions).toEqual(['pay', 'search']);
    expect(asked).toHaveLength(1);
  } finally {
    delete global.wx;
  }
});

test('the one-time prompt: an inline card, its answer emitted and the card gone', async () => {
  const layout = clone(elderly);
  layout.elderly.prompt = 'elderly_mode';
  const comp = syncAria(renderLayout(layout));
  const card = comp.dom.querySelector('.ui-layout--ui-prompt');
  expect(card).not.toBeNull();
  const answers = [];
  comp.addEventListener('prompt', (e) => answers.push(e.detail.answer));
  comp.querySelector('.ui-prompt-no').dispatchEvent('tap');
  await simulate.sleep(0);
  expect(answers).toEqual(['declined']);
  expect(comp.dom.querySelector('.ui-layout--ui-prompt')).toBeNull();
  const without = renderLayout(elderly);
  expect(elderly.elderly.prompt).toBeUndefined();
  expect(without.dom.querySelector('.ui-layout--ui-prompt')).toBeNull();
});
