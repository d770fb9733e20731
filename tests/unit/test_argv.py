"""The dict -> argv rules, table-driven (README's table), and ARGS parsing."""

import pytest

from entrypoint.settings import argv


@pytest.mark.parametrize(("args", "words"), [
    ({"bind": "0.0.0.0:8000"}, ["--bind=0.0.0.0:8000"]),
    ({"preload": None}, ["--preload"]),
    ({"preload": True}, ["--preload"]),
    ({"preload": False}, []),
    ({"workers": 4}, ["--workers=4"]),
    ({"timeout": 2.5}, ["--timeout=2.5"]),
    ({"header": ["a", "b"]}, ["--header=a", "--header=b"]),
    ({"w": 4}, ["-w", "4"]),
    ({"b": ["x:1", "y:2"]}, ["-b", "x:1", "-b", "y:2"]),
    ({"D": True}, ["-D"]),
    ({"--bind": "x"}, ["--bind=x"]),
    ({"worker-class": "gthread", "threads": 8, "w": 2}, ["--worker-class=gthread", "--threads=8", "-w", "2"]),
    ({"x": "has space"}, ["-x", "has space"]),
    ({"empty": ""}, ["--empty="]),
    ({"list": []}, []),
])
def test_format_args(args, words):
    assert argv.format_args(args) == words


@pytest.mark.parametrize(("text", "parsed"), [
    ('{"workers": 4, "preload": null}', {"workers": 4, "preload": None}),
    ('["--workers", 4, "-k", "gthread"]', ["--workers", "4", "-k", "gthread"]),
    ("--workers 4 --name 'my app'", ["--workers", "4", "--name", "my app"]),
    ('"--workers 4"', ["--workers", "4"]),
    ("  ", []),
    ("true", ["true"]),
    ("4", ["4"]),
])
def test_parse(text, parsed):
    assert argv.parse(text) == parsed


@pytest.mark.parametrize(("text", "message"), [
    ('{"workers": 4', "not valid JSON"),
    ('[1, ', "not valid JSON"),
    ('{"a": {"b": 1}}', "nested objects"),
    ('{"a": [{"b": 1}]}', "list items must be strings or numbers"),
    ('{"a": [true]}', "list items must be strings or numbers"),
    ('[null]', "array items must be strings or numbers"),
    ('[["a"]]', "array items must be strings or numbers"),
    ('{"": 1}', "not an option name"),
    ('{"a b": 1}', "not an option name"),
    ("--name 'unclosed", "cannot be split"),
    ('{"workers": 1e400}', "value of 'workers' is not a finite number"),
    ('{"workers": -1e400}', "value of 'workers' is not a finite number"),
    ('{"timeout": NaN}', "value of 'timeout' is not a finite number"),
    ('{"timeout": Infinity}', "value of 'timeout' is not a finite number"),
    ('{"timeout": -Infinity}', "value of 'timeout' is not a finite number"),
    ('{"w": [1, NaN]}', "value of 'w' holds a value that is not a finite number"),
    ('["--workers", 1e999]', "item 1 is not a finite number"),
    ('["--timeout", NaN]', "item 1 is not a finite number"),
])
def test_parse_errors(text, message):
    with pytest.raises(argv.ArgsError, match=message):
        argv.parse(text)


@pytest.mark.parametrize(("words", "expected"), [
    (["--bind=1.2.3.4:5"], "1.2.3.4:5"),
    (["--bind", "1.2.3.4:5"], "1.2.3.4:5"),
    (["-b", "h:1"], "h:1"),
    (["-bh:1"], "h:1"),
    (["--bind=a:1", "-b", "b:2"], "b:2"),
    (["--workers=4"], None),
    (["--binding=x"], None),
])
def test_option_value(words, expected):
    assert argv.option_value(words, "--bind", "-b") == expected


def test_mentions_a_flag_without_value():
    assert argv.mentions(["--preload"], "--preload")
    assert not argv.mentions(["--preloaded"], "--preload")
