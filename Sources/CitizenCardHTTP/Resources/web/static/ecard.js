// The electronic card page: renews the code every data-refresh seconds, and shows the name and
// card number while the holder wants them (no inline scripts: the Content-Security-Policy forbids them).
(function () {
  const card = document.getElementById("ecard");
  if (!card) return;
  const button = document.getElementById("ecard-reveal");
  button.addEventListener("click", () => {
    const showing = button.getAttribute("aria-pressed") === "true";
    card.querySelectorAll(".full").forEach((e) => (e.hidden = showing));
    card.querySelectorAll(".masked").forEach((e) => (e.hidden = !showing));
    button.setAttribute("aria-pressed", showing ? "false" : "true");
    button.textContent = showing ? button.dataset.show : button.dataset.hide;
  });
  const seconds = Math.max(5, parseInt(card.dataset.refresh, 10) || 60);
  async function renew() {
    try {
      const answer = await fetch("/portal/card-code/current", { credentials: "same-origin" });
      if (answer.status === 200) {
        const code = await answer.json();
        document.getElementById("ecard-code").src = code.image;
        document.getElementById("ecard-expires").textContent = code.expiresAtText;
      } else if (answer.status === 409 || answer.status === 401) {
        window.location.reload();
      }
    } catch (e) {
      // Offline for a moment: the code on screen stays until it expires, and the next round tries again.
    }
  }
  setInterval(renew, seconds * 1000);
})();
