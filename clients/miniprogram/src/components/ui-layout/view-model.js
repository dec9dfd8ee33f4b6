'use strict';
/**
 * A layout document -> what <ui-layout>'s WXML draws. Pure, so the rules are testable on their
 * own: hidden components dropped; each component's `font_px`, `min_target_px` and the theme's
 * line height as inline style; components split by `placement` into the page flow, `top_right`,
 * floating buttons (left/right) and a fixed bottom action bar (left/center/right cells, with the
 * page padded so the bar never covers content); palette, motion and `direction` on the root.
 *
 * Placements are physical, not mirrored in right-to-left pages: the server puts a primary button
 * on the user's thumb side (handedness), which does not flip with the script's direction.
 */

const BAR = { bottom_left: 'left', bottom_center: 'center', bottom_right: 'right' };
const FLOATING = { floating_left: 'left', floating_right: 'right' };
const MOTIONS = { full: true, reduced: true, none: true };

function px(value, fallback) {
  const n = Number(value);
  return isFinite(n) && n > 0 ? n : fallback;
}

function isHidden(component) {
  return component.hidden === true || component.visible === false;
}

function paletteOf(theme) {
  const p = (theme && theme.palette) || {};
  return {
    text: p.text || '#1F1F1F',
    background: p.background || '#FFFFFF',
    primary: p.primary || '#0B57D0',
    on_primary: p.on_primary || '#FFFFFF',
    muted: p.muted || p.text || '#5C5C5C',
    surface: p.surface || p.background || '#F5F5F5',
  };
}

function viewModel(layout) {
  const empty = { flow: [], topRight: [], floating: [], bar: [], rootStyle: '', barStyle: '', floatingStyle: '',
    theme: { motion: 'full', palette: paletteOf(null), direction: 'ltr' }, title: '', byId: {} };
  if (!layout || !Array.isArray(layout.components)) return empty;
  const source = layout.theme || {};
  const palette = paletteOf(source);
  const fontPx = px(source.font_px, 16);
  const lineHeight = px(source.line_height, 1.5);
  const motion = MOTIONS[source.motion] ? source.motion : 'full';
  const direction = source.direction === 'rtl' ? 'rtl' : 'ltr';
  const theme = Object.assign({}, source, { palette, font_px: fontPx, line_height: lineHeight, motion, direction });

  const flow = [];
  const topRight = [];
  const floating = { left: [], right: [] };
  const bar = { left: [], center: [], right: [] };
  const byId = {};
  let barTarget = 0;
  layout.components.forEach((component, index) => {
    if (!component || isHidden(component)) return;
    const font = px(component.font_px, fontPx);
    const target = px(component.min_target_px, 44);
    const placement = component.placement || 'flow';
    const action = placement !== 'flow';
    const style = 'font-size:' + font + 'px;line-height:' + lineHeight + ';min-height:' + target + 'px;' +
      (action ? 'min-width:' + target + 'px;' : '') + '--ui-target:' + target + 'px;';
    const item = {
      id: String(component.id), type: String(component.type), role: component.role || 'region',
      label: component.label || '', font_px: font, min_target_px: target, placement,
      pinned: !!component.pinned, props: component.props || {}, index, style,
    };
    byId[item.id] = item;
    if (BAR[placement]) {
      bar[BAR[placement]].push(item);
      barTarget = Math.max(barTarget, target);
    } else if (FLOATING[placement]) floating[FLOATING[placement]].push(item);
    else if (placement === 'top_right') topRight.push(item);
    else flow.push(item);
  });
  const barCells = ['left', 'center', 'right']
    .filter((side) => bar[side].length)
    .map((side) => ({ side, items: bar[side] }));
  const floatingGroups = ['left', 'right']
    .filter((side) => floating[side].length)
    .map((side) => ({ side, items: floating[side] }));
  // the bar is fixed: pad the page by its height plus the home-indicator inset
  const barHeight = barCells.length ? barTarget + 16 : 0;
  const rootStyle = [
    'color:' + palette.text, 'background-color:' + palette.background,
    'font-size:' + fontPx + 'px', 'line-height:' + lineHeight, 'direction:' + direction,
    '--ui-text:' + palette.text, '--ui-background:' + palette.background,
    '--ui-primary:' + palette.primary, '--ui-on-primary:' + palette.on_primary,
    '--ui-muted:' + palette.muted, '--ui-surface:' + palette.surface,
    barHeight ? 'padding-bottom:calc(' + barHeight + 'px + env(safe-area-inset-bottom))' : '',
  ].filter(Boolean).join(';') + ';';
  return {
    flow,
    topRight,
    floating: floatingGroups,
    bar: barCells,
    rootStyle,
    barStyle: barCells.length ? 'min-height:' + barHeight + 'px;background-color:' + palette.surface + ';' : '',
    floatingStyle: 'bottom:calc(' + (barHeight + 16) + 'px + env(safe-area-inset-bottom));',
    theme,
    title: layout.title || '',
    byId,
  };
}

module.exports = { viewModel, isHidden, paletteOf };
