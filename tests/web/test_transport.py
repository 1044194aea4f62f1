"""Transport: gzip by a parsed Accept-Encoding, versioned static files with cache headers, HEAD."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import re

import pytest

from app.web.http import assets, compression
from app.web.page import render
from app.web import urls

SEED = "lru-writeback-vs-swapoff"
PAGE = f"/s/{SEED}?code=old&t=11"
GZIP = {"Accept-Encoding": "gzip, deflate"}
NO_GZIP = {"Accept-Encoding": "gzip;q=0, deflate"}


def raw_get(client, url: str, headers: dict[str, str] | None = None, drop: tuple[str, ...] = ()):
    """GET without httpx's transparent decoding: (response, the bytes exactly as sent)."""
    request = client.build_request("GET", url, headers=headers)
    for name in drop:
        del request.headers[name]
    response = client.send(request, stream=True)
    try:
        return response, b"".join(response.iter_raw())
    finally:
        response.close()


def vary_tokens(response) -> list[str]:
    return [t.strip().lower() for v in response.headers.get_list("vary") for t in v.split(",") if t.strip()]


def file_version(path: str) -> str:
    return hashlib.sha256((render.STATIC / path).read_bytes()).hexdigest()[:10]


# -- Accept-Encoding -----------------------------------------------------------------------------

@pytest.mark.parametrize("header, expected", [
    ("gzip", True),
    ("gzip, deflate, br, zstd", True),
    ("GZip;Q=0.5", True),
    ("br;q=1.0, gzip;q=0.8, *;q=0.1", True),
    ("x-gzip", True),
    ("*", True),
    ("br, *;q=0.2", True),
    ("gzip;q=0", False),
    ("gzip; q=0.000, deflate", False),
    ("gzip;q=0, *", False),          # the explicit member wins over the wildcard
    ("*;q=0", False),
    ("gzip;q=abc", False),           # malformed weight: refuse rather than guess
    ("gzip;q=2", False),
    ("deflate, br", False),
    ("x-notgzip, gzipped", False),   # substrings are not codings
    ("identity", False),
    ("", False),
    (None, False),
])
def test_accepts_gzip_parses_the_header(header, expected):
    assert compression.accepts_gzip(header) is expected


# -- compression -----------------------------------------------------------------------------------

COMPRESSED_URLS = [
    "/",
    "/api/scenarios",
    f"/api/s/{SEED}?code=old&t=11",
    "/openapi.json",
    "/static/app.css",
    "/static/vendor/htmx-4.0.1.min.js",
    "/s/no-such-scenario",            # an HTML 404 page
    f"/s/{SEED}?code=old&t=9",        # an HTML 422 page
    "/no/such/page",                  # starlette's 404, through our handler
]


@pytest.mark.parametrize("url", COMPRESSED_URLS)
def test_text_answers_are_gzipped_when_asked(client, url):
    r, raw = raw_get(client, url, GZIP)
    assert r.headers.get("content-encoding") == "gzip", url
    assert "accept-encoding" in vary_tokens(r)
    body = gzip.decompress(raw)
    assert len(raw) < len(body)
    assert int(r.headers["content-length"]) == len(raw)
    plain, plain_raw = raw_get(client, url, NO_GZIP)
    assert plain.status_code == r.status_code and plain_raw == body


@pytest.mark.parametrize("url", COMPRESSED_URLS + [PAGE])
def test_no_gzip_when_refused_with_q0(client, url):
    r, raw = raw_get(client, url, NO_GZIP)
    assert "content-encoding" not in r.headers
    assert not raw.startswith(b"\x1f\x8b")


@pytest.mark.parametrize("url", COMPRESSED_URLS + [PAGE])
def test_no_gzip_without_accept_encoding(client, url):
    r, raw = raw_get(client, url, drop=("accept-encoding",))
    assert "content-encoding" not in r.headers
    assert not raw.startswith(b"\x1f\x8b")


@pytest.mark.parametrize("headers", [GZIP, {**GZIP, "HX-Request": "true"}])
def test_scenario_page_is_compressed_once(client, headers):
    """pages.py serves a pre-gzipped body: the middleware must pass it through untouched."""
    r, raw = raw_get(client, PAGE, headers)
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    html = gzip.decompress(raw).decode()
    assert 'id="state"' in html and html.lstrip().startswith("<")
    assert int(r.headers["content-length"]) == len(raw)


def test_vary_names_each_header_once(client):
    for headers in (GZIP, NO_GZIP):
        r, _ = raw_get(client, PAGE, headers)
        tokens = vary_tokens(r)
        assert tokens.count("accept-encoding") == 1 and len(tokens) == len(set(tokens))
        assert "hx-request" in tokens


def test_small_answers_stay_plain(client):
    r, raw = raw_get(client, "/api/s/no-such-scenario", GZIP)
    assert r.status_code == 404 and "content-encoding" not in r.headers
    assert json.loads(raw)["error"] == "unknown-scenario"


# -- HEAD ------------------------------------------------------------------------------------------

HEAD_URLS = [
    "/",
    PAGE,
    f"/s/{SEED}",
    "/api/scenarios",
    f"/api/s/{SEED}?code=old&t=11",
    "/openapi.json",
    "/static/app.css",
    urls.static("app.css"),
    "/favicon.ico",
    "/s/no-such-scenario",
    "/api/s/no-such-scenario",
    "/no/such/page",
]


@pytest.mark.parametrize("accept", [GZIP, NO_GZIP])
@pytest.mark.parametrize("url", HEAD_URLS)
def test_head_is_get_without_a_body(client, url, accept):
    got, _ = raw_get(client, url, accept)
    head = client.head(url, headers=accept)
    assert head.status_code == got.status_code != 405
    assert head.headers.multi_items() == got.headers.multi_items()
    assert head.content == b""


def test_head_of_a_fragment_matches_its_get(client):
    headers = {**GZIP, "HX-Request": "true"}
    got, raw = raw_get(client, PAGE, headers)
    head = client.head(PAGE, headers=headers)
    assert head.headers.multi_items() == got.headers.multi_items() and head.content == b""


def test_other_methods_still_refused(client):
    assert client.post("/").status_code == 405
    assert client.delete("/api/scenarios").status_code == 405


# -- versioned static files ------------------------------------------------------------------------

def test_static_url_carries_the_content_hash():
    assert assets.STATIC == render.STATIC
    assert urls.static("app.css") == f"/static/app.css?v={file_version('app.css')}"
    assert urls.static("no-such-file.css") == "/static/no-such-file.css"
    assert assets.version("../pyproject.toml") is None


def test_version_follows_the_content(tmp_path):
    f = tmp_path / "a.css"
    f.write_text("a{}")
    first = assets.version("a.css", tmp_path)
    assert first == hashlib.sha256(b"a{}").hexdigest()[:10]
    assert assets.version("a.css", tmp_path) == first
    f.write_text("a{color:red}")
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000))
    assert assets.version("a.css", tmp_path) == hashlib.sha256(b"a{color:red}").hexdigest()[:10]


def test_current_version_is_cached_for_a_year(client):
    r = client.get(urls.static("app.css"))
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("url", ["/static/app.css", "/static/app.css?v=0000000000", "/static/app.css?v="])
def test_unversioned_or_stale_is_revalidated(client, url):
    r = client.get(url)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-cache"


def test_revalidation_keeps_the_cache_headers(client):
    url = urls.static("app.css")
    etag = client.get(url).headers["etag"]
    r = client.get(url, headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get("/static/app.css", headers={"If-None-Match": etag}).headers["cache-control"] == "no-cache"


def test_missing_static_file_is_not_cached(client):
    r = client.get("/static/nope.css?v=0000000000")
    assert r.status_code == 404
    assert "immutable" not in r.headers.get("cache-control", "")


def test_favicon_is_cached_but_not_forever(client):
    cc = client.get("/favicon.ico").headers["cache-control"]
    assert "max-age=" in cc and "immutable" not in cc


@pytest.mark.parametrize("url", ["/", PAGE, "/s/no-such-scenario"])
def test_every_linked_static_url_has_the_current_version(client, url):
    html = client.get(url).text
    links = re.findall(r'(?:href|src)="(/static/[^"]*)"', html)
    assert links, "the page links no static file"
    for link in links:
        m = re.fullmatch(r"/static/([^?]+)\?v=([0-9a-f]{10})", link)
        assert m, f"{link} has no version"
        assert m.group(2) == file_version(m.group(1)), link
        assert client.get(link).headers["cache-control"] == "public, max-age=31536000, immutable"


# -- brotli for static text files ------------------------------------------------------------------

def test_static_text_is_brotli_for_a_browser_that_accepts_it(client):
    """(httpx decodes bodies: r.content is the decoded file, content-length the bytes sent.)"""
    url = urls.static("vendor/htmx-4.0.1.min.js")
    raw = (render.STATIC / "vendor/htmx-4.0.1.min.js").read_bytes()
    r = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "br"
    assert "Accept-Encoding" in r.headers["vary"] and "immutable" in r.headers["cache-control"]
    assert r.content == raw
    assert int(r.headers["content-length"]) < len(gzip.compress(raw, 6))
    again = client.get(url, headers={"Accept-Encoding": "br", "If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize("accept", ["gzip", "br;q=0, gzip", "gzip, br;q=0"])
def test_static_text_falls_back_to_gzip_when_brotli_is_refused(client, accept):
    r = client.get("/static/app.css", headers={"Accept-Encoding": accept})
    assert r.headers["content-encoding"] == "gzip"
    assert r.content == (render.STATIC / "app.css").read_bytes()


def test_head_of_a_brotli_static_file_has_its_headers_and_no_body(client):
    get = client.get("/static/app.js", headers={"Accept-Encoding": "br"})
    head = client.head("/static/app.js", headers={"Accept-Encoding": "br"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-encoding"] == get.headers["content-encoding"] == "br"
    assert head.headers["content-length"] == get.headers["content-length"]
