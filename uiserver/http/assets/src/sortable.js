// SortableJS as the global `Sortable` (https://github.com/SortableJS/Sortable#readme):
//   Sortable.create(list, {handle: ".drag", onEnd(evt) {...}})
import Sortable from "sortablejs";

window.Sortable = Sortable;
