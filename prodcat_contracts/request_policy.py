"""What a JSON request body may be, checked on the raw text *before* it is parsed, and how big an
error answer may grow. The API (lambdas/api/app.py, every route) and the serving container
(inference/server.py) both apply it, so a body is refused the same way locally and in AWS.

Why before parsing: Python's json parser recurses (1,000 levels of `[` are a RecursionError),
refuses integers over 4,300 digits with a ValueError, and builds every member of an object
before pydantic can say that one of them is unknown; each was a 500, or an error answer larger
than Lambda may return. The scan below is a regular expression over the text, with no recursion,
and it stops at the first limit crossed, so its cost is bounded whatever the body holds.

Each limit sits well above what any valid request needs and far below what breaks a parser.
The scan only counts; whether the text is valid JSON is the parser's to say (`parse_json`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# The deepest valid body is a batch for the container, {"instances": [{...}]}: 3 levels. The
# API's bodies are 1 level. Python's json and pydantic fail near 1,000.
MAX_DEPTH = 10
# Object members plus array items, over the whole body. A full batch (32 listings of 4 fields)
# is 161; an API body has at most 5 fields. Every extra one costs memory and an error line.
MAX_MEMBERS = 256
# The longest field name the API or the container knows is 11 characters ("description");
# a name is echoed in an error answer, so a long one is refused before it is.
MAX_KEY_CHARS = 64
# A number a listing holds is a small integer (top_k, prdtypecode); a double's shortest form is
# at most 24 characters. Python refuses integers over 4,300 digits (a ValueError, then a 500).
MAX_NUMBER_CHARS = 32
# The API forwards a listing to a SageMaker serverless endpoint, which takes 4 MB. The largest
# valid listing is a 2.5 MiB photo (3,495,256 characters of base64) plus the longest title and
# description even when every character is a \uXXXX\uXXXX escape (252,000): 3.75 MB.
API_MAX_BODY_BYTES = 4_000_000
# The longest valid string is that photo's base64; its field checks its own limit afterwards.
API_MAX_STRING_CHARS = 3_500_000
# Error answers: the first few field errors say what to fix; 200,000 of them were 12.5 MB, over
# Lambda's 6 MB response limit. A message echoes at most this much of anything.
MAX_FIELD_ERRORS = 10
MAX_MESSAGE_CHARS = 200


@dataclass(frozen=True)
class BodyRefused(Exception):
    """A body the policy refuses: 413 when it is too large, 400 otherwise."""

    status: int
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class RequestPolicy:
    max_body_bytes: int = API_MAX_BODY_BYTES
    max_string_chars: int = API_MAX_STRING_CHARS
    max_depth: int = MAX_DEPTH
    max_members: int = MAX_MEMBERS
    max_key_chars: int = MAX_KEY_CHARS
    max_number_chars: int = MAX_NUMBER_CHARS

    def check(self, text: str) -> None:
        """Raise BodyRefused when `text` crosses a limit; say nothing about its syntax."""
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > self.max_body_bytes:
            raise BodyRefused(
                413,
                f"the body is {size} bytes; the limit is {self.max_body_bytes} bytes. Send a "
                "smaller photo (about 1000 px on its longest side is plenty: the model looks "
                "at 224x224).",
            )
        _scan(text, self)

    def parse(self, text: str) -> Any:
        """`check`, then the parsed body; BodyRefused for anything that is not plain JSON."""
        self.check(text)
        return parse_json(text)


API_POLICY = RequestPolicy()

# One token, after optional whitespace: a string (escapes included, no backtracking blow-up),
# anything number-like (longer than JSON's grammar on purpose: its length is what counts), a
# structural character, or a bare word (true, false, null, and what json would also accept).
_TOKEN = re.compile(
    r'[ \t\n\r]*(?:(?P<string>"[^"\\]*(?:\\.[^"\\]*)*")|(?P<number>[-+0-9.eE]+)'
    r"|(?P<punct>[{}\[\],:])|(?P<word>[A-Za-z]+))",
    re.DOTALL,
)


def _scan(text: str, policy: RequestPolicy) -> None:
    open_containers: list[str] = []  # "{" or "[", innermost last
    want_name = False  # the next string names a member of the innermost object
    members = 0
    position, end = 0, len(text)
    while position < end:
        token = _TOKEN.match(text, position)
        if token is None:  # not JSON here: the parser will say where and why
            return
        position = token.end()
        kind = token.lastgroup or ""
        value = token.group(kind)
        if kind == "punct":
            if value in "{[":
                if len(open_containers) >= policy.max_depth:
                    raise BodyRefused(
                        400,
                        f"the body nests deeper than {policy.max_depth} levels; a listing "
                        "is a flat object of fields",
                    )
                open_containers.append(value)
                want_name = value == "{"
                members += value == "["  # its first item, if any; each comma adds one
            elif value in "}]":
                if open_containers:
                    open_containers.pop()
                want_name = False
            elif value == "," and open_containers:
                want_name = open_containers[-1] == "{"
                members += open_containers[-1] == "["
        elif kind == "string":
            chars = len(value) - 2
            if want_name:
                want_name = False
                members += 1
                if chars > policy.max_key_chars:
                    raise BodyRefused(
                        400,
                        f"a field name is {chars} characters long; the limit is "
                        f"{policy.max_key_chars}: send only the fields the API documents",
                    )
            elif chars > policy.max_string_chars:
                raise BodyRefused(
                    413,
                    f"a string in the body is {chars} characters long; the limit is "
                    f"{policy.max_string_chars} (a photo of the largest size, in base64)",
                )
        elif kind == "number" and len(value) > policy.max_number_chars:
            raise BodyRefused(
                400,
                f"a number in the body is {len(value)} characters long; the limit is "
                f"{policy.max_number_chars}",
            )
        if members > policy.max_members:
            raise BodyRefused(
                400,
                f"the body has more than {policy.max_members} fields and items; send only "
                "the fields the API documents",
            )


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number: send a number or null")


def parse_json(text: str) -> Any:
    """json.loads, with every failure a BodyRefused (400) that says where and what."""
    try:
        return json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise BodyRefused(
            400,
            f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
        ) from exc
    except (ValueError, RecursionError) as exc:  # a check missed something: still the caller's
        raise BodyRefused(400, f"the body is not valid JSON: {clip(str(exc))}") from exc


def clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def bounded_errors(errors: list[dict[str, str]]) -> dict[str, Any]:
    """The first MAX_FIELD_ERRORS field errors, each clipped, and how many were left out."""
    shown = [{k: clip(str(v)) for k, v in e.items()} for e in errors[:MAX_FIELD_ERRORS]]
    out: dict[str, Any] = {"errors": shown}
    if len(errors) > MAX_FIELD_ERRORS:
        out["errors_omitted"] = len(errors) - MAX_FIELD_ERRORS
    return out
