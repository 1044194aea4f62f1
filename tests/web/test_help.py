"""The glossary and the keys (issue 21): the words of the first tour explained in a sentence or two,
marked where the stage's sentences and pane headings use them, on a help page that works without
JavaScript; the key table is the app's and docs/keys.md's alike."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from app.web import modelapi, urls
from app.web.page import glossary

SEED = "lru-writeback-vs-swapoff"
DOCS_KEYS = Path(__file__).resolve().parents[2] / "docs" / "keys.md"

# What a student meets in the first tour (issue 21), as written there -> the entry that explains it.
REQUIRED = {
    "zswap": "zswap", "zswap tree": "zswap-tree", "shrinker": "shrinker", "entry": "entry",
    "isolates": "isolate", "swap offset": "slot", "slot": "slot", "swap cache": "swap-cache",
    "folio": "folio", "PTE": "pte", "try_to_unuse()": "try-to-unuse", "device users": "device-users",
    "reference count": "device-users", "RCU": "rcu", "KASAN": "kasan", "b:883": "line-labels",
}


def test_every_word_of_the_first_tour_has_a_short_entry():
    terms = {t.id: t for t in glossary.load().terms}
    for word, tid in REQUIRED.items():
        assert glossary.term_id(word) == tid, word
        text = terms[tid].text
        assert 40 < len(text) < 420, (tid, len(text))
        assert len(re.findall(r"[.!?](?:\s|$)", text)) <= 2, (tid, text)  # one or two sentences
    assert "percpu_ref" in terms["device-users"].term


def test_marking_is_whole_words_first_use_and_escaped():
    out = str(glossary.mark("zswap_swapoff() takes tree->lock; the tree <b> and the tree again, b:883"))
    assert "zswap_swapoff()" in out and 'data-term="zswap"' not in out  # inside an identifier: no
    assert "tree-&gt;lock" in out and out.count('data-term="zswap-tree"') == 1  # tree->lock is code
    assert "&lt;b&gt;" in out and 'data-term="line-labels"' in out
    assert 'aria-describedby="g-zswap-tree-d"' in out


def _tour():
    return next(t for t in modelapi.scenario(SEED)["tours"] if t["name"] == "uaf-a")


def _sentence(page: str) -> str:
    m = re.search(r'<p class="say"[^>]*>.*?</p>', page, re.S)
    assert m, "no sentence"
    return m.group(0)


def test_the_first_tours_sentences_and_the_pane_headings_mark_their_terms(client):
    tour = _tour()
    used: set[str] = set()
    for k in range(1, len(tour["schedule"]) + 1):
        page = client.get(urls.scenario(SEED, "old", tour["schedule"][:k], "uaf-a")).text
        box = _sentence(page)
        marked = set(re.findall(r'<a class="term" href="/help#g-([\w-]+)" data-term="\1" aria-describedby="g-\1-d">', box))
        plain = html.unescape(re.sub(r"<[^>]+>", "", box))
        for word in sorted(REQUIRED, key=len, reverse=True):  # "zswap tree" is not also "zswap"
            tid = REQUIRED[word]
            found = re.compile(rf"(?<![\w>.-]){re.escape(word)}(?![\w(]|->)", re.I if not word.isupper() else 0)
            if found.search(plain):
                assert tid in marked, (k, word, plain)
                used.add(tid)
                plain = found.sub(" ", plain)
        # Every described-by points at a definition the page carries.
        for tid in marked:
            assert f'id="g-{tid}-d"' in page
    assert {"zswap-tree", "shrinker", "entry", "isolate", "slot", "swap-cache", "folio", "pte", "try-to-unuse",
            "device-users", "rcu", "kasan"} <= used, used
    start = client.get(urls.scenario(SEED, "old", "1")).text
    for tid, heading in (("zswap-tree", "zswap tree"), ("swap-cache", "Swap cache"), ("lru", "LRU")):
        assert re.search(rf'<h2>(?:(?!</h2>).)*<a class="term" href="/help#g-{tid}"[^>]*>{heading}</a>', start), heading


def test_the_help_page_works_without_javascript(client):
    r = client.get(urls.help_page())
    assert r.status_code == 200 and "Keys and words" in r.text
    for t in glossary.load().terms:
        assert f'id="g-{t.id}"' in r.text and t.text in html.unescape(r.text)
    stage = client.get(urls.scenario(SEED)).text
    assert f'href="{urls.help_page()}" id="help-open" data-hotkey="?"' in stage


@pytest.mark.parametrize("doc", [DOCS_KEYS, DOCS_KEYS.parents[1] / "README.md"], ids=["keys.md", "README"])
def test_the_docs_key_tables_are_the_apps(doc: Path):
    rows = [line for line in doc.read_text(encoding="utf-8").splitlines() if line.startswith("| `")]
    want = [f"| {' '.join(f'`{x}`' for x in k.keys)} | {k.does} |" for k in glossary.load().keys]
    assert rows == want


@pytest.mark.parametrize("code", ["old", "new"])
def test_narration_out_of_a_tour_reads_as_a_sentence(client, code):
    """"CPU1 __read_swap_cache_async get_swap_device() fails" read aloud: now "CPU1, in
    __read_swap_cache_async() at b:1423: ..." (a sentence, the function named as one)."""
    t = "11111111111"
    page = client.get(urls.scenario(SEED, code, t)).text
    m = re.search(r'<p class="say" id="last-step">(.*?)</p>', page, re.S)
    said = " ".join(html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).split())
    assert re.match(r"\d+\. CPU\d, in \w+\(\)( at [bf]:\d+(-\d+)?)?[:,] \S", said), said
    assert not re.search(r"\b(CPU\d)\W+\1\b", said), said


def test_a_step_never_names_its_cpu_twice(client):
    """The crash step's narration starts with "CPU1 touches ...": the sentence and compare said
    "55. CPU1 CPU1 touches"."""
    uaf = _tour()["schedule"]
    for url in (urls.scenario(SEED, "old", uaf), urls.compare(SEED, "old", uaf, "new", uaf)):
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", client.get(url).text)).split())
        assert not re.search(r"\b(CPU\d) \1\b", text), url
        assert re.search(r"55\. CPU1(, in shrink_memcg_cb\(\) at b:883,)? touches tree->lock", text), url
