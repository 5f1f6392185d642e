// movierec web page: plain JavaScript over the same JSON API the developers use.
// Every string from the API reaches the DOM as a text node or an attribute value,
// never as markup, so titles with quotes, ampersands or <script> stay text.

const SUGGEST_DELAY_MS = 200;
const REFRESH_DELAY_MS = 250;
const SUGGESTIONS = 8;
const MAX_LIKED = 50; // the from-liked endpoint's limit
const STORAGE_KEY = "movierec.liked.v1";

const FIELD_LABELS = {
  q: "Search text",
  title: "Title",
  genre: "Genres",
  min_rating: "Minimum rating",
  year_from: "Release year from",
  year_to: "Release year to",
  k: "Movies per list",
  user_id: "User id",
  movie_id: "Movie id",
  movie_ids: "Movies I liked",
  titles: "Movies I liked",
  _schema: "Request",
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- DOM helpers

/** Build an element; string children become text nodes (never parsed as HTML). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function clear(node) {
  node.replaceChildren();
  return node;
}

function announce(text) {
  const region = $("announcer");
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** fn called once `ms` after the last call; `.cancel()` drops a pending call. */
function debounce(fn, ms) {
  let timer = 0;
  const debounced = (...args) => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => fn(...args), ms);
  };
  debounced.cancel = () => window.clearTimeout(timer);
  return debounced;
}

/** The API's messages as sentences ("retry later" -> "retry later."). */
function sentence(text) {
  const trimmed = String(text || "").trim();
  return !trimmed || /[.!?…]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

// ---------------------------------------------------------------- API client

class ApiError extends Error {
  /** kind: "network" (no answer) or "http"; body: the API's {code, status, message, errors}. */
  constructor(kind, status, body, retryAfter) {
    super((body && body.message) || (kind === "network" ? "no answer" : `HTTP ${status}`));
    this.kind = kind;
    this.status = status;
    this.body = body || {};
    this.retryAfter = retryAfter;
  }
}

function apiUrl(path, params = {}) {
  const url = new URL(path, document.baseURI);
  for (const [name, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(name, String(item));
  }
  return url;
}

/** One call to the JSON API; resolves to the parsed body, rejects with ApiError (or AbortError). */
async function api(path, { params = {}, json = null, signal = undefined } = {}) {
  const init = { method: json ? "POST" : "GET", headers: { Accept: "application/json" }, signal };
  if (json) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(apiUrl(path, params), init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("network", 0, null, null);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null; // not JSON (e.g. a proxy's error page): described by the status alone
  }
  if (!response.ok) throw new ApiError("http", response.status, body, response.headers.get("Retry-After"));
  return body;
}

/** Field messages of a 422 body, e.g. {query: {year_to: ["…"]}} -> ["Release year to: …"]. */
function fieldMessages(errors) {
  const out = [];
  const walk = (value, name) => {
    if (Array.isArray(value)) {
      if (value.every((v) => typeof v === "string")) {
        out.push(`${FIELD_LABELS[name] || name || "Request"}: ${value.join(" ")}`);
      } else value.forEach((v) => walk(v, name));
    } else if (value && typeof value === "object") {
      for (const [key, inner] of Object.entries(value)) {
        if (key === "suggestions") continue;
        const location = ["query", "json", "path", "form", "headers"].includes(key);
        walk(inner, location || /^\d+$/.test(key) ? name : key);
      }
    } else if (typeof value === "string") {
      out.push(`${FIELD_LABELS[name] || name || "Request"}: ${value}`);
    }
  };
  walk(errors, "");
  return out;
}

/** What to tell a person about a failed call: {title, details[]}. `notFound` words a 404 for its context. */
function describe(error, notFound) {
  if (error.kind === "network") {
    return {
      title: "Cannot reach the movierec service.",
      details: ["Check that it is running, then try again."],
    };
  }
  const message = error.body.message || "";
  switch (error.status) {
    case 422:
      return { title: "Please check your input.", details: fieldMessages(error.body.errors || {}) };
    case 404:
      return notFound ? notFound(error) : { title: sentence(message) || "Not found.", details: [] };
    case 503: {
      const wait = /^\d+$/.test(error.retryAfter || "")
        ? `Try again in ${error.retryAfter} seconds.`
        : "Try again shortly.";
      return {
        title: "The recommendation service is unavailable right now.",
        details: [sentence(message) || "The search engine cannot be reached.", wait],
      };
    }
    case 504:
      return {
        title: "The search took too long.",
        details: [sentence(message) || "Try again, or narrow the filters."],
      };
    default:
      return {
        title: `The service failed (HTTP ${error.status}).`,
        details: message ? [sentence(message)] : [],
      };
  }
}

function isOutage(error) {
  return error.kind === "network" || error.status === 503;
}

// ---------------------------------------------------------------- messages and banner

function showMessage(container, kind, title, details = [], extra = null) {
  clear(container);
  if (!title) return;
  const box = el(
    "div",
    { className: `notice notice-${kind}`, role: kind === "error" ? "alert" : null },
    el("p", { className: "notice-title" }, title),
  );
  if (details.length)
    box.append(
      el(
        "ul",
        { className: "notice-details" },
        details.map((d) => el("li", {}, d)),
      ),
    );
  if (extra) box.append(extra);
  container.append(box);
}

function showError(container, error, notFound) {
  const { title, details, extra } = describe(error, notFound);
  showMessage(container, "error", title, details, extra || null);
  if (isOutage(error)) showBanner(error);
}

function showBanner(error) {
  const { title, details } = describe(error);
  $("banner-text").textContent = [title, ...details].join(" ");
  $("banner").hidden = false;
}

function hideBanner() {
  $("banner").hidden = true;
}

// ---------------------------------------------------------------- movie cards

function ratingText(movie) {
  const rating = movie.bayes_rating ?? movie.rating_mean;
  if (rating === null || rating === undefined) return "not rated yet";
  const count = movie.rating_count ?? 0;
  return `★ ${rating.toFixed(1)} · ${count} rating${count === 1 ? "" : "s"}`;
}

function titleWithYear(movie) {
  return movie.year ? `${movie.title} (${movie.year})` : movie.title;
}

// The title (text, or the button that opens the movie) with the year after it, in its own span.
function movieHeading(tag, className, title, movie) {
  return el(tag, { className }, title, movie.year ? el("span", { className: "year" }, ` ${movie.year}`) : null);
}

function genreChips(genres) {
  return el(
    "ul",
    { className: "genres", "aria-label": "Genres" },
    (genres || []).map((g) => el("li", {}, g)),
  );
}

const likeButtons = new WeakMap(); // button -> the movie it likes

function likeButton(movie) {
  const button = el("button", { type: "button", className: "like", "data-movie-id": movie.movie_id });
  likeButtons.set(button, movie);
  syncLikeButton(button, movie);
  button.addEventListener("click", () => toggleLiked(movie));
  return button;
}

function syncLikeButton(button, movie) {
  const liked = isLiked(movie.movie_id);
  button.setAttribute("aria-pressed", String(liked));
  button.textContent = liked ? "♥ Liked" : "♡ Like";
  button.setAttribute("aria-label", `${liked ? "Unlike" : "Like"} ${titleWithYear(movie)}`);
}

function movieCard(movie) {
  const open = el(
    "button",
    {
      type: "button",
      className: "link card-title",
      "aria-label": `Show ${titleWithYear(movie)} and similar movies`,
    },
    movie.title,
  );
  open.addEventListener("click", () => showMovie(movie.movie_id));
  return el(
    "li",
    { className: "card", "data-movie-id": movie.movie_id },
    movieHeading("h4", "card-heading", open, movie),
    genreChips(movie.genres),
    el("p", { className: "rating" }, ratingText(movie)),
    likeButton(movie),
  );
}

function renderCards(list, items) {
  clear(list).append(...items.map((item) => movieCard(item.movie || item)));
}

// ---------------------------------------------------------------- genres and filters

const knownGenres = new Set();
const genreCounts = new Map(); // genre -> movies of the served catalogue (from /movies/genres)

function addGenres(names) {
  const before = knownGenres.size;
  for (const name of names) knownGenres.add(name);
  if (knownGenres.size !== before) renderGenres();
}

function learnGenres(movies) {
  addGenres(movies.flatMap((movie) => movie.genres || []));
}

/** The genre checkboxes, sorted; ticks and keyboard focus survive a new genre being added. */
function renderGenres(emptyText = "No genres known yet.") {
  const list = $("genre-list");
  const checked = new Set(selectedGenres());
  const focused = list.contains(document.activeElement) ? document.activeElement.value : null;
  clear(list);
  const sorted = [...knownGenres].sort((a, b) => a.localeCompare(b));
  sorted.forEach((genre, index) => {
    const id = `genre-${index}`;
    const box = el("input", {
      type: "checkbox",
      id,
      name: "genre",
      value: genre,
      checked: checked.has(genre),
    });
    const count = genreCounts.get(genre);
    const label = el("label", { for: id }, genre);
    if (count !== undefined) {
      label.append(" ", el("span", { className: "genre-count", "aria-label": `${count} movies` }, String(count)));
    }
    list.append(el("div", { className: "genre" }, box, label));
    if (genre === focused) box.focus();
  });
  if (!sorted.length) list.append(el("p", { className: "hint" }, emptyText));
}

function selectedGenres() {
  return [...$("genre-list").querySelectorAll("input[name=genre]:checked")].map((box) => box.value);
}

function numberOrNull(text) {
  const trimmed = String(text).trim();
  if (!trimmed) return null;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : trimmed; // the API explains what is wrong with a non-number
}

/** The filters as API parameters (the same names for query strings and the from-liked JSON body). */
function filters() {
  const out = { k: Number($("result-count").value) };
  const genres = selectedGenres();
  if (genres.length) out.genre = genres;
  const minRating = numberOrNull($("min-rating").value);
  if (minRating !== null) out.min_rating = minRating;
  const yearFrom = numberOrNull($("year-from").value);
  if (yearFrom !== null) out.year_from = yearFrom;
  const yearTo = numberOrNull($("year-to").value);
  if (yearTo !== null) out.year_to = yearTo;
  return out;
}

function activeFilterCount() {
  const f = filters();
  return (
    (f.genre ? 1 : 0) +
    (f.min_rating !== undefined ? 1 : 0) +
    (f.year_from !== undefined || f.year_to !== undefined ? 1 : 0)
  );
}

function filtersChanged() {
  const count = activeFilterCount();
  const badge = $("filters-count");
  badge.hidden = count === 0;
  badge.textContent = count ? `${count} active` : "";
  refreshAll();
}

function filterNote() {
  return activeFilterCount() ? " Filters are on: try clearing some." : "";
}

// ---------------------------------------------------------------- requests that replace each other

/** One panel's latest request: a new call aborts the previous one, so late answers never overwrite. */
class Latest {
  constructor() {
    this.controller = null;
  }

  next() {
    if (this.controller) this.controller.abort();
    this.controller = new AbortController();
    return this.controller.signal;
  }
}

function busy(panel, on) {
  $(panel).setAttribute("aria-busy", String(on));
}

// ---------------------------------------------------------------- search combobox

const search = {
  input: null,
  listbox: null,
  options: [],
  active: -1,
  latest: new Latest(),
  suggestSoon: null,
};

function openListbox(open) {
  search.listbox.hidden = !open;
  search.input.setAttribute("aria-expanded", String(open));
  if (!open) setActive(-1);
}

function setActive(index) {
  search.active = index;
  search.listbox.querySelectorAll("[role=option]").forEach((option, i) => {
    option.setAttribute("aria-selected", String(i === index));
    if (i === index) option.scrollIntoView({ block: "nearest" });
  });
  if (index >= 0) search.input.setAttribute("aria-activedescendant", `search-option-${index}`);
  else search.input.removeAttribute("aria-activedescendant");
}

function renderSuggestions(items, text) {
  search.options = items.map((item) => item.movie);
  learnGenres(search.options);
  clear(search.listbox);
  if (!search.options.length) {
    search.listbox.append(
      el(
        "li",
        { className: "no-match", role: "option", "aria-disabled": "true", id: "search-option-none" },
        `No title matches “${text}”.`,
      ),
    );
    search.options = [];
    openListbox(true);
    announce("No matching titles.");
    return;
  }
  search.options.forEach((movie, index) => {
    const option = el(
      "li",
      {
        role: "option",
        id: `search-option-${index}`,
        "aria-selected": "false",
        "data-movie-id": movie.movie_id,
      },
      el("span", { className: "option-title" }, movie.title),
      el(
        "span",
        { className: "option-meta" },
        [movie.year, (movie.genres || []).join(", ")].filter(Boolean).join(" · "),
      ),
    );
    option.addEventListener("mousedown", (event) => event.preventDefault()); // keep focus in the input
    option.addEventListener("click", () => pickSuggestion(index));
    search.listbox.append(option);
  });
  openListbox(true);
  announce(
    `${search.options.length} title${search.options.length === 1 ? "" : "s"} found; arrow down to choose.`,
  );
}

async function suggest() {
  const text = search.input.value.trim();
  if (!text) {
    search.latest.next();
    openListbox(false);
    return;
  }
  const signal = search.latest.next();
  try {
    const answer = await api("movies", { params: { q: text, k: SUGGESTIONS }, signal });
    if (search.input.value.trim() !== text) return;
    renderSuggestions(answer.items, text);
  } catch (error) {
    if (error.name === "AbortError") return;
    openListbox(false);
    showError($("movie-message"), error);
  }
}

/** Stop suggesting for what was typed: a pick (or Enter) settles the search box. */
function settleSearch() {
  search.suggestSoon.cancel();
  search.latest.next();
  openListbox(false);
}

function pickSuggestion(index) {
  const movie = search.options[index];
  if (!movie) return;
  settleSearch();
  search.input.value = movie.title;
  openListbox(false);
  showMovie(movie.movie_id);
}

function onSearchKey(event) {
  const count = search.options.length;
  const open = !search.listbox.hidden;
  switch (event.key) {
    case "ArrowDown":
      event.preventDefault();
      if (!open) {
        suggest();
        return;
      }
      if (count) setActive((search.active + 1) % count);
      break;
    case "ArrowUp":
      event.preventDefault();
      if (open && count) setActive(search.active <= 0 ? count - 1 : search.active - 1);
      break;
    case "Enter":
      event.preventDefault();
      if (open && search.active >= 0) pickSuggestion(search.active);
      else if (search.input.value.trim()) {
        settleSearch();
        showByTitle(search.input.value.trim());
      }
      break;
    case "Escape":
      if (open) {
        event.preventDefault();
        openListbox(false);
      } else if (search.input.value) {
        event.preventDefault();
        search.input.value = "";
      }
      break;
    case "Tab":
      openListbox(false);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------- movie panel

const moviePanel = { latest: new Latest(), current: null, byTitle: null };

/** A rating-count percentile (0..1) as people say it: "top 5%" or "bottom 20%". */
function popularityText(percentile) {
  if (percentile >= 0.5) return `top ${Math.max(1, Math.round((1 - percentile) * 100))}% by ratings`;
  return `bottom ${Math.max(1, Math.round(percentile * 100))}% by ratings`;
}

function movieDetail(movie) {
  const facts = [];
  if (movie.rating_mean !== null && movie.rating_mean !== undefined) {
    facts.push(["Average rating", `${movie.rating_mean.toFixed(2)} of 5`]);
  }
  if (movie.bayes_rating !== null && movie.bayes_rating !== undefined) {
    facts.push(["Weighted rating", movie.bayes_rating.toFixed(2)]);
  }
  facts.push(["Ratings", String(movie.rating_count ?? 0)]);
  if (movie.popularity !== null && movie.popularity !== undefined)
    facts.push(["Popularity", popularityText(movie.popularity)]);
  if (movie.tags && movie.tags.length) facts.push(["Tags", movie.tags.join(", ")]);
  const links = [];
  if (movie.imdb_id && /^\d+$/.test(movie.imdb_id)) {
    links.push(
      el(
        "a",
        { href: `https://www.imdb.com/title/tt${movie.imdb_id}/`, rel: "noopener noreferrer external" },
        "IMDb",
      ),
    );
  }
  return el(
    "article",
    { className: "detail", "data-movie-id": movie.movie_id },
    movieHeading("h3", "detail-title", movie.title, movie),
    genreChips(movie.genres),
    el(
      "dl",
      { className: "facts" },
      facts.map(([term, value]) => el("div", {}, el("dt", {}, term), el("dd", {}, value))),
    ),
    el("div", { className: "detail-actions" }, likeButton(movie), links),
  );
}

function showSimilar(movie, items) {
  const heading = $("similar-heading");
  heading.hidden = false;
  heading.textContent = `Similar to ${movie.title}`;
  renderCards($("similar-list"), items);
  learnGenres(items.map((i) => i.movie));
  if (!items.length) {
    showMessage($("movie-message"), "info", "No similar movies match.", [
      `Nothing like ${movie.title} passes the filters.${filterNote()}`,
    ]);
  }
}

function resetMoviePanel() {
  clear($("movie-message"));
  clear($("movie-match"));
  clear($("movie-detail"));
  clear($("similar-list"));
  $("similar-heading").hidden = true;
}

/** A picked movie: its details and the movies most like it (both calls at once). */
async function showMovie(movieId) {
  moviePanel.current = movieId;
  moviePanel.byTitle = null;
  const signal = moviePanel.latest.next();
  busy("movie-panel", true);
  try {
    const [movie, similar] = await Promise.all([
      api(`movies/${encodeURIComponent(movieId)}`, { signal }),
      api(`movies/${encodeURIComponent(movieId)}/similar`, { params: filters(), signal }),
    ]);
    resetMoviePanel();
    $("movie-detail").append(movieDetail(movie));
    learnGenres([movie]);
    showSimilar(movie, similar.items);
    announce(`${movie.title}: ${similar.items.length} similar movies.`);
    hideBanner();
  } catch (error) {
    if (error.name === "AbortError") return;
    resetMoviePanel();
    showError($("movie-message"), error, () => ({
      title: "This movie is not in the current model.",
      details: [error.body.message || "", "Search for another title."].filter(Boolean),
    }));
  } finally {
    if (!signal.aborted) busy("movie-panel", false);
  }
}

function alternativeButtons(movies) {
  return el(
    "ul",
    { className: "alternatives" },
    movies.map((movie) => {
      const button = el("button", { type: "button", className: "chip-button" }, titleWithYear(movie));
      button.addEventListener("click", () => {
        settleSearch();
        search.input.value = movie.title;
        showMovie(movie.movie_id);
      });
      return el("li", {}, button);
    }),
  );
}

/** A note when the typed year is past the catalogue's last film: no film of that year can be in it. */
function yearNote(yearHint, years) {
  if (!yearHint || !years || yearHint <= years.last) return null;
  return el(
    "p",
    { className: "year-note" },
    `This catalogue has films from ${years.first} to ${years.last}: a ${yearHint} film cannot be in it.`,
  );
}

/** The one-click offer of a confident suggestion ("Did you mean …?"). */
function didYouMean(movie) {
  const button = el("button", { type: "button", className: "did-you-mean" }, titleWithYear(movie));
  button.addEventListener("click", () => {
    settleSearch();
    search.input.value = movie.title;
    showMovie(movie.movie_id);
  });
  return el("p", { className: "did-you-mean-line" }, "Did you mean ", button, "?");
}

/** Free text without a picked suggestion: the API resolves it and says what matched and what else was close. */
async function showByTitle(text) {
  moviePanel.current = null;
  moviePanel.byTitle = text;
  const signal = moviePanel.latest.next();
  busy("movie-panel", true);
  try {
    const answer = await api("recommendations/by-title", { params: { title: text, ...filters() }, signal });
    resetMoviePanel();
    const matched = answer.matched;
    const note = el(
      "div",
      { className: "notice notice-info match-note" },
      el(
        "p",
        { className: "notice-title" },
        `Best match for “${text}”: `,
        el("strong", {}, titleWithYear(matched)),
      ),
    );
    const years = yearNote(answer.year_hint, answer.catalogue_years);
    if (years) note.append(years);
    if (answer.alternatives && answer.alternatives.length) {
      note.append(el("p", {}, "Did you mean another one?"), alternativeButtons(answer.alternatives));
    }
    $("movie-match").append(note);
    $("movie-detail").append(movieDetail(matched));
    learnGenres([matched, ...(answer.alternatives || [])]);
    showSimilar(matched, answer.items);
    announce(`Best match ${matched.title}; ${answer.items.length} similar movies.`);
    hideBanner();
  } catch (error) {
    if (error.name === "AbortError") return;
    resetMoviePanel();
    showError($("movie-message"), error, () => {
      const errors = error.body.errors || {};
      const entries = (errors.suggestions || {})[text] || [];
      const close = entries.map((s) => s.movie).filter(Boolean);
      const offered = entries.find((s) => s.confident && s.movie);
      const confident = offered ? offered.movie : null;
      const years = (errors.years || {})[text] || {};
      const extra = el("div", {});
      const note = yearNote(years.year_hint, years.catalogue_years);
      if (note) extra.append(note);
      if (confident) extra.append(didYouMean(confident));
      const others = confident ? close.filter((m) => m.movie_id !== confident.movie_id) : close;
      if (others.length) extra.append(el("p", {}, confident ? "Other close titles:" : "Close titles:"), alternativeButtons(others));
      return {
        title: `No movie matches “${text}”.`,
        details: [close.length ? "" : "Check the spelling, or type fewer words."].filter(Boolean),
        extra: extra.childNodes.length ? extra : null,
      };
    });
  } finally {
    if (!signal.aborted) busy("movie-panel", false);
  }
}

function refreshMovie() {
  if (moviePanel.current !== null) showMovie(moviePanel.current);
  else if (moviePanel.byTitle !== null) showByTitle(moviePanel.byTitle);
}

// ---------------------------------------------------------------- liked movies

const likedPanel = { latest: new Latest(), movies: loadLiked() };

function loadLiked() {
  try {
    const stored = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || "[]");
    return Array.isArray(stored)
      ? stored.filter((m) => Number.isInteger(m.movie_id) && typeof m.title === "string")
      : [];
  } catch {
    return [];
  }
}

function saveLiked() {
  try {
    const slim = likedPanel.movies.map(({ movie_id, title, year, genres }) => ({
      movie_id,
      title,
      year,
      genres,
    }));
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify(slim));
  } catch {
    // Private browsing may refuse storage: the list still works for this visit.
  }
}

function isLiked(movieId) {
  return likedPanel.movies.some((m) => m.movie_id === movieId);
}

function toggleLiked(movie) {
  if (isLiked(movie.movie_id)) {
    likedPanel.movies = likedPanel.movies.filter((m) => m.movie_id !== movie.movie_id);
    announce(`Removed ${movie.title} from the movies you liked.`);
  } else {
    if (likedPanel.movies.length >= MAX_LIKED) {
      showMessage($("liked-message"), "info", `You can keep up to ${MAX_LIKED} liked movies.`, [
        "Remove one to add another.",
      ]);
      return;
    }
    likedPanel.movies = [...likedPanel.movies, movie];
    announce(`Added ${movie.title} to the movies you liked.`);
  }
  saveLiked();
  likedChanged();
}

function renderLiked() {
  const list = clear($("liked-list"));
  for (const movie of likedPanel.movies) {
    const remove = el(
      "button",
      { type: "button", className: "remove", "aria-label": `Remove ${titleWithYear(movie)}` },
      "Remove",
    );
    remove.addEventListener("click", () => {
      const index = likedPanel.movies.findIndex((m) => m.movie_id === movie.movie_id);
      toggleLiked(movie);
      const buttons = $("liked-list").querySelectorAll("button.remove");
      const next = buttons[Math.min(index, buttons.length - 1)];
      (next || search.input).focus(); // keep keyboard users in the list
    });
    list.append(
      el(
        "li",
        { "data-movie-id": movie.movie_id },
        el("span", { className: "liked-title" }, titleWithYear(movie)),
        remove,
      ),
    );
  }
  const count = likedPanel.movies.length;
  $("liked-count").textContent = String(count);
  $("liked-empty").hidden = count > 0;
  $("liked-clear").hidden = count === 0;
  document.querySelectorAll("button.like").forEach((button) => {
    if (likeButtons.has(button)) syncLikeButton(button, likeButtons.get(button));
  });
}

function likedChanged() {
  renderLiked();
  refreshLikedSoon();
}

/** Recommendations folded in from the liked movies, as the list changes. */
async function refreshLiked() {
  const signal = likedPanel.latest.next();
  const results = $("liked-results");
  if (!likedPanel.movies.length) {
    clear($("liked-message"));
    clear(results);
    busy("liked-panel", false);
    return;
  }
  busy("liked-panel", true);
  try {
    const body = { movie_ids: likedPanel.movies.map((m) => m.movie_id), ...filters() };
    const answer = await api("recommendations/from-liked", { json: body, signal });
    clear($("liked-message"));
    renderCards(results, answer.items);
    learnGenres(answer.items.map((i) => i.movie));
    if (answer.ignored_movie_ids && answer.ignored_movie_ids.length) {
      const names = likedPanel.movies
        .filter((m) => answer.ignored_movie_ids.includes(m.movie_id))
        .map((m) => m.title);
      showMessage($("liked-message"), "info", "Some liked movies could not be used.", [
        `The model has too few ratings of ${names.join(", ") || "them"} to learn from.`,
      ]);
    } else if (!answer.items.length) {
      showMessage($("liked-message"), "info", "No recommendations match.", [
        `Nothing passes the filters.${filterNote()}`,
      ]);
    }
    announce(`${answer.items.length} recommendations from ${likedPanel.movies.length} liked movies.`);
    hideBanner();
  } catch (error) {
    if (error.name === "AbortError") return;
    clear(results);
    showError($("liked-message"), error);
  } finally {
    if (!signal.aborted) busy("liked-panel", false);
  }
}

const refreshLikedSoon = debounce(refreshLiked, REFRESH_DELAY_MS);

// ---------------------------------------------------------------- user panel

const userPanel = { latest: new Latest(), current: null };

function userProfile(user) {
  const parts = [`${user.rating_count ?? 0} ratings`];
  if (user.top_genres && user.top_genres.length) parts.push(`likes ${user.top_genres.join(", ")}`);
  const who = [user.age ? `age ${user.age}` : null, user.occupation || null].filter(Boolean).join(", ");
  if (who) parts.push(who);
  return el(
    "p",
    { className: "profile" },
    el("strong", {}, `User ${user.user_id}`),
    `: ${parts.join(" · ")}`,
  );
}

async function showUser(rawId) {
  const text = String(rawId).trim();
  if (!text) {
    showMessage($("user-message"), "error", "Please check your input.", ["User id: enter a number, e.g. 1."]);
    return;
  }
  userPanel.current = text;
  const signal = userPanel.latest.next();
  busy("user-panel", true);
  const id = encodeURIComponent(text);
  try {
    const [user, answer] = await Promise.all([
      api(`users/${id}`, { signal }),
      api(`users/${id}/recommendations`, { params: filters(), signal }),
    ]);
    clear($("user-message"));
    clear($("user-profile")).append(userProfile(user));
    renderCards($("user-results"), answer.items);
    learnGenres(answer.items.map((i) => i.movie));
    if (!answer.items.length) {
      showMessage($("user-message"), "info", "No recommendations match.", [
        `Nothing this user has not rated passes the filters.${filterNote()}`,
      ]);
    }
    announce(`${answer.items.length} recommendations for user ${user.user_id}.`);
    hideBanner();
  } catch (error) {
    if (error.name === "AbortError") return;
    clear($("user-profile"));
    clear($("user-results"));
    showError($("user-message"), error, () => ({
      title: `There is no user ${text}.`,
      details: ["Check the id, or add movies you liked above to get recommendations without an account."],
    }));
  } finally {
    if (!signal.aborted) busy("user-panel", false);
  }
}

// ---------------------------------------------------------------- the page as a whole

function refreshAll() {
  refreshMovie();
  if (likedPanel.movies.length) refreshLikedSoon();
  if (userPanel.current !== null) showUser(userPanel.current);
}

function describeHealth(report) {
  const counts = Object.entries(report.indices || {})
    .filter(([, index]) => index && index.count !== null && index.count !== undefined)
    .map(([kind, index]) => `${index.count} ${kind}`);
  return `Model ${report.active_run || "?"}${counts.length ? ` · ${counts.join(", ")}` : ""}`;
}

/** Service state in the footer; a banner while it is degraded (the API answers 503 with the report). */
async function checkHealth() {
  try {
    const report = await api("health");
    $("service-status").textContent = describeHealth(report);
    hideBanner();
    return true;
  } catch (error) {
    if (error.kind === "http" && error.status === 503 && error.body && error.body.problems) {
      $("service-status").textContent = "Service degraded.";
      const problems = error.body.problems.join("; ");
      $("banner-text").textContent = `The recommendation service is unavailable right now: ${problems}.`;
      $("banner").hidden = false;
    } else {
      $("service-status").textContent = "Service unavailable.";
      showBanner(error);
    }
    return false;
  }
}

/** The genre checkboxes: every genre of the served catalogue (one call); later answers add any genre they show. */
async function loadGenres() {
  try {
    const answer = await api("movies/genres");
    for (const genre of answer.genres) genreCounts.set(genre.name, genre.count);
    addGenres(answer.genres.map((genre) => genre.name));
    if (!knownGenres.size) renderGenres();
  } catch {
    if (!knownGenres.size) renderGenres("Genres appear once the service answers.");
  }
}

async function start() {
  if (await checkHealth()) await loadGenres();
  else if (!knownGenres.size) renderGenres("Genres appear once the service answers.");
  if (likedPanel.movies.length) refreshLiked();
}

function wire() {
  search.input = $("search-input");
  search.listbox = $("search-listbox");
  search.suggestSoon = debounce(suggest, SUGGEST_DELAY_MS);
  search.input.addEventListener("input", search.suggestSoon);
  search.input.addEventListener("keydown", onSearchKey);
  search.input.addEventListener("blur", () => window.setTimeout(() => openListbox(false), 150));
  $("search-form").addEventListener("submit", (event) => event.preventDefault());

  const filtersSoon = debounce(filtersChanged, REFRESH_DELAY_MS);
  $("filters-form").addEventListener("change", filtersSoon);
  $("filters-form").addEventListener("submit", (event) => event.preventDefault());
  $("filters-reset").addEventListener("click", () => {
    $("filters-form").reset();
    filtersChanged();
  });
  const details = $("filters");
  if (window.matchMedia("(min-width: 56rem)").matches) details.open = true;

  $("user-form").addEventListener("submit", (event) => {
    event.preventDefault();
    showUser($("user-id").value);
  });
  $("liked-clear").addEventListener("click", () => {
    likedPanel.movies = [];
    saveLiked();
    likedChanged();
    search.input.focus();
  });
  $("banner-retry").addEventListener("click", async () => {
    if (await checkHealth()) {
      if (!knownGenres.size) await loadGenres();
      refreshAll();
    }
  });

  showMessage($("movie-message"), "info", "Search a title above to see it and the movies most like it.");
  renderLiked();
  start();
}

wire();
