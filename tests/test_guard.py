"""The server-side privacy guard (ingest/guard.py): pure unit tests on batch JSON bytes."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionlens.ingest.guard import (
    PRESETS,
    Scrubbed,
    luhn_valid,
    scrub,
    scrub_exact,
    scrub_fast,
)

VISA = "4242424242424242"
AMEX = "378282246310005"  # 15 digits
VISA_13 = "4222222222222"
LUHN_INVALID = "4242424242424241"


def with_check_digit(prefix: str) -> str:
    """prefix and the one digit that makes it pass the Luhn check."""
    return next(prefix + digit for digit in "0123456789" if luhn_valid(prefix + digit))


CARD_19 = with_check_digit("621234567890123456")
CARD_12 = with_check_digit("42424242424")  # too short for a card, though Luhn-valid
TIMESTAMP = int(with_check_digit("176400000000"))  # a 13-digit ms timestamp that passes Luhn
TEXT_NODE, ELEMENT = 3, 2


def stars(number: str) -> str:
    return re.sub(r"[0-9]", "*", number)


def batch(*events: dict[str, Any], url: str = "https://shop.example/checkout") -> dict[str, Any]:
    return {
        "session_id": "sess-0001",
        "visitor_id": "visitor-0001",
        "window_id": "window-0001",
        "seq": 0,
        "sent_at": TIMESTAMP,
        "meta": {"url": url, "title": "Checkout", "viewport": {"width": 1280, "height": 720}},
        "events": list(events),
    }


def input_event(text: str) -> dict[str, Any]:
    data = {"source": 5, "text": text, "isChecked": False, "id": 42, "userTriggered": True}
    return {"type": 3, "data": data, "timestamp": TIMESTAMP}


def custom(tag: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": 5, "data": {"tag": tag, "payload": payload}, "timestamp": TIMESTAMP}


def full_snapshot(text: str, attributes: dict[str, str]) -> dict[str, Any]:
    node = {
        "type": 0,
        "id": 1,
        "childNodes": [
            {
                "type": ELEMENT,
                "id": 2,
                "tagName": "p",
                "attributes": attributes,
                "childNodes": [{"type": TEXT_NODE, "id": 3, "textContent": text}],
            }
        ],
    }
    return {"type": 2, "data": {"node": node, "initialOffset": {"left": 0}}, "timestamp": 1}


def guarded(body: dict[str, Any], extra: tuple[str, ...] = ()) -> tuple[Any, int]:
    result = scrub(orjson.dumps(body), extra)
    return orjson.loads(result.body), result.replaced


# --- card numbers are masked wherever a string holds them -------------------------------


def test_card_typed_into_an_input_event_is_masked() -> None:
    out, replaced = guarded(batch(input_event(VISA)))
    assert out == batch(input_event("*" * 16))
    assert replaced == 1


def test_card_in_a_text_node_and_an_attribute_is_masked() -> None:
    snapshot = full_snapshot(f"Paid with {VISA}.", {"value": AMEX, "data-card": f"x{VISA_13}x"})
    out, replaced = guarded(batch(snapshot))
    attributes = {"value": stars(AMEX), "data-card": f"x{stars(VISA_13)}x"}
    assert out == batch(full_snapshot(f"Paid with {stars(VISA)}.", attributes))
    assert replaced == 3


def test_card_in_a_url_query_is_masked() -> None:
    meta = {"type": 4, "data": {"href": f"https://shop.example/pay?cc={VISA}&x=1"}, "timestamp": 1}
    page = custom("sessionlens.page", {"href": "https://shop.example/?q=4242+4242+4242+4242"})
    out, replaced = guarded(batch(meta, page, url=f"https://shop.example/pay?cc={VISA}"))
    assert out["meta"]["url"] == f"https://shop.example/pay?cc={stars(VISA)}"
    assert out["events"][0]["data"]["href"] == f"https://shop.example/pay?cc={stars(VISA)}&x=1"
    assert (
        out["events"][1]["data"]["payload"]["href"] == "https://shop.example/?q=****+****+****+****"
    )
    assert replaced == 3


def test_card_in_custom_event_props_and_identify_traits_is_masked() -> None:
    props = {"order": {"lines": [{"note": f"card {VISA}"}, [AMEX]]}, "qty": 2}
    traits = {"billing": {"cards": [CARD_19, {"last": VISA_13}]}, "plan": "pro"}
    out, replaced = guarded(
        batch(
            custom("sessionlens.event", {"name": "pay", "props": props}),
            custom("sessionlens.identify", {"user_id": "u1", "traits": traits}),
        )
    )
    props_out = out["events"][0]["data"]["payload"]["props"]
    traits_out = out["events"][1]["data"]["payload"]["traits"]
    assert props_out == {
        "order": {"lines": [{"note": f"card {stars(VISA)}"}, [stars(AMEX)]]},
        "qty": 2,
    }
    assert traits_out == {
        "billing": {"cards": [stars(CARD_19), {"last": stars(VISA_13)}]},
        "plan": "pro",
    }
    assert replaced == 4


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("4242 4242 4242 4242", "**** **** **** ****"),
        ("4242-4242-4242-4242", "****-****-****-****"),
        ("3782 822463 10005", "**** ****** *****"),
        (CARD_19, "*" * 19),
        (VISA_13, "*" * 13),
        (f"card {VISA} exp 12/29", f"card {stars(VISA)} exp 12/29"),
        # A card followed by its security code in the same text.
        ("4242 4242 4242 4242 123", "**** **** **** **** 123"),
        (f"{VISA} 123", f"{stars(VISA)} 123"),
    ],
)
def test_card_formats_are_masked_keeping_separators_and_length(text: str, masked: str) -> None:
    out, replaced = guarded({"t": text})
    assert out == {"t": masked}
    assert replaced == 1


@pytest.mark.parametrize(
    "text",
    [
        LUHN_INVALID,
        "4242 4242 4242 4241",
        CARD_12,  # 12 digits
        "1" + VISA + "0000",  # 21 digits: a card inside a longer run is not a card
        "12" + VISA_13 + "99",
        VISA + "1234",  # 20 digits
        "4242  4242 4242 4242",  # two spaces break the run into 4 and 12 digits
        "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",  # page numbers
        "order 2024-01-15 10:30",
    ],
)
def test_runs_that_are_not_card_numbers_are_kept(text: str) -> None:
    body = orjson.dumps({"t": text})
    assert scrub(body) == Scrubbed(body, 0)


def test_numbers_are_never_changed_even_when_they_pass_luhn() -> None:
    assert luhn_valid(str(TIMESTAMP))
    events = [
        {
            "type": 3,
            "data": {"source": 1, "positions": [{"x": 1, "timeOffset": -50}]},
            "timestamp": TIMESTAMP,
        },
        custom(
            "sessionlens.event",
            {"name": "n", "props": {"id": int(VISA), "ids": [int(VISA), -int(AMEX)]}},
        ),
    ]
    body = orjson.dumps(batch(*events)) + b" "
    for text in (
        body,
        json.dumps(batch(*events), indent=2).encode(),
        b'{"a":[%s,%s.5,%se5,-%s]}' % ((VISA.encode(),) * 4),
        b"%d" % TIMESTAMP,
    ):
        assert scrub(text) == Scrubbed(text, 0)


def test_card_in_a_dict_key_is_masked() -> None:
    out, replaced = guarded({VISA: 1, "cards": {AMEX: [VISA_13]}})
    assert out == {stars(VISA): 1, "cards": {stars(AMEX): [stars(VISA_13)]}}
    assert replaced == 3


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Looks like a key followed by a number, but the quote is escaped: inside a string.
        (b'["a\\":4242424242424242,"]', ['a":****************,']),
        (b'{"k":"a\\\\","n":4242424242424242}', {"k": "a\\", "n": 4242424242424242}),
        (b'{"a\\\\":4242424242424242}', {"a\\": 4242424242424242}),
        (b'["\\"4242424242424242\\""]', ['"****************"']),
        (b'["line\\n4242 4242 4242 4242\\t"]', ["line\n**** **** **** ****\t"]),
        # Digits hidden in escapes are found too.
        (b'["\\u0034\\u0032\\u0034\\u0032424242424242"]', ["*" * 16]),
        (b'["\\u00e94242424242424242\\u00e9"]', ["\u00e9" + "*" * 16 + "\u00e9"]),
    ],
)
def test_escapes_near_a_card_are_read_as_json_reads_them(body: bytes, expected: Any) -> None:
    assert orjson.loads(scrub(body).body) == expected


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("\n" + " " * 24 + "\n", "\n" + " " * 24 + "\n"),  # indentation between elements
        ("Card:\n4242 4242 4242 4242\n", "Card:\n**** **** **** ****\n"),
        ("\t+44 20 7946 0958\r\n(555) 123-4567", "\t+** ** **** ****\r\n(***) ***-****"),
        ("caf\u00e9 020 7946 0958", "caf\u00e9 *** **** ****"),
        ("\u00e9\u00e9 jane@mail.example\u00e9", "\u00e9\u00e9 ****@************\u00e9"),
    ],
)
def test_common_escapes_are_decided_on_the_raw_bytes(text: str, masked: str) -> None:
    """JSON.stringify escapes newlines and tabs; the raw scan need not hand those over."""
    for raw in (orjson.dumps([text]), json.dumps([text]).encode()):
        fast = scrub_fast(raw, ("email", "phone"))
        assert fast is not None
        assert orjson.loads(fast.body) == [masked]


def test_the_exact_path_rewrites_only_the_strings_it_masks() -> None:
    body = (
        b'{"big":123456789012345678901234567890,"f":1.10,"e":"caf\\u00e9",'
        b'"t":"\\u0034242424242424242x","n":[ 1 , 2 ]}'
    )
    assert scrub_fast(body) is None  # an escaped digit: only the decoded text can tell
    result = scrub(body)
    assert result == scrub_exact(body)
    assert result.body == body.replace(b"\\u0034242424242424242", b"*" * 16)
    assert result.replaced == 1


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("\n+44 20 7946 0958", "\n+** ** **** ****"),
        ("\t020 7946 0958\n", "\t*** **** ****\n"),
        ("\njane@mail.example\t", "\n****@************\t"),
        ("\u0800" + VISA + "\u0800", "\u0800" + stars(VISA) + "\u0800"),
        ("\u0800 4242 4242 4242 4242 1", "\u0800 **** **** **** **** 1"),
        ("\b" + VISA_13 + "\f", "\b" + stars(VISA_13) + "\f"),
        ("\u0800(555) 123-4567", "\u0800(***) ***-****"),
        ("x(\u00e9+1 555 123 4567", "x(\u00e9+* *** *** ****"),
    ],
)
def test_every_preset_reads_escapes_as_json_reads_them(text: str, masked: str) -> None:
    for raw in (orjson.dumps([text]), json.dumps([text]).encode()):
        assert orjson.loads(scrub(raw, ("email", "phone")).body) == [masked]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b'{"a":"4242424242424242"',  # truncated
        b'{"a":4242424242424242 "x"}',
        b'["\\ud800 4242424242424242"]',  # a lone surrogate
        b"\xff\xfe{}",
        b'{"a":"\xff4242424242424242"}',  # not UTF-8
        bytes(range(256)) * 4,
    ],
)
def test_invalid_json_never_raises_and_stays_invalid(body: bytes) -> None:
    for extra in ((), ("email", "phone")):
        result = scrub(body, extra)
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(result.body)
        assert len(result.body) == len(body)


def test_invalid_json_without_anything_to_mask_is_returned_as_it_is() -> None:
    for body in (b"{not json", b"\xff\xfe{}", b'{"a":"4242"', b'["\\ud800"]'):
        assert scrub(body, ("email", "phone")).body is body


def test_a_batch_with_nothing_to_mask_is_returned_as_it_is() -> None:
    body = orjson.dumps(batch(input_event("***"), full_snapshot("Hello", {"class": "a"})))
    result = scrub(body, ("email", "phone"))
    assert result.body is body
    assert result.replaced == 0


# --- extra presets -------------------------------------------------------------------------


def test_email_preset_masks_addresses_only_when_switched_on() -> None:
    text = "Mail jane.doe+shop@mail.example.co.uk or see logo@2x.png and @media"
    assert guarded({"t": text}) == ({"t": text}, 0)
    out, replaced = guarded({"t": text}, ("email",))
    masked = f"Mail {'*' * 13}@{'*' * 18} or see logo@2x.png and @media"
    assert out == {"t": masked}
    assert replaced == 1


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+44 20 7946 0958", "+** ** **** ****"),
        ("+1 (555) 123-4567", "+* (***) ***-****"),
        ("+44 (0)20 7946 0958", "+** (*)** **** ****"),
        ("+15551234567", "+***********"),
        ("call (555) 123-4567.", "call (***) ***-****."),
        ("tel:020 7946 0958", "tel:*** **** ****"),
        ("06 12 34 56 78", "** ** ** ** **"),
    ],
)
def test_phone_preset_masks_phone_numbers(text: str, masked: str) -> None:
    assert guarded({"t": text}) == ({"t": text}, 0)
    assert guarded({"t": text}, ("phone",)) == ({"t": masked}, 1)


@pytest.mark.parametrize(
    "text",
    [
        "5551234567",  # a bare run of digits: an id as often as a phone
        str(TIMESTAMP + 1),  # a timestamp in a string that does not pass Luhn
        "2024-01-15",
        "15-01-2024 10:30",
        "1 234 567",
        "v1.2.3",
        "rgba(0, 0, 0, .5)",
        "calc(100% + 12px)",
        "+123",
        "1e+15",
    ],
)
def test_phone_preset_leaves_other_numbers_alone(text: str) -> None:
    assert guarded({"t": text}, ("phone",)) == ({"t": text}, 0)


def test_phone_preset_never_touches_json_numbers() -> None:
    body = b'{"a":5551234567,"b":[1e+15,-15551234567],"c":1.5e-7}'
    assert scrub(body, ("phone", "email")) == Scrubbed(body, 0)


def test_presets_combine_in_any_order() -> None:
    text = f"{VISA} jane@mail.example +44 20 7946 0958"
    expected = ({"t": f"{stars(VISA)} ****@************ +** ** **** ****"}, 3)
    assert guarded({"t": text}, ("email", "phone")) == expected
    assert guarded({"t": text}, ("phone", "email")) == expected
    assert set(PRESETS) >= {"email", "phone"}


def test_unknown_preset_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'ssn'"):
        scrub(b"{}", ("email", "ssn"))


# --- luhn_valid ----------------------------------------------------------------------------


@pytest.mark.parametrize("number", [VISA, AMEX, VISA_13, CARD_19, "4242 4242 4242 4242", "0"])
def test_luhn_valid_numbers(number: str) -> None:
    assert luhn_valid(number)


FULLWIDTH_42 = "\uff14\uff12"


@pytest.mark.parametrize("number", [LUHN_INVALID, "", " ", "4242a42424242424", FULLWIDTH_42])
def test_luhn_invalid_numbers(number: str) -> None:
    assert not luhn_valid(number)


# --- hostile input -------------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "text",
    [
        "1 " * 500_000,
        "-" * 1_000_000,
        "4242 " * 200_000,
        VISA * 60_000,
        (VISA + ",") * 50_000,
        "a@" * 500_000,
        "@" * 1_000_000,
        "a" * 1_000_000 + "@",
        "@" + "a." * 500_000,
        "+1" * 500_000,
        "+1 (" * 250_000,
        "(55) " * 200_000,
        "1-" * 500_000,
        ("\\" * 1000 + VISA) * 500,
        "\n" * 500_000,
    ],
)
def test_hostile_input_is_scanned_in_linear_time(text: str) -> None:
    body = orjson.dumps([text])
    result = scrub(body, ("email", "phone"))
    assert len(result.body) == len(body)
    assert isinstance(orjson.loads(result.body)[0], str)


# --- the raw scan agrees with the exact one ------------------------------------------------


CARD_FORMATS = st.sampled_from(
    [VISA, AMEX, VISA_13, CARD_19, "4242 4242 4242 4242", "4242-4242-4242-4242"]
)
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list('0123456789 -+()@._"\\/:,')),
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
    ),
    max_size=30,
)
STRINGS = st.builds(
    "".join, st.lists(st.one_of(TEXT, CARD_FORMATS, st.just("jane@mail.example")), max_size=5)
)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.sampled_from([int(VISA), int(AMEX), int(VISA_13), TIMESTAMP, -int(VISA)]),
    st.floats(allow_nan=False, allow_infinity=False),
)
KEYS = st.one_of(st.text(alphabet="abcdefghij_", max_size=8), STRINGS)
TREES = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBERS, STRINGS),
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(KEYS, children, max_size=5)
    ),
    max_leaves=30,
)
ENCODINGS = st.sampled_from(["orjson", "ascii", "indent"])
# No example database: nothing is written into the working tree.
SETTINGS: dict[str, Any] = {"database": None, "suppress_health_check": [HealthCheck.too_slow]}
# Reference: a maximal run of 13-19 digits, one space, '+' or dash allowed between two.
CARD_RUN = re.compile(
    r"(?<![0-9])(?<![0-9][ +-])[0-9](?:[ +-]?[0-9]){12,18}(?![0-9])(?![ +-][0-9])"
)


def encode(tree: Any, how: str) -> bytes:
    if how == "orjson":
        return orjson.dumps(tree)
    return json.dumps(tree, ensure_ascii=True, indent=2 if how == "indent" else None).encode()


def walk_pairs(before: Any, after: Any) -> None:
    """after has before's shape and non-string values; strings only lost digits to '*'."""
    if isinstance(before, dict):
        assert isinstance(after, dict)
        assert len(after) <= len(before)  # masked keys can meet; the last one wins
        if len(after) == len(before):
            for (key, value), (key_after, value_after) in zip(
                before.items(), after.items(), strict=True
            ):
                walk_pairs(key, key_after)
                walk_pairs(value, value_after)
    elif isinstance(before, list):
        assert isinstance(after, list)
        assert len(after) == len(before)
        for value, value_after in zip(before, after, strict=True):
            walk_pairs(value, value_after)
    elif isinstance(before, str):
        assert isinstance(after, str)
        assert len(after) == len(before)
        for char, char_after in zip(before, after, strict=True):
            assert char_after == char or (char_after == "*" and char in "0123456789")
        for run in CARD_RUN.finditer(before):
            if luhn_valid(run.group()):
                assert not re.search("[0-9]", after[run.start() : run.end()])
    else:
        assert type(after) is type(before)
        assert after == before


@settings(max_examples=300, deadline=None, **SETTINGS)
@given(TREES, ENCODINGS)
def test_every_card_in_every_string_is_masked_and_nothing_else_changes(tree: Any, how: str) -> None:
    raw = encode(tree, how)
    result = scrub(raw)
    walk_pairs(orjson.loads(raw), orjson.loads(result.body))
    exact = scrub_exact(raw)
    assert orjson.loads(exact.body) == orjson.loads(result.body)
    assert exact.replaced == result.replaced


@settings(max_examples=200, deadline=None, **SETTINGS)
@given(TREES, ENCODINGS)
def test_the_raw_scan_agrees_with_the_exact_path_with_every_preset(tree: Any, how: str) -> None:
    raw = encode(tree, how)
    extra = ("email", "phone")
    fast = scrub_fast(raw, extra)
    exact = scrub_exact(raw, extra)
    if fast is not None:
        assert orjson.loads(fast.body) == orjson.loads(exact.body)
        assert fast.replaced == exact.replaced
    assert orjson.loads(scrub(raw, extra).body) == orjson.loads(exact.body)


@settings(database=None)
@given(
    st.one_of(st.binary(max_size=200), st.builds(encode, TREES, ENCODINGS).map(lambda b: b[:-1]))
)
def test_any_bytes_are_scanned_without_raising(body: bytes) -> None:
    result = scrub(body, ("email", "phone"))
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(result.body)
    else:
        orjson.loads(result.body)
