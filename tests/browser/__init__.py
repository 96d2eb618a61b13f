"""Review-page tests in headless Chromium (a package, so its conftest is `browser.conftest`)."""
