'use strict';
/**
 * A layout document -> what <ui-layout>'s WXML draws. Pure, so the rules are testable on their
 * own: hidden components dropped; each component's `font_px`, `min_target_px` and the theme's
 * line height as inline style; components split by `placement` into the page flow, `top_left`,
 * `top_right`, floating buttons (left/right) and a fixed bottom action bar (left/center/right
 * cells, with the page padded so the bar never covers content); palette, motion, `direction` and the mode
 * (`ui-mode-elderly`, for an app's own styles) on the root.
 *
 * Placements are physical, not mirrored in right-to-left pages: the server puts a primary button
 * on the user's thumb side (handedness), which does not flip with the script's direction.
 */

/** @typedef {import('../../../index').Layout} Layout */
/** @typedef {import('../../../index').LayoutComponent} LayoutComponent */
/** @typedef {import('../../../index').LayoutTheme} LayoutTheme */
/** @typedef {import('../../../index').LayoutPalette} LayoutPalette */
/**
 * A layout document as an app hands it to <ui-layout>: the server's, a partial one, or null
 * before the first launch resolves. Every field is read defensively.
 * @typedef {Partial<Omit<Layout, 'theme' | 'components'>> & {
 *   theme?: Partial<LayoutTheme> | null,
 *   components?: Array<Partial<LayoutComponent> | null>,
 *   title?: string,
 * }} LayoutInput
 */
/**
 * One component as the WXML draws it (and the per-type components receive it).
 * @typedef {object} Item
 * @property {string} id
 * @property {string} type
 * @property {string} role
 * @property {string} label
 * @property {number} font_px
 * @property {number} min_target_px
 * @property {string} placement
 * @property {boolean} pinned
 * @property {Record<string, unknown>} props
 * @property {number} index its position in the layout
 * @property {string} style inline: font size, line height, target size; in elderly mode the
 *   paragraph gap (`--ui-paragraph`), the gap around a target (`margin`) and a grid's columns
 *   (`--ui-columns`)
 * @property {string} spoken what a screen reader speaks: the server's `speech`, else the label
 * @property {boolean} [folded] behind the "更多 More" entry (elderly mode): hidden until opened
 * @property {boolean} [moreBefore] the first folded item: the More entry is drawn before it
 */
/** @typedef {{side: string, items: Item[]}} Group */
/** @typedef {ReturnType<typeof viewModel>} ViewModel */

const GRID_COLUMNS = require('./grid-columns');

/** @type {Record<string, 'left' | 'center' | 'right'>} */
const BAR = { bottom_left: 'left', bottom_center: 'center', bottom_right: 'right' };
/** @type {Record<string, 'left' | 'right'>} */
const FLOATING = { floating_left: 'left', floating_right: 'right' };
/** @type {Record<string, boolean>} */
const MOTIONS = { full: true, reduced: true, none: true };

/**
 * A positive size, else the fallback.
 * @param {unknown} value
 * @param {number} fallback
 */
function px(value, fallback) {
  const n = Number(value);
  return isFinite(n) && n > 0 ? n : fallback;
}

/** @param {Partial<LayoutComponent>} component */
function isHidden(component) {
  return component.hidden === true || component.visible === false;
}

/**
 * The palette with the renderer's defaults for what the theme leaves out.
 * @param {Partial<LayoutTheme> | null | undefined} theme
 * @returns {Required<LayoutPalette>}
 */
function paletteOf(theme) {
  /** @type {Partial<LayoutPalette>} */
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

/**
 * @param {LayoutInput | null | undefined} layout
 */
function viewModel(layout) {
  /** @type {{mode: 'standard' | 'elderly', flow: Item[], topLeft: Item[], topRight: Item[],
   *   floating: Group[], bar: Group[], rootStyle: string, barStyle: string, floatingStyle: string,
   *   theme: Partial<LayoutTheme> & {palette: Required<LayoutPalette>}, title: string,
   *   byId: Record<string, Item>, more: Item[], moreLabel: string, prompt: string}} */
  const empty = { mode: 'standard', flow: [], topLeft: [], topRight: [], floating: [], bar: [], rootStyle: '', barStyle: '', floatingStyle: '',
    theme: { motion: 'full', palette: paletteOf(null), direction: 'ltr' }, title: '', byId: {},
    more: [], moreLabel: '', prompt: '' };
  if (!layout || !Array.isArray(layout.components)) return empty;
  /** @type {Partial<LayoutTheme>} */
  const source = layout.theme || {};
  /** @type {{more_label?: string, prompt?: string} | null} */
  const elderly = /** @type {any} */ (layout).elderly || null;
  const palette = paletteOf(source);
  const fontPx = px(source.font_px, 16);
  const lineHeight = px(source.line_height, 1.5);
  const motion = source.motion && MOTIONS[source.motion] ? source.motion : 'full';
  const direction = source.direction === 'rtl' ? 'rtl' : 'ltr';
  const theme = Object.assign({}, source, { palette, font_px: fontPx, line_height: lineHeight, motion, direction });

  /** @type {Item[]} */
  const flow = [];
  /** @type {Item[]} */
  const topLeft = [];
  /** @type {Item[]} */
  const topRight = [];
  /** @type {Record<string, Item[]>} */
  const floating = { left: [], right: [] };
  /** @type {Record<string, Item[]>} */
  const bar = { left: [], center: [], right: [] };
  /** @type {Record<string, Item>} */
  const byId = {};
  /** @type {Item[]} folded behind the page's one "更多 More" entry (elderly mode) */
  const more = [];
  let barTarget = 0;
  layout.components.forEach((component, index) => {
    if (!component || isHidden(component)) return;
    const font = px(component.font_px, fontPx);
    const target = px(component.min_target_px, 44);
    const placement = component.placement || 'flow';
    const action = placement !== 'flow';
    const style = 'font-size:' + font + 'px;line-height:' + lineHeight + ';min-height:' + target + 'px;' +
      (action ? 'min-width:' + target + 'px;' : '') + '--ui-target:' + target + 'px;' + elderlyStyle(component);
    /** @type {Item} */
    const item = {
      id: String(component.id), type: String(component.type), role: component.role || 'region',
      label: component.label || '', font_px: font, min_target_px: target, placement,
      pinned: !!component.pinned, props: component.props || {}, index, style,
      spoken: (typeof component.speech === 'string' && component.speech) || component.label || '',
    };
    byId[item.id] = item;
    if (component.folded === true && placement === 'flow') {
      // drawn in place, hidden until the page's one "更多 More" entry (before the first) opens
      item.folded = true;
      item.moreBefore = !more.length;
      more.push(item);
    }
    if (BAR[placement]) {
      bar[BAR[placement]].push(item);
      barTarget = Math.max(barTarget, target);
    } else if (FLOATING[placement]) floating[FLOATING[placement]].push(item);
    else if (placement === 'top_left') topLeft.push(item);
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
    mode: layout.mode === 'elderly' ? 'elderly' : 'standard',
    flow,
    topLeft,
    topRight,
    floating: floatingGroups,
    bar: barCells,
    rootStyle,
    barStyle: barCells.length ? 'min-height:' + barHeight + 'px;background-color:' + palette.surface + ';' : '',
    floatingStyle: 'bottom:calc(' + (barHeight + 16) + 'px + env(safe-area-inset-bottom));',
    theme,
    title: layout.title || '',
    byId,
    more,
    moreLabel: more.length ? String((elderly && elderly.more_label) || '更多 More') : '',
    prompt: elderly && elderly.prompt === 'elderly_mode' ? 'elderly_mode' : '',
  };
}

/**
 * Elderly mode's spacing and reflow as inline style: the paragraph gap, the free space around
 * a tap target, a grid's column count.
 * @param {Partial<LayoutComponent>} component
 */
function elderlyStyle(component) {
  const c = /** @type {Record<string, any>} */ (component);
  let style = '';
  if (px(c.paragraph_px, 0)) style += '--ui-paragraph:' + px(c.paragraph_px, 0) + 'px;';
  if (px(c.gap_px, 0)) style += 'margin:' + px(c.gap_px, 0) / 2 + 'px 0;--ui-gap:' + px(c.gap_px, 0) + 'px;';
  const columns = gridColumns(component);
  if (columns) style += '--ui-columns:' + columns + ';';
  return style;
}

/**
 * A grid's column count: its `columns` prop (set by elderly reflow, or by the layout), else its
 * type's catalogue default (components/<type>.yaml `columns`, via grid-columns.js, as the console's
 * H5 preview uses it); 0 for a component that is not a grid or a count outside 1..12.
 * @param {{type?: string, props?: Record<string, any> | null}} component a layout component or a view-model item
 * @returns {number}
 */
function gridColumns(component) {
  const props = /** @type {Record<string, unknown>} */ (component.props || {});
  const own = props.columns;
  const columns = own === undefined || own === null ? GRID_COLUMNS[String(component.type)] : Number(own);
  return typeof columns === 'number' && columns > 0 && columns < 13 ? Math.floor(columns) : 0;
}

/**
 * What a renderer tells `track` it drew (every platform's alike): the layout's template version
 * and mode, so a tap or an impression counts under the version on screen, not the one the
 * server serves the user by the time the batch arrives (a rollout moved meanwhile).
 * @param {LayoutInput | null | undefined} layout
 * @returns {import('../../../index').TrackDetail}
 */
function drawnDetail(layout) {
  /** @type {import('../../../index').TrackDetail} */
  const detail = {};
  if (!layout) return detail;
  if (layout.template_version) detail.version = layout.template_version;
  if (layout.mode === 'standard' || layout.mode === 'elderly') detail.mode = layout.mode;
  return detail;
}

module.exports = { viewModel, isHidden, paletteOf, gridColumns, drawnDetail };
