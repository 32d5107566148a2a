// Toasts fade after a while; errors stay until clicked.
document.addEventListener("click", (e) => {
  if (e.target.classList && e.target.classList.contains("toast")) e.target.remove();
});
function fadeToasts() {
  document.querySelectorAll(".toast:not(.error)").forEach((t) => setTimeout(() => t.remove(), 6000));
}
document.addEventListener("DOMContentLoaded", fadeToasts);
document.addEventListener("htmx:afterSwap", fadeToasts);

// A self-refreshing list asks for what the address bar shows (search and page pushed there by
// htmx), so a timed refresh never jumps back to page 1 or drops the search.
document.addEventListener("htmx:configRequest", (e) => {
  const elt = e.detail.elt;
  if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-keep-query")) return;
  new URLSearchParams(window.location.search).forEach((value, key) => {
    if (!(key in e.detail.parameters)) e.detail.parameters[key] = value;
  });
});

// A live region polls (`hx-trigger="every 15s"`) only while its tab is visible. This stands in for
// an hx-trigger filter, which htmx would have to eval: the Content-Security-Policy forbids that.
document.addEventListener("htmx:confirm", (e) => {
  const elt = e.detail.elt;
  if (elt && elt.hasAttribute && elt.hasAttribute("data-poll-visible") && document.visibilityState !== "visible") {
    e.preventDefault();
  }
});
