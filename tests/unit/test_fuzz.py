"""Property tests (hypothesis) on ARGS parsing and formatting, on env/name parsing and on the masking of
secrets. The normal run uses a small profile; `make fuzz` (HYPOTHESIS_PROFILE=slow) runs 10,000 examples per
property."""

from __future__ import annotations

import argparse
import json
import string

from hypothesis import assume, given
from hypothesis import strategies as st

from entrypoint.settings import argv, config, secrets
from entrypoint.settings.config import Environment
from entrypoint.settings.errors import ConfigError

option_names = st.builds(lambda head, tail: head + tail, st.sampled_from(string.ascii_letters),
                         st.text(alphabet=string.ascii_lowercase + string.digits + "-", max_size=12)
                         ).filter(lambda name: not name.endswith("-") and "--" not in name)
# A bare "--" value is left out: argparse (3.11) drops it from `-a--` whatever the formatting.
scalars = st.one_of(st.text(max_size=20).filter(lambda t: "\x00" not in t and t != "--"), st.integers(),
                    st.floats(allow_nan=False, allow_infinity=False))
values = st.one_of(st.none(), st.booleans(), scalars, st.lists(scalars, max_size=4))
option_dicts = st.dictionaries(option_names, values, max_size=8)


def parser_for(options: dict[str, object]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False, exit_on_error=False)
    for key, value in options.items():
        flag = f"-{key}" if len(key) == 1 else f"--{key}"
        if value is None or isinstance(value, bool):
            parser.add_argument(flag, dest=key, action="store_true")
        elif isinstance(value, list):
            parser.add_argument(flag, dest=key, action="append")
        else:
            parser.add_argument(flag, dest=key)
    return parser


@given(option_dicts)
def test_formatted_args_parse_back_to_the_same_values(options):
    # Distinct keys only: argparse cannot hold two spellings of one option in one parser.
    words = argv.format_args(options)
    parsed = vars(parser_for(options).parse_args(words))
    for key, value in options.items():
        if value is False:
            assert parsed[key] is False
        elif value is None or value is True:
            assert parsed[key] is True
        elif isinstance(value, list):
            assert parsed[key] == ([str(v) for v in value] or None)
        else:
            assert parsed[key] == str(value)


@given(option_dicts)
def test_json_objects_round_trip_through_parse(options):
    assert argv.parse(json.dumps(options)) == options


@given(st.text(max_size=200))
def test_parse_raises_only_args_error(text):
    try:
        result = argv.parse(text)
    except argv.ArgsError:
        return
    assert isinstance(result, (dict, list))


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=10))
def test_any_json_value_either_parses_or_is_refused_clearly(value):
    try:
        result = argv.parse(json.dumps(value))
    except argv.ArgsError as exc:
        assert str(exc)
        return
    assert isinstance(result, (dict, list))
    if isinstance(result, dict):
        argv.format_args(result)  # whatever parse accepts, format must handle


names = st.from_regex(r"[A-Za-z0-9]{1,6}(_[A-Za-z0-9]{1,6}){0,3}", fullmatch=True).filter(
    lambda n: not n.upper().endswith(("_ARGS", "_APP")) and n.lower() not in config.RESERVED_NAMES)


@given(names, st.sampled_from([None, "ARGS", "APP"]))
def test_names_and_suffixes_round_trip(name, attribute):
    var = config.PREFIX + name + (f"_{attribute}" if attribute else "")
    assert config._split_variable(var) == (name.lower(), attribute)


env_keys = st.one_of(st.builds(lambda rest: config.PREFIX + rest, st.text(max_size=20)),
                     st.sampled_from(["DJANGO_SETTINGS_MODULE", "PROD_ENTRY_DEFAULT_PROCESS", "PORT"]))


@given(st.dictionaries(env_keys, st.text(max_size=30), max_size=6))
def test_env_parsing_raises_only_config_error(env):
    try:
        processes = config.processes(Environment(env, frozenset(), None))
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    for name, process in processes.items():
        assert name == name.lower() and process.name == name


# Every syntax the redactor knows for a value after a secret key; {key} and {value} are filled in.
KEYED_SYNTAXES = ["{key}={value}", "{key} = {value}", "{key}: {value}", "{key}:{value}", "--{key}={value}",
                  "--{key} {value}", '"{key}": "{value}"', "'{key}': '{value}'", '{key}="{value}"', "({key}={value}),",
                  "https://host/p?{key}={value}&page=2", "/p?page=2&{key}={value}#top",
                  "\n  {key} {value}\n", "[line  3]: '{key} {value}\\n'"]
QUERY_SYNTAXES = ["https://host/p?{key}={value}&page=2", "/p?page=2&{key}={value}#top"]
HEADER_SYNTAXES = ["{key}: {scheme} {value}", "{key}: {value}", '"{key}": "{scheme} {value}"', "{key}={value}"]
SCHEMES = ("Bearer", "Basic", "token", "Digest", "Negotiate")
EXTRA_KEYS = ("pin", "otp-seed")  # PROD_ENTRY_SECRET_KEYS in the first property's environment
# How a key is written: as listed, in capitals, as the end of a variable's name, as a header's name.
key_spellings = st.sampled_from([str, str.upper, lambda key: "DB_" + key.upper(),
                                 lambda key: "X-" + key.replace("_", "-").title()])
# What a value may hold for the rule to find where it ends (see secrets._BARE and _QUOTED): no whitespace,
# quote, `&` or backslash, no `*` (the mask's own character, which would make "the value is gone" unsure),
# and not ending in the punctuation a bare value leaves out. Four characters at least: the rule masks any
# length, but a shorter value is nearly always also in the text around it, and such draws are rejected.
secret_values = st.text(st.characters(blacklist_categories=("Z", "C"), blacklist_characters="'\"&\\*"),
                        min_size=4, max_size=24).filter(lambda value: value[-1] not in ",;.)]}")
around = st.text(max_size=40)


def assert_never_shown(value: str, text: str, env: dict[str, str]) -> None:
    assume(text.count(value) == 1)  # else it is also in the text around it, which is not masked
    redacted = secrets.redactor(env)(text)
    assert value not in redacted, redacted


@given(st.sampled_from([*secrets.SECRET_KEYS, *EXTRA_KEYS]), key_spellings, st.sampled_from(KEYED_SYNTAXES),
       secret_values, around, around)
def test_a_value_after_a_secret_key_never_shows(key, spell, syntax, value, before, after):
    text = f"{before} {syntax.format(key=spell(key), value=value)} {after}"
    assert_never_shown(value, text, {secrets.SECRET_KEYS_VAR: ",".join(EXTRA_KEYS)})


@given(st.sampled_from(secrets.QUERY_KEYS), st.sampled_from([str, str.upper]), st.sampled_from(QUERY_SYNTAXES),
       secret_values, around, around)
def test_a_value_after_a_query_only_key_never_shows(key, spell, syntax, value, before, after):
    assert_never_shown(value, f"{before} {syntax.format(key=spell(key), value=value)} {after}", {})


@given(st.sampled_from(["Authorization", "Proxy-Authorization", "HTTP_AUTHORIZATION"]), st.sampled_from(SCHEMES),
       st.sampled_from(HEADER_SYNTAXES), secret_values, around, around)
def test_an_authorization_headers_credentials_never_show(key, scheme, syntax, value, before, after):
    # A header's first word is its scheme by HTTP's grammar: a credential that is one of them is taken for it.
    assume(value.lower() not in (s.lower() for s in SCHEMES))
    assert_never_shown(value, f"{before} {syntax.format(key=key, scheme=scheme, value=value)} {after}", {})
