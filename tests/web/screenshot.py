"""Take README's screenshot of the page (docs/screenshot-web.png) from a running service.

    python -m tests.web.screenshot --url http://localhost:5000/ --out docs/screenshot-web.png

The service should serve MovieLens 100K (`movierec run --dataset ml-100k ...`):
the script likes three well-known titles, opens a fourth and leaves the
search suggestions open, the states a first visit goes through.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tests.web.browser import DESKTOP, PHONE, launch, missing_browser

log = logging.getLogger(__name__)

LIKED = ("star wars", "fargo", "pulp fiction")
SHOWN = "toy story"
TYPED = "godfa"


def pick(page, text: str) -> None:
    """Type a title, take the first suggestion with the keyboard, wait for its details."""
    box = page.locator("#search-input")
    box.fill("")
    page.locator("#search-listbox").wait_for(state="hidden")
    box.press_sequentially(text, delay=40)
    page.wait_for_selector("#search-listbox [role=option][data-movie-id]")
    page.keyboard.press("ArrowDown")
    movie_id = page.get_attribute("#search-listbox [aria-selected=true]", "data-movie-id")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#movie-detail .detail[data-movie-id='{movie_id}']")


def take(url: str, out: Path, *, phone: bool = False, per_list: str = "8") -> Path:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            context = browser.new_context(viewport=PHONE if phone else DESKTOP, device_scale_factor=1, locale="en-US")
            page = context.new_page()
            page.goto(url)
            page.wait_for_selector("#genre-list input", state="attached")
            filters = page.locator("#filters")
            collapsed = not filters.evaluate("details => details.open")  # on a phone
            if collapsed:
                page.click("#filters summary")
            page.select_option("#result-count", per_list)
            if collapsed:
                page.click("#filters summary")
            for title in LIKED:
                pick(page, title)
                page.click("#movie-detail .detail button.like")
            page.wait_for_selector("#liked-results > li.card")
            pick(page, SHOWN)
            page.locator("#search-input").fill("")
            page.locator("#search-input").press_sequentially(TYPED, delay=40)
            page.wait_for_selector("#search-listbox [role=option][data-movie-id]")
            page.keyboard.press("ArrowDown")
            page.wait_for_timeout(300)  # let the last list refresh settle
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://localhost:5000/", help="the page (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshot-web.png"), help="PNG to write")
    parser.add_argument("--phone", action="store_true", help="phone-sized viewport (390x844)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    reason = missing_browser()
    if reason:
        parser.error(reason)
    log.info("wrote %s", take(args.url, args.out, phone=args.phone))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
