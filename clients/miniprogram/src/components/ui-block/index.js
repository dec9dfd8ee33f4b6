'use strict';
/**
 * The plain block <ui-layout> draws for a component type the app gives no component for: the
 * component's label in the layout's palette, as a button, heading, tab list or card by role.
 * The same two properties every per-type component receives: `component` and `theme`.
 */
const { blockView } = require('./block-view');

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
      const { kind, style, tabs } = blockView(component, theme);
      this.setData({ kind, style, tabs });
    },
  },
});
