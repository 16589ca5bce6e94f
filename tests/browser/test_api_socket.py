"""frontend/static/js/api.js's socket(): refusals (close codes 4400–4499) are final and reported to the
page; any other close reconnects with backoff. The browser's WebSocket is replaced by a fake that closes
with the codes the test gives it, so this checks the client alone, in real Chromium."""

from __future__ import annotations

import pytest

FAKE_WEBSOCKET = """
window.opened = [];
window.closeCodes = [];
window.WebSocket = class {
  static OPEN = 1;
  constructor(url) {
    this.readyState = 0;
    opened.push(url);
    setTimeout(() => {
      this.readyState = 3;
      const code = closeCodes.shift() ?? 1006;
      this.onclose?.({ code, reason: code >= 4000 ? `refused ${code}` : "" });
    }, 0);
  }
  send() {}
  close() {}
};
"""

# Runs socket() with the given close codes; resolves once the socket has been opened `opens` times and
# then left alone for a second (longer than the first reconnect delay, 500 ms).
RUN = """async ([codes, opens, withCallback]) => {
  const { socket } = await import("/static/js/api.js");
  opened.length = 0;
  closeCodes.push(...codes);
  const refusals = [];
  const options = withCallback ? { onRefused: (code, reason) => refusals.push([code, reason]) } : {};
  const handle = socket("/ws/jobs/", () => {}, options);
  while (opened.length < opens) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 1000));
  handle.close();
  return { opened: opened.length, refusals, refused: handle.refused,
           toasts: [...document.querySelectorAll("#toasts .toast")].map((t) => t.textContent) };
}"""


@pytest.fixture
def fake_socket_page(embedded_platform, page):
    page.add_init_script(FAKE_WEBSOCKET)
    page.goto(f"{embedded_platform.base}/signin/")
    return page


@pytest.mark.parametrize("code", [4401, 4403, 4404, 4409])
def test_a_refusal_stops_reconnecting_and_reaches_the_caller(fake_socket_page, code):
    out = fake_socket_page.evaluate(RUN, [[1006, code], 2, True])
    assert out["opened"] == 2  # one reconnect after the drop, none after the refusal
    assert out["refusals"] == [[code, f"refused {code}"]]
    assert out["refused"] == {"code": code, "reason": f"refused {code}"}


@pytest.mark.parametrize("code", [1006, 1011, 4000, 4500])
def test_other_closes_reconnect(fake_socket_page, code):
    out = fake_socket_page.evaluate(RUN, [[code], 2, True])
    assert out["opened"] >= 2 and out["refusals"] == [] and out["refused"] is None


def test_a_refusal_without_a_callback_is_shown(fake_socket_page):
    out = fake_socket_page.evaluate(RUN, [[4403], 1, False])
    assert out["opened"] == 1 and out["refused"]["code"] == 4403
    assert out["toasts"] == ["refused 4403"]
