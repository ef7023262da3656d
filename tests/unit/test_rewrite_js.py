"""Code put at the top of a JavaScript body (core/rewrite_js.py): after a BOM, a hashbang line
and the directive prologue, never inside an expression; the same wherever the body is cut."""

from __future__ import annotations

import pytest

from kubegate.core.rewrite_js import JsPrepend, insertion_point

CODE = b"CODE;"


def prepended(body: bytes) -> bytes:
    stream = JsPrepend(CODE)
    return stream.feed(body) + stream.finish()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", b"CODE;"),
        (b"postMessage(1);", b"CODE;postMessage(1);"),
        (b"import x from './x.js';", b"CODE;import x from './x.js';"),
        (b"'use strict';f()", b"'use strict';CODE;f()"),
        (b'"use strict"; f()', b'"use strict";CODE; f()'),
        (b"'use strict'\nf()", b"'use strict';CODE;\nf()"),
        (b"'use strict'", b"'use strict';CODE;"),
        (b"/*! MIT */\n'use strict';\nf()", b"/*! MIT */\n'use strict';CODE;\nf()"),
        (b"// x\n'use strict' // y\n'use asm';f()", b"// x\n'use strict' // y\n'use asm';CODE;f()"),
        (b"'a' /* \n */ var x", b"'a';CODE; /* \n */ var x"),
        (b"'a\\'b';f()", b"'a\\'b';CODE;f()"),
        (b"\xef\xbb\xbf'use strict';f()", b"\xef\xbb\xbf'use strict';CODE;f()"),
        (b"\xef\xbb\xbff()", b"\xef\xbb\xbfCODE;f()"),
        (b"#!/usr/bin/env node\nf()", b"#!/usr/bin/env node\nCODE;f()"),
        (b"#!/usr/bin/env node\n'use strict';f()", b"#!/usr/bin/env node\n'use strict';CODE;f()"),
        (b"#!/usr/bin/env node", b"#!/usr/bin/env node\nCODE;"),
    ],
    ids=[
        "empty",
        "statement",
        "module",
        "directive",
        "directive-space",
        "directive-asi",
        "directive-at-end",
        "license-comment",
        "two-directives",
        "asi-across-block-comment",
        "escaped-quote",
        "bom-directive",
        "bom",
        "hashbang",
        "hashbang-directive",
        "hashbang-only",
    ],
)
def test_code_goes_after_bom_hashbang_and_directives(body: bytes, expected: bytes) -> None:
    """The code lands after a BOM, a hashbang line and every directive, with the ';' or line
    break a directive or hashbang without one needs."""
    assert prepended(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"'use strict'\n(function () {})()",  # a call of the string: no directive
        b"'use strict'\n[1].map(f)",
        b"'use strict'\n+x",
        b"'use strict'\ninstanceof X",
        b"'use strict'\n.length",
        b"'use strict' + x;",
        b"'a\nb';",  # not a string literal
        b"('use strict');",
        b"`use strict`;",
    ],
    ids=["call", "index", "plus", "instanceof", "member", "same-line", "broken", "paren", "tpl"],
)
def test_string_continued_as_expression_gets_the_code_before_it(body: bytes) -> None:
    """A leading string that is not a whole statement (or not a string) is no directive: the
    code goes first, never into the expression."""
    assert prepended(body) == CODE + body


@pytest.mark.parametrize(
    "body",
    [
        b"/*! a licence */\n\"use strict\";\n'use asm'\nvar a = 1;\nself.onmessage = f;",
        b"#!/x\r\n'use strict'\r\n\r\nimportScripts('/lib.js');",
        b"\xef\xbb\xbf// c\n'a' // d\n{ f() }",
        b"'use strict'\ninstanceofx = 1",
    ],
)
def test_any_cut_gives_the_output_of_the_whole_body(body: bytes) -> None:
    """Fed in pieces cut anywhere (down to single bytes), the output is the whole body's."""
    whole = prepended(body)
    for cut in range(len(body) + 1):
        stream = JsPrepend(CODE)
        assert stream.feed(body[:cut]) + stream.feed(body[cut:]) + stream.finish() == whole
    stream = JsPrepend(CODE)
    out = b"".join(stream.feed(body[i : i + 1]) for i in range(len(body)))
    assert out + stream.finish() == whole


def test_undecided_head_is_held_back() -> None:
    """While the head could still be a directive, nothing is sent; the rest then goes at once."""
    stream = JsPrepend(CODE)
    assert stream.feed(b"'use str") == b""
    assert stream.feed(b"ict'\n") == b""
    assert stream.feed(b"f();") == b"'use strict';CODE;\nf();"
    assert stream.feed(b"g();") == b"g();"
    assert stream.finish() == b""


def test_head_held_past_the_limit_takes_what_it_has() -> None:
    """A comment running past hold_max stops the wait: the code goes before it."""
    stream = JsPrepend(CODE, hold_max=64)
    assert stream.feed(b"/*" + b"x" * 40) == b""
    assert stream.feed(b"x" * 40) == CODE + b"/*" + b"x" * 80


def test_insertion_point_waits_only_when_not_final() -> None:
    """An unfinished head gives None, the same bytes as the whole script an answer."""
    assert insertion_point(b"'use strict'", final=False) is None
    assert insertion_point(b"'use strict'", final=True) == (12, b";")
    assert insertion_point(b"f", final=False) == (0, b"")
