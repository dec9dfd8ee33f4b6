// The app's own drawing of the `search_bar` component type. <ui-layout> passes every per-type
// component the same two properties: `component` (id, label, font_px, min_target_px, props...)
// and `theme` (palette, font_px, line_height, motion, direction).
Component({
  properties: {
    component: { type: Object, value: null },
    theme: { type: Object, value: null },
  },
});
