"""Property tests (hypothesis) on ARGS parsing and formatting and on env/name parsing. The normal run uses a
small profile; `make fuzz` (HYPOTHESIS_PROFILE=slow) runs 10,000 examples per property."""

from __future__ import annotations

import argparse
import json
import string

from hypothesis import given
from hypothesis import strategies as st

from entrypoint.settings import argv, config
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
