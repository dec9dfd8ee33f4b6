'use strict';
/**
 * The plain block <ui-layout> draws for a component type the app gives no component for: the
 * component's label in the layout's palette, as a button, heading, tab list or card by role.
 * The same two properties every per-type component receives: `component` and `theme`.
 */
Component({
  properties: {
    component: { type: Object, value: null },
    theme: { type: Object, value: null },
  },
  data: /** @type {{kind: string, style: string, tabs: Array<{key: string, text: string}>}} */ (
    { kind: 'card', style: '', tabs: [] }),
  observers: {
    /**
     * @param {import('../ui-layout/view-model').Item | null} component
     * @param {import('../ui-layout/view-model').ViewModel['theme'] | null} theme
     */
    'component, theme'(component, theme) {
      if (!component) return;
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
      const tabs = kind === 'tabs' ? items.map((t, i) => ({ key: String(i), text: String(t.text || t.page || '') })) : [];
      this.setData({ kind, style, tabs });
    },
  },
});
