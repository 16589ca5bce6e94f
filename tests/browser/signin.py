"""One signed-in browser page for the browser tests of role-gated pages."""


def open_signed_in(chromium, base: str, username: str, password: str, viewport=(1440, 900)):
    """A new context's page signed in through the real form; uncaught page errors land in
    ``page.js_errors`` so a test can assert the page ran clean."""
    context = chromium.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(f"{exc} {getattr(exc, 'stack', '')}"))
    page.goto(f"{base}/signin/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page
