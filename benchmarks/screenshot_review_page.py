"""Screenshots of the review page: the grid and the player, in headless Chromium.

Usage::

    python benchmarks/screenshot_review_page.py OUTPUT_DIR docs/img/ [--demo-ratings 3]

Writes ``review-page.png`` (the grid) and ``review-player.png`` (the player, paused in the
middle of the first rendered video) into the given folder. The page is (re)built from the
sidecars first if ``OUTPUT_DIR/index.html`` is missing or ``--rebuild`` is given. With
``--demo-ratings N`` the first N rendered images are rated in the throwaway browser profile
(pass, doubtful, fail, ...) so that the screenshots show rated cards; nothing is kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from neurovid.report import build_review_page, collect_sidecars  # noqa: E402
from neurovid.testing import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("img_dir", type=Path)
    parser.add_argument("--rebuild", action="store_true", help="rebuild index.html first")
    parser.add_argument("--demo-ratings", type=int, default=0, metavar="N")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--theme", choices=["dark", "light"], default="dark")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing (apt-get install -y chromium)", file=sys.stderr)
        return 2
    html = args.output_dir / "index.html"
    if args.rebuild or not html.exists():
        sidecars = collect_sidecars(args.output_dir)
        build_review_page(args.output_dir, sidecars, html, dataset_name=args.output_dir.name)
    args.img_dir.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": args.width, "height": args.height})
        if args.theme == "light":
            context.add_init_script(
                "localStorage.setItem('neurovid.prefs.v1', JSON.stringify({theme: 'light'}))"
            )
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(html.resolve().as_uri())
        page.wait_for_selector("html[data-ready='1']")

        rendered = page.locator(".card:not(.failed)")
        for i in range(min(args.demo_ratings, rendered.count())):
            rendered.nth(i).locator(".thumb").click()
            page.wait_for_selector("#player:not([hidden])")
            page.keyboard.press("123"[i % 3])
            if i % 3 == 1:
                page.keyboard.press("m")
            page.keyboard.press("Escape")
            page.wait_for_selector("#player", state="hidden")
        page.evaluate("window.scrollTo(0, 0); document.activeElement.blur()")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#grid img')]"
            ".filter(i => i.getBoundingClientRect().top < innerHeight)"
            ".every(i => i.complete)"
        )
        page.screenshot(path=str(args.img_dir / "review-page.png"))

        if rendered.count():
            rendered.first.locator(".thumb").click()
            page.wait_for_selector("#player:not([hidden])")
            page.wait_for_function("() => document.getElementById('p-video').readyState >= 2")
            page.evaluate(
                "() => { const v = document.getElementById('p-video'); v.pause();"
                " v.currentTime = v.duration / 2; }"
            )
            page.wait_for_function(
                "() => { const v = document.getElementById('p-video');"
                " return !v.seeking && v.readyState >= 2; }"
            )
            page.evaluate("document.activeElement.blur()")
            page.wait_for_timeout(200)
            page.screenshot(path=str(args.img_dir / "review-player.png"))
        else:
            print("no rendered image: review-player.png not written", file=sys.stderr)
        browser.close()
    for name in ("review-page.png", "review-player.png"):
        if (args.img_dir / name).exists():
            print(args.img_dir / name)
    if errors:
        print("page errors:\n  " + "\n  ".join(errors), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
