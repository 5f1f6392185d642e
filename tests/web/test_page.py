"""The web page end to end: headless Chromium on the real app over the ES double, a pipeline-trained model.

Each test drives the page as a person would (typing, arrow keys, clicks) and
checks that what it shows is what the JSON API answers for the same request
(the page has no other source of data), plus what only the page does: the
combobox roles, escaping, messages, layout. Screenshots of each state go to
test-output/screenshots/.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest

from tests.web.conftest import HOSTILE_TITLE, Browsed, Live

pytestmark = pytest.mark.slow

K = 12  # the page's default "Movies per list"
SUGGESTIONS = 8  # app.js SUGGESTIONS


def card_ids(page: Any, list_selector: str) -> list[int]:
    return page.eval_on_selector_all(f"{list_selector} > li.card", "cards => cards.map(c => Number(c.dataset.movieId))")


def wait_for_cards(page: Any, list_selector: str, expected: list[int]) -> list[int]:
    """The card ids once they equal `expected` (or whatever is there after the timeout, for the assertion)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    script = """([selector, want]) => {
        const got = [...document.querySelectorAll(selector + ' > li.card')].map(c => Number(c.dataset.movieId));
        return JSON.stringify(got) === JSON.stringify(want);
    }"""
    try:
        page.wait_for_function(script, arg=[list_selector, expected])
    except PlaywrightTimeout:
        pass
    return card_ids(page, list_selector)


def ids(items: list[dict[str, Any]]) -> list[int]:
    return [item["movie"]["movie_id"] for item in items]


def type_title(page: Any, text: str) -> None:
    """Type like a person (one key at a time) and wait for the suggestions of this text."""
    box = page.locator("#search-input")
    box.fill("")
    page.locator("#search-listbox").wait_for(state="hidden")  # the previous suggestions are gone
    box.press_sequentially(text, delay=25)
    page.wait_for_selector("#search-listbox [role=option]")


def pick(page: Any, text: str, nth: int = 0) -> int:
    """Type, arrow down to the nth suggestion, Enter; the picked movie's id once its details show."""
    type_title(page, text)
    for _ in range(nth + 1):
        page.keyboard.press("ArrowDown")
    movie_id = int(page.get_attribute("#search-listbox [role=option][aria-selected=true]", "data-movie-id"))
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#movie-detail .detail[data-movie-id='{movie_id}']")
    return movie_id


def test_partial_title_suggestions_pick_and_similar_movies(web: Browsed, live: Live) -> None:
    page = web.open()
    type_title(page, "bro")
    expected = live.get("movies", {"q": "bro", "k": SUGGESTIONS})["items"]
    options = page.locator("#search-listbox [role=option]")
    assert [int(o) for o in options.evaluate_all("os => os.map(o => o.dataset.movieId)")] == ids(expected)
    assert options.first.locator(".option-title").text_content() == expected[0]["movie"]["title"]
    assert all("Broken" in t for t in options.locator(".option-title").all_text_contents()[:2])
    box = page.locator("#search-input")
    assert box.get_attribute("role") == "combobox"
    assert box.get_attribute("aria-expanded") == "true"
    assert page.get_attribute("#search-listbox", "role") == "listbox"
    web.screenshot("suggestions")

    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == "search-option-1"
    assert page.get_attribute("#search-option-1", "aria-selected") == "true"
    assert page.get_attribute("#search-option-0", "aria-selected") == "false"
    page.keyboard.press("ArrowUp")
    assert box.get_attribute("aria-activedescendant") == "search-option-0"
    page.keyboard.press("Enter")

    picked = expected[0]["movie"]
    detail = page.locator(f"#movie-detail .detail[data-movie-id='{picked['movie_id']}']")
    detail.wait_for()
    assert detail.locator(".detail-title").text_content() == f"{picked['title']} {picked['year']}"
    assert detail.locator(".genres li").all_text_contents() == picked["genres"]
    assert f"{picked['rating_count']}" in detail.locator(".facts").text_content()
    assert box.get_attribute("aria-expanded") == "false"
    similar = live.get(f"movies/{picked['movie_id']}/similar", {"k": K})["items"]
    assert len(similar) == K
    assert wait_for_cards(page, "#similar-list", ids(similar)) == ids(similar)
    assert picked["movie_id"] not in card_ids(page, "#similar-list")
    assert page.locator("#similar-heading").text_content() == f"Similar to {picked['title']}"
    web.screenshot("similar", full_page=True)
    web.assert_clean()


def test_three_liked_titles_give_folded_in_recommendations(web: Browsed, live: Live) -> None:
    page = web.open()
    liked = []
    for text in ("broken emp", "crimson", "savage emp"):
        liked.append(pick(page, text))
        page.click("#movie-detail .detail button.like")
        assert page.get_attribute("#movie-detail .detail button.like", "aria-pressed") == "true"
    titles = [live.trained.movies[m]["title"] for m in liked]
    assert page.locator("#liked-list .liked-title").all_text_contents() == [
        f"{t} ({live.trained.movies[m]['year']})" for t, m in zip(titles, liked, strict=True)
    ]
    assert page.locator("#liked-count").text_content() == "3"
    expected = live.post("recommendations/from-liked", {"movie_ids": liked, "k": K})["items"]
    assert wait_for_cards(page, "#liked-results", ids(expected)) == ids(expected)
    assert not set(liked) & set(card_ids(page, "#liked-results"))
    web.screenshot("liked", full_page=True)

    page.click(f"#liked-list li[data-movie-id='{liked[1]}'] button.remove")
    remaining = [liked[0], liked[2]]
    assert page.locator("#liked-count").text_content() == "2"
    expected = live.post("recommendations/from-liked", {"movie_ids": remaining, "k": K})["items"]
    assert wait_for_cards(page, "#liked-results", ids(expected)) == ids(expected)
    web.assert_clean()


def test_genre_filter_keeps_only_that_genre(web: Browsed, live: Live) -> None:
    genre = Counter(g for m in live.trained.movies.values() for g in m["genres"]).most_common(1)[0][0]
    page = web.open()
    boxes = page.eval_on_selector_all("#genre-list input[name=genre]", "boxes => boxes.map(b => b.value)")
    catalogue = [g["name"] for g in live.get("movies/genres")["genres"]]
    assert len(boxes) == len(catalogue) and set(boxes) == set(catalogue)  # every genre, from the start
    page.fill("#user-id", "1")
    page.press("#user-id", "Enter")
    unfiltered = ids(live.get("users/1/recommendations", {"k": K})["items"])
    assert wait_for_cards(page, "#user-results", unfiltered) == unfiltered
    assert page.locator("#user-profile").text_content().startswith("User 1:")

    page.locator("#genre-list label", has_text=genre).click()
    expected = live.get("users/1/recommendations", {"k": K, "genre": genre})["items"]
    assert expected and ids(expected) != unfiltered
    assert wait_for_cards(page, "#user-results", ids(expected)) == ids(expected)
    for card in page.locator("#user-results > li.card").all():
        assert genre in card.locator(".genres li").all_text_contents()
    assert page.locator("#filters-count").text_content() == "1 active"
    web.screenshot("genre-filter", full_page=True)

    page.select_option("#min-rating", "3.5")
    expected = live.get("users/1/recommendations", {"k": K, "genre": genre, "min_rating": 3.5})["items"]
    assert wait_for_cards(page, "#user-results", ids(expected)) == ids(expected)
    assert all(item["movie"]["bayes_rating"] >= 3.5 for item in expected)
    web.assert_clean()


def test_unknown_user_gets_a_clear_message(web: Browsed, live: Live) -> None:
    unknown = max(live.trained.users) + 1000
    page = web.open()
    page.fill("#user-id", str(unknown))
    page.click("#user-form button[type=submit]")
    message = page.locator("#user-message [role=alert]")
    message.wait_for()
    assert message.locator(".notice-title").text_content() == f"There is no user {unknown}."
    assert page.locator("#user-results > li").count() == 0
    web.screenshot("unknown-user")

    page.fill("#user-id", "abc")
    page.press("#user-id", "Enter")
    page.locator("#user-message .notice-title", has_text="Please check your input.").wait_for()
    assert page.locator("#user-message .notice-details li").all_text_contents() == ["User id: Not a valid integer."]
    web.assert_clean()


def test_validation_errors_show_the_api_messages(web: Browsed, live: Live) -> None:
    page = web.open()
    pick(page, "broken emp")
    page.fill("#year-from", "2000")
    page.fill("#year-to", "1990")
    page.locator("#year-to").press("Tab")
    message = page.locator("#movie-message [role=alert]")
    message.wait_for()
    assert message.locator(".notice-title").text_content() == "Please check your input."
    assert message.locator(".notice-details li").all_text_contents() == [
        "Release year to: must not be before year_from"
    ]
    web.screenshot("validation")
    page.click("#filters-reset")
    page.locator("#similar-list > li.card").first.wait_for()
    assert page.locator("#movie-message [role=alert]").count() == 0
    web.assert_clean()


def test_ambiguous_title_shows_the_match_and_alternatives(web: Browsed, live: Live) -> None:
    page = web.open()
    type_title(page, "river")
    page.keyboard.press("Enter")  # no suggestion picked: the API resolves the text
    answer = live.get("recommendations/by-title", {"title": "river", "k": K})
    matched, alternatives = answer["matched"], answer["alternatives"]
    assert alternatives
    note = page.locator("#movie-match .match-note")
    note.wait_for()
    assert note.locator("strong").text_content() == f"{matched['title']} ({matched['year']})"
    assert note.locator(".alternatives button").all_text_contents() == [
        f"{m['title']} ({m['year']})" for m in alternatives
    ]
    assert wait_for_cards(page, "#similar-list", ids(answer["items"])) == ids(answer["items"])
    web.screenshot("by-title")

    note.locator(".alternatives button").first.click()
    page.wait_for_selector(f"#movie-detail .detail[data-movie-id='{alternatives[0]['movie_id']}']")
    assert page.locator("#movie-match").inner_text() == ""
    web.assert_clean()


def test_service_unavailable_message(web: Browsed, live: Live, es_double: Any) -> None:
    page = web.open()
    assert page.locator("#banner").is_hidden()
    with es_double.outage():
        page.fill("#user-id", "1")
        page.press("#user-id", "Enter")
        message = page.locator("#user-message [role=alert]")
        message.wait_for()
        assert message.locator(".notice-title").text_content() == "The recommendation service is unavailable right now."
        assert "Try again in" in message.locator(".notice-details").text_content()
        banner = page.locator("#banner")
        assert banner.is_visible()
        assert "unavailable" in page.locator("#banner-text").text_content()
        web.screenshot("unavailable")
    page.click("#banner-retry")
    page.locator("#banner").wait_for(state="hidden")
    expected = ids(live.get("users/1/recommendations", {"k": K})["items"])
    assert wait_for_cards(page, "#user-results", expected) == expected
    web.assert_clean()


def test_titles_are_shown_as_text_never_as_markup(web: Browsed, live: Live) -> None:
    page = web.open()
    type_title(page, "jerry")
    option = page.locator(f"#search-listbox [role=option][data-movie-id='{live.hostile_movie_id}'] .option-title")
    assert option.text_content() == HOSTILE_TITLE
    pick(page, "jerry")
    detail = page.locator("#movie-detail .detail")
    assert detail.locator(".detail-title").evaluate("h => h.firstChild.textContent") == HOSTILE_TITLE
    page.click("#movie-detail .detail button.like")
    assert page.locator("#liked-list .liked-title").first.text_content().startswith(HOSTILE_TITLE)
    remove_label = page.locator("#liked-list button.remove").first.get_attribute("aria-label")
    assert remove_label.startswith(f"Remove {HOSTILE_TITLE}")
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("main img, main script, #search-listbox img, #search-listbox script").count() == 0
    web.screenshot("escaping")
    web.assert_clean()


def test_keyboard_order_and_visible_focus(web: Browsed, live: Live) -> None:
    page = web.open()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "search-input"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"  # the filters, then their controls
    labels = page.evaluate(
        "[...document.querySelectorAll('input, select')].filter(e => e.type !== 'hidden')"
        ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id)"
    )
    assert labels == []
    web.assert_clean()


def test_phone_layout(phone: Browsed, live: Live) -> None:
    page = phone.open()
    assert page.locator("#filters").get_attribute("open") is None  # collapsed on a phone
    pick(page, "broken emp")
    page.click("#movie-detail .detail button.like")
    liked = int(page.get_attribute("#movie-detail .detail", "data-movie-id"))
    expected = live.post("recommendations/from-liked", {"movie_ids": [liked], "k": K})["items"]
    assert wait_for_cards(page, "#liked-results", ids(expected)) == ids(expected)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= page.evaluate("window.innerWidth")
    assert page.get_attribute("meta[name=viewport]", "content") == "width=device-width, initial-scale=1"
    phone.screenshot("phone")
    phone.screenshot("phone-full", full_page=True)
    phone.assert_clean()


def _not_found_body(live: Live, title: str) -> dict[str, Any]:
    """The 404 answer of by-title for `title` (the page shows what it says)."""
    import json
    import urllib.error

    try:
        live.get("recommendations/by-title", {"title": title, "k": K})
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
        return json.loads(exc.read())
    raise AssertionError(f"{title!r} resolved")


def test_a_confident_suggestion_is_one_click_away(web: Browsed, live: Live) -> None:
    """A title with one word too many finds nothing strictly; its film is offered as "Did you mean …?"."""
    for movie_id, movie in sorted(live.trained.movies.items()):
        if movie_id == live.hostile_movie_id or not movie.get("factors") or not movie.get("year"):
            continue
        text = f"{movie['title']} qzxv"
        entries = _not_found_body(live, text)["errors"]["suggestions"][text]
        offered = next((e["movie"] for e in entries if e.get("confident")), None)
        if offered and offered["movie_id"] == movie_id:
            break
    else:
        raise AssertionError("no title of the test catalogue is a confident suggestion")
    page = web.open()
    type_title(page, text)
    page.keyboard.press("Enter")
    button = page.locator("#movie-message .did-you-mean")
    button.wait_for()
    assert button.text_content() == f"{movie['title']} ({movie['year']})"
    web.screenshot("did-you-mean")
    button.click()
    page.wait_for_selector(f"#movie-detail .detail[data-movie-id='{movie_id}']")
    web.assert_clean()


def test_a_year_past_the_catalogue_is_explained_and_popularity_shown(web: Browsed, live: Live) -> None:
    movie_id = min(m for m, r in live.trained.movies.items() if r.get("factors") and r.get("year") and m != live.hostile_movie_id)
    movie = live.trained.movies[movie_id]
    text = f"{movie['title']} 2099"
    answer = live.get("recommendations/by-title", {"title": text, "k": K})
    last = answer["catalogue_years"]["last"]
    assert answer["year_hint"] == 2099 and last < 2099
    page = web.open()
    type_title(page, text)
    page.keyboard.press("Enter")
    note = page.locator("#movie-match .year-note")
    note.wait_for()
    assert note.text_content() == (
        f"This catalogue has films from {answer['catalogue_years']['first']} to {last}: a 2099 film cannot be in it."
    )
    popularity = answer["matched"]["popularity"]
    share = math.floor((1 - popularity if popularity >= 0.5 else popularity) * 100 + 0.5)  # app.js Math.round
    said = f"{'top' if popularity >= 0.5 else 'bottom'} {max(1, share)}% by ratings"
    facts = dict(zip(page.locator("#movie-detail .facts dt").all_text_contents(),
                     page.locator("#movie-detail .facts dd").all_text_contents(), strict=True))
    assert facts["Popularity"] == said
    web.screenshot("year-past-catalogue")
    web.assert_clean()


def test_genre_boxes_show_how_many_movies_have_each_genre(web: Browsed, live: Live) -> None:
    page = web.open()
    catalogue = {g["name"]: g["count"] for g in live.get("movies/genres")["genres"]}
    shown = page.eval_on_selector_all(
        "#genre-list .genre", "rows => rows.map(r => [r.querySelector('input').value, r.querySelector('.genre-count').textContent])"
    )
    assert {name: int(count) for name, count in shown} == catalogue
