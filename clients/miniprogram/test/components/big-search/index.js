// An app-provided component for the `search_bar` type, as an app would pass it with
// generic:search_bar="big-search".
Component({
  properties: { component: Object, theme: Object },
});
