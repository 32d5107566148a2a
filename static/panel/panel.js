// Toasts fade after a while; errors stay until clicked.
document.addEventListener("click", (e) => {
  if (e.target.classList && e.target.classList.contains("toast")) e.target.remove();
});
function fadeToasts() {
  document.querySelectorAll(".toast:not(.error)").forEach((t) => setTimeout(() => t.remove(), 6000));
}
document.addEventListener("DOMContentLoaded", fadeToasts);
document.addEventListener("htmx:afterSwap", fadeToasts);
