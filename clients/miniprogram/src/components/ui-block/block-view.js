'use strict';
/**
 * What the plain block draws for a component (pure; WeChat's and Douyin's <ui-block> and
 * Alipay's share it): its kind by role (button, heading, tabs, text, else a card), the inline
 * style (the target size as min-height; a button's min-width too; the palette's colours) and the
 * tabs of a tab list: all its items, or, when its `visible` prop (the catalogue's column prop,
 * at most policy.elderly_max_tabs in elderly mode) is fewer, the first visible - 1 and a 更多 tab
 * that lists the rest, so no tab text is truncated and no tab shrinks (reflow, not zoom).
 */

const MORE_TAB = '更多';

/**
 * @param {import('../ui-layout/view-model').Item} component
 * @param {import('../ui-layout/view-model').ViewModel['theme'] | null} theme
 * @returns {{kind: string, style: string, tabs: Array<{key: string, text: string}>}}
 */
function blockView(component, theme) {
  /** @type {Partial<import('../../../index').LayoutPalette>} */
  const palette = (theme && theme.palette) || {};
  const role = component.role;
  let kind = 'card';
  if (role === 'button' || role === 'link') kind = 'button';
  else if (role === 'heading') kind = 'heading';
  else if (role === 'tablist') kind = 'tabs';
  else if (role === 'text' || role === 'status') kind = 'text';
  const target = component.min_target_px || 44;
  let style = 'min-height:' + target + 'px;';
  if (kind === 'button') {
    style += 'background-color:' + (palette.primary || '#0B57D0') + ';color:' + (palette.on_primary || '#FFFFFF') + ';min-width:' + target + 'px;';
  } else if (kind === 'card' || kind === 'tabs') {
    style += 'background-color:' + (palette.surface || '#F5F5F5') + ';color:' + (palette.text || '#1F1F1F') + ';';
  }
  /** @type {Array<{text?: string, page?: string}>} */
  const items = component.props && Array.isArray(component.props.items) ? component.props.items : [];
  let tabs = kind === 'tabs' ? items.map((t, i) => ({ key: String(i), text: String(t.text || t.page || '') })) : [];
  const visible = component.props && component.props.visible;
  if (typeof visible === 'number' && visible >= 1 && tabs.length > visible) {
    tabs = tabs.slice(0, Math.max(visible - 1, 1)).concat([{ key: 'more', text: MORE_TAB }]);
  }
  return { kind, style, tabs };
}

module.exports = { blockView };
