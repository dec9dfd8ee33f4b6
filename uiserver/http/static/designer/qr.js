// "On your own phone": a QR code of the designer's saved draft as the left phone's persona
// (`POST /v1/admin/preview-tokens/{page}` through the console's bridge: a signed token valid
// 10 minutes, the preview-only URL and its QR code as SVG, drawn as an image).
(function () {
  "use strict";

  function start() {
    const button = document.getElementById("show-qr");
    const dataEl = document.getElementById("designer-data");
    if (!button || !dataEl) return;
    const data = JSON.parse(dataEl.textContent);
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const box = document.getElementById("qr");
    if (!data.live_version) { button.disabled = true; box.textContent = "Publish the page once to preview it on a phone."; return; }
    button.addEventListener("click", async () => {
      const persona = (document.getElementById("persona-a") || {}).value || "default";
      const response = await fetch(`${data.api}/preview-tokens/${data.page}`, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ persona }),
      });
      box.replaceChildren();
      if (!response.ok) { box.textContent = "No QR code: the server refused (reload the page)."; return; }
      const body = await response.json();
      const until = new Date(body.expires * 1000).toLocaleTimeString();
      const img = document.createElement("img");
      img.id = "qr-image";
      img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(body.qr_svg);
      img.alt = `QR code: your draft of ${data.page} as ${persona}, valid until ${until}`;
      img.width = 180; img.height = 180;
      const link = document.createElement("a");
      link.id = "qr-url";
      link.href = body.url;
      link.textContent = "The preview link (JSON layout)";
      const note = document.createElement("p");
      note.className = "hint";
      note.textContent = `As ${persona}, valid until ${until}.`;
      box.append(img, note, link);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
