"""Behaviour of the Go text/template subset used for commit messages and branch names."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.errors import TemplateError
from imageupdater.gitops.template import MAX_OUTPUT, Template

UPSTREAM_COMMIT_TEMPLATE = """build: automatic update of {{ .AppName }}

{{ range .AppChanges -}}
updates image {{ .Image }} tag '{{ .OldTag }}' to '{{ .NewTag }}'
{{ end -}}
"""


def render(text: str, data: object = None) -> str:
    return Template.parse(text, name="t").render(data)


def test_upstream_default_commit_template_renders_exactly_like_go() -> None:
    data = {
        "AppName": "example-app",
        "AppChanges": [{"Image": "example/example", "OldTag": "1.0.0", "NewTag": "1.0.1"}],
    }
    out = Template.parse(UPSTREAM_COMMIT_TEMPLATE, name="commit-message").render(data)
    assert out == (
        "build: automatic update of example-app\n\n"
        "updates image example/example tag '1.0.0' to '1.0.1'\n"
    )


def test_upstream_default_commit_template_lists_every_change_on_its_own_line() -> None:
    changes = [
        {"Image": "a/a", "OldTag": "1", "NewTag": "2"},
        {"Image": "b/b", "OldTag": "3", "NewTag": "4"},
    ]
    out = render(UPSTREAM_COMMIT_TEMPLATE, {"AppName": "x", "AppChanges": changes})
    assert out == (
        "build: automatic update of x\n\n"
        "updates image a/a tag '1' to '2'\nupdates image b/b tag '3' to '4'\n"
    )


def test_a_parsed_template_renders_many_times_with_different_data() -> None:
    template = Template.parse("{{ .A }}")
    assert template.render({"A": 1}) == "1"
    assert template.render({"A": "two"}) == "two"


DATA = {
    "S": "str",
    "E": "",
    "I": 42,
    "Z": 0,
    "F": 1.5,
    "T": True,
    "N": None,
    "L": ["a", "b", "c"],
    "Nums": [1, 2, 3, 4, 5],
    "Empty": [],
    "M": {"b": 2, "a": 1, "c": 3},
    "EM": {},
    "Nested": {"Inner": {"Leaf": "leaf"}},
    "Tags": {"1.0": "old", "2.0": "new"},
}

CASES = [
    # text and fields
    ("plain text", "plain text"),
    ("", ""),
    ("{{ .S }}", "str"),
    ("{{.S}}", "str"),
    ("{{ .Nested.Inner.Leaf }}", "leaf"),
    ("{{ .Missing }}", "<no value>"),
    ("{{ .Missing.Deeper }}", "<no value>"),
    ("{{ .N }}", "<no value>"),
    ("{{ .I }} {{ .F }} {{ .T }} {{ .Z }}", "42 1.5 true 0"),
    ("{{ .L }}", "[a b c]"),
    ("{{ .M }}", "map[a:1 b:2 c:3]"),
    ("{{ .EM }} {{ .Empty }}", "map[] []"),
    ("{{ . }}", None),  # filled in below: the whole data as a map
    ("{{ $.S }}", "str"),
    ("{{ $ | len }}", str(len(DATA))),
    # whitespace trimming
    ("a  {{- .S }}", "astr"),
    ("a \n\t {{- .S -}} \n\t b", "astrb"),
    ("{{ .S -}}\n\n  x", "strx"),
    ("a {{- /* comment */ -}} b", "ab"),
    ("a {{/* comment */}} b", "a  b"),
    ("a {{- /* multi\nline */}} b", "a b"),
    ("{{-3}}", "-3"),
    ("{{ -3 }}", "-3"),
    ("x {{- 3 -}} y", "x3y"),
    ("x {{-3 }} y", "x -3 y"),
    ("{{ .S -}}", "str"),
    ("a\u00a0{{- .S }}", "a\u00a0str"),  # only ASCII white space is trimmed
    ("{{ .S  -}}  b", "strb"),
    ("{{- .S -}}", "str"),
    # literals
    ('{{ "quoted\\t\\u00e9\\x41\\101" }}', "quoted\téAA"),
    ("{{ `raw \\n` }}", "raw \\n"),
    ("{{ 'a' }} {{ '\\n' }}", "97 10"),
    ("{{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 0b101 }} {{ 1_000 }}", "31 15 15 5 1000"),
    (
        "{{ 1.0 }} {{ 1e3 }} {{ .5 }} {{ 1e6 }} {{ 123456.0 }} {{ 0.0001 }} {{ 0.00001 }}",
        "1 1000 0.5 1e+06 123456 0.0001 1e-05",
    ),
    ("{{ true }} {{ false }}", "true false"),
    ("{{ print nil }}", "<nil>"),
    # if / else if / else
    ("{{ if .T }}yes{{ end }}", "yes"),
    ("{{ if .Z }}yes{{ else }}no{{ end }}", "no"),
    (
        "{{ if .E }}1{{ else if .Empty }}2{{ else if .EM }}3{{ else if .N }}4{{ else }}5{{ end }}",
        "5",
    ),
    ("{{ if .Missing }}1{{ else if .I }}2{{ else }}3{{ end }}", "2"),
    ("{{ if 0.0 }}1{{ else }}0{{ end }}{{ if .F }}1{{ end }}", "01"),
    ("{{ if .L }}{{ . | len }}{{ end }}", str(len(DATA))),
    ("{{ if $x := .S }}{{ $x }}{{ else }}{{ $x }}!{{ end }}", "str"),
    # with
    ("{{ with .Nested.Inner }}{{ .Leaf }}{{ end }}", "leaf"),
    ("{{ with .Missing }}x{{ else }}none{{ end }}", "none"),
    ("{{ with .E }}x{{ else with .S }}{{ . }}{{ end }}", "str"),
    ("{{ with $v := .I }}{{ $v }}{{ . }}{{ end }}", "4242"),
    # range
    ("{{ range .L }}<{{ . }}>{{ end }}", "<a><b><c>"),
    ("{{ range $i, $e := .L }}{{ $i }}={{ $e }} {{ end }}", "0=a 1=b 2=c "),
    ("{{ range $e := .L }}{{ $e }}{{ end }}", "abc"),
    ("{{ range $k, $v := .M }}{{ $k }}{{ $v }}{{ end }}", "a1b2c3"),
    ("{{ range .M }}{{ . }}{{ end }}", "123"),
    ("{{ range $k, $v := .Tags }}{{ $k }}:{{ $v }};{{ end }}", "1.0:old;2.0:new;"),
    ("{{ range .Empty }}x{{ else }}empty{{ end }}", "empty"),
    ("{{ range .EM }}x{{ else }}empty{{ end }}", "empty"),
    ("{{ range .Missing }}x{{ else }}none{{ end }}", "none"),
    ("{{ range .N }}x{{ else }}nil{{ end }}", "nil"),
    ("{{ range 3 }}{{ . }}{{ end }}", "012"),
    (
        "{{ range .Nums }}{{ if eq . 2 }}{{ continue }}{{ end }}"
        "{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}",
        "13",
    ),
    (
        "{{ range .L }}{{ range $.Nums }}{{ if gt . 1 }}{{ break }}{{ end }}{{ . }}{{ end }}"
        "{{ . }}{{ end }}",
        "1a1b1c",
    ),
    (
        '{{ range .L }}{{ with . }}{{ if eq . "b" }}{{ continue }}{{ end }}'
        "{{ . }}{{ end }}{{ end }}",
        "ac",
    ),
    ("{{ range .L }}{{ $.S }}{{ end }}", "strstrstr"),
    ("{{ range $i, $e := .L }}{{ if $i }},{{ end }}{{ $e }}{{ end }}", "a,b,c"),
    # variables
    ("{{ $x := .S }}{{ $x }}", "str"),
    ("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", "2"),
    ("{{ $x := 1 }}{{ range .L }}{{ $x = . }}{{ end }}{{ $x }}", "c"),
    ("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}", "21"),
    ("{{ $x := .Nested }}{{ $x.Inner.Leaf }}", "leaf"),
    ("{{ $x := .Missing }}{{ $x.Deeper }}", "<no value>"),
    # pipelines and parentheses
    ('{{ .S | printf "%s!" }}', "str!"),
    ('{{ .S | printf "%s-%s" "x" }}', "x-str"),
    ("{{ .L | len | print }}", "3"),
    ('{{ (printf "%d" .I) | len }}', "2"),
    ('{{ (index .Nested "Inner").Leaf }}', "leaf"),
    ("{{ (.Nested).Inner.Leaf }}", "leaf"),
    ('{{ printf "%s" (print (print "deep")) }}', "deep"),
    # and / or / not
    ("{{ and 1 2 }} {{ and 1 0 2 }} {{ and .E .Missing }}", "2 0 "),
    ('{{ or 0 "" "x" }} {{ or 0 .E }} {{ or .S .Missing.X }}', "x  str"),
    ("{{ not .T }} {{ not .Z }} {{ not nil }} {{ not .L }}", "false true true false"),
    ("{{ and .N .N.Field }}", "<no value>"),  # and short-circuits: .N.Field is never evaluated
    ("{{ .I | and 1 }}", "42"),
    # comparisons
    (
        '{{ eq .S "str" }} {{ eq .I 42 }} {{ eq .I 1 2 42 }} {{ eq .T true }} {{ eq .F 1.5 }}',
        "true true true true true",
    ),
    ('{{ ne .S "x" }} {{ ne .I 42 }}', "true false"),
    (
        "{{ eq .Missing nil }} {{ eq .N nil }} {{ eq .S nil }} {{ eq nil nil }}",
        "true true false true",
    ),
    ("{{ lt 1 2 }} {{ le 2 2 }} {{ gt 1 2 }} {{ ge 2 3 }}", "true true false false"),
    ('{{ lt "a" "b" }} {{ gt "b" "a" }} {{ lt 1.5 2.5 }}', "true true true"),
    # len, index, slice
    ('{{ len .S }} {{ len .L }} {{ len .M }} {{ len "héllo" }}', "3 3 3 6"),
    (
        '{{ index .L 1 }} {{ index .M "b" }} {{ index .Nested "Inner" "Leaf" }} {{ index .S 0 }}',
        "b 2 leaf 115",
    ),
    ('{{ index .M "nope" }}|{{ index .L }}', "<no value>|[a b c]"),
    (
        "{{ slice .L 1 }} {{ slice .L 1 2 }} {{ slice .L }} {{ slice .L 0 1 2 }}",
        "[b c] [b] [a b c] [a]",
    ),
    ('{{ slice "abcdef" 1 3 }} {{ slice .S 1 }}', "bc tr"),
    # print, printf, println
    (
        '{{ print "a" 1 2 "b" "c" 3.5 true nil }}',
        "a1 2bc3.5 true <nil>",
    ),  # spaces between non-strings
    ('{{ println "a" 1 }}', "a 1\n"),
    (
        '{{ printf "%s|%d|%v|%q|%x|%X|%%" "s" 7 .L "q\\"" 255 "hi" }}',
        's|7|[a b c]|"q\\""|ff|6869|%',
    ),
    (
        '{{ printf "[%5s][%-5s][%.2s][%5.1s]" "abc" "abc" "abc" "abc" }}',
        "[  abc][abc  ][ab][    a]",
    ),
    (
        '{{ printf "[%5d][%-5d][%05d][%.3d][%+d][% d]" 42 42 -42 7 5 5 }}',
        "[   42][42   ][-0042][007][+5][ 5]",
    ),
    (
        '{{ printf "%v %v %v %v" .M .N .Missing .Nested }}',
        "map[a:1 b:2 c:3] <nil> <nil> map[Inner:map[Leaf:leaf]]",
    ),
    ('{{ printf "%d %s" "x" 1 }}', "%!d(string=x) %!s(int=1)"),
    ('{{ printf "%d" }}|{{ printf "%d" 1 2 }}', "%!d(MISSING)|1%!(EXTRA int=2)"),
    ('{{ printf "%s" .L }} {{ printf "%d" .Nums }}', "[a b c] [1 2 3 4 5]"),
    (
        '{{ printf "%q" 65 }} {{ printf "%c" 233 }} {{ printf "%t" true }} {{ printf "%T" .L }}',
        "'A' é true []interface {}",
    ),
    ('{{ printf "%.2f %e %g %v" 3.14159 1234.5 0.5 .F }}', "3.14 1.234500e+03 0.5 1.5"),
    ('{{ printf "%*d|%-*d|" 4 1 3 2 }}', "   1|2  |"),
    ('{{ printf "%#v %#v" .L .S }}', '[]interface {}{"a", "b", "c"} "str"'),
    ('{{ printf "%s" .N }}', "%!s(<nil>)"),
    ('{{ printf "no verbs" }}', "no verbs"),
    # escapers
    ('{{ html "<a href=\'x\'>&\\"</a>" }}', "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;"),
    ('{{ js "it\'s <b>\\"&=\\\\\\n" }}', "it\\'s \\u003Cb\\u003E\\\"\\u0026\\u003D\\\\\\u000A"),
    ('{{ urlquery "a b&c=d/é~" }}', "a+b%26c%3Dd%2F%C3%A9~"),
    ('{{ .S | html }} {{ html 1 "a" }} {{ .Missing | urlquery }}', "str 1a %3Cnil%3E"),
]


def _expected(template: str, expected: str | None) -> str:
    if expected is not None:
        return expected
    return render('{{ printf "%v" . }}', DATA)


@pytest.mark.parametrize(("template", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_each_construct_renders_as_go_renders_it(template: str, expected: str | None) -> None:
    assert render(template, DATA) == _expected(template, expected)


def test_printing_the_whole_data_prints_a_sorted_go_map() -> None:
    assert render("{{ . }}", {"b": [1, None], "a": {"x": True}}) == "map[a:map[x:true] b:[1 <nil>]]"


def test_nil_data_renders_fields_as_no_value() -> None:
    assert render("{{ . }} {{ .X }} {{ .X.Y }}", None) == "<no value> <no value> <no value>"


def test_tuples_behave_like_lists() -> None:
    assert (
        render("{{ range . }}{{ . }}{{ end }} {{ len . }} {{ index . 1 }}", ("a", "b")) == "ab 2 b"
    )


@given(st.text().filter(lambda s: "{{" not in s))
def test_any_text_without_an_opening_delimiter_renders_to_itself(text: str) -> None:
    assert Template.parse(text).render({}) == text


@given(st.text(alphabet=" \t\r\nab", max_size=12), st.text(alphabet=" \t\r\nab", max_size=12))
def test_trim_markers_remove_exactly_the_adjacent_ascii_white_space(
    before: str, after: str
) -> None:
    out = Template.parse(before + "{{- .X -}}" + after).render({"X": "|"})
    assert out == before.rstrip(" \t\r\n") + "|" + after.lstrip(" \t\r\n")


# ---------------------------------------------------------------------------------------
# Parse errors: refused up front, with line and column

PARSE_ERRORS = [
    ("a\nb\nc {{ .X } }}", 3, 9, 'template: t:3:9: unexpected "}" in operand'),
    ('{{ define "x" }}y{{ end }}', 1, 4, "{{define}} is not supported"),
    ('{{ template "x" }}', 1, 4, "{{template}} is not supported"),
    ('{{ block "x" . }}y{{ end }}', 1, 4, "{{block}} is not supported"),
    ("{{ foo 1 }}", 1, 4, 'function "foo" not defined'),
    ("{{ .S | upper }}", 1, 9, 'function "upper" not defined'),
    ('{{ call .F "a" }}', 1, 4, 'function "call" is not supported'),
    ('{{ .Method "arg" }}', 1, 4, ".Method is a data field, not a method"),
    ("{{ $x := . }}{{ $x.Method 1 }}", 1, 17, "$x.Method is a data field, not a method"),
    ("{{ .S | .Method }}", 1, 9, ".Method is a data field, not a method"),
    ('{{ "a" | "b" }}', 1, 10, "non executable command in pipeline stage 2"),
    ("{{ . 1 }}", 1, 4, "can't give argument to non-function ."),
    ("{{ if }}x{{ end }}", 1, 7, "missing value for if"),
    ("{{ }}", 1, 4, "missing value for command"),
    ("line1\n  {{ if .X }}open", 2, 6, "unexpected EOF: {{if}} has no matching {{end}}"),
    ("{{ range .X }}{{ else }}{{ else }}{{ end }}", 1, 33, "expected end; found {{else}}"),
    ("x{{ end }}", 1, 2, "unexpected {{end}}"),
    ("{{ else }}", 1, 1, "unexpected {{else}}"),
    ("{{ break }}", 1, 4, "{{break}} outside {{range}}"),
    ("{{ range .L }}{{ else }}{{ continue }}{{ end }}", 1, 28, "{{continue}} outside {{range}}"),
    ("{{ $x }}", 1, 4, 'undefined variable "$x"'),
    ("{{ $x = 1 }}", 1, 4, 'undefined variable "$x"'),
    ("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}", 1, 39, 'undefined variable "$y"'),
    ("{{ len }}", 1, 4, "wrong number of args for len: want 1 got 0"),
    ("{{ ne 1 }}", 1, 4, "wrong number of args for ne: want 2 got 1"),
    ("{{ 1 | not 2 }}", 1, 8, "wrong number of args for not: want 1 got 2"),
    ("{{ printf }}", 1, 4, "wrong number of args for printf: want at least 1 got 0"),
    ("{{ .X", 1, 1, "unclosed action"),
    ('{{ "abc }}', 1, 4, "unterminated quoted string"),
    ("{{ `abc }}", 1, 4, "unterminated raw quoted string"),
    ("{{ 'a }}", 1, 4, "unterminated character constant"),
    ("{{ 'ab' }}", 1, 4, "malformed character constant: 'ab'"),
    ('{{ "\\q" }}', 1, 4, "invalid escape in quoted string"),
    ("{{/* open", 1, 1, "unclosed comment"),
    ("{{/* c */ }}", 1, 1, "comment ends before closing delimiter"),
    ("{{ 3x }}", 1, 4, 'bad number syntax: "3x"'),
    ("{{ 99999999999999999999 }}", 1, 4, "integer overflow"),
    ("{{ 1i }}", 1, 4, "complex numbers are not supported"),
    ("{{ ( .X }}", 1, 9, "unclosed left paren"),
    ("{{ .X) }}", 1, 6, "unexpected right paren"),
    ("{{ .X | }}", 1, 9, "missing command after |"),
    ("{{ # }}", 1, 4, 'unexpected "#" in command'),
    ("{{ .X ~ }}", 1, 7, 'unexpected "~" in operand'),
    ("{{ \u00e9\u00e9\u00a7 }}", 1, 6, "bad character U+00A7"),
    ("{{ 1.Field }}", 1, 4, "bad number syntax"),
    ('{{ "s".Field }}', 1, 4, 'unexpected . after term "\\"s\\""'),
    ("{{ range $a, $b, $c := .L }}{{ end }}", 1, 16, "too many declarations in range"),
    ("{{ $a, $b := .L }}", 1, 6, "too many declarations in command"),
    ("{{ end x }}", 1, 8, 'unexpected "x" in end'),
]


@pytest.mark.parametrize(("template", "line", "column", "message"), PARSE_ERRORS)
def test_a_broken_template_is_refused_at_parse_time_with_its_position(
    template: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(TemplateError) as caught:
        Template.parse(template, name="t")
    assert message in str(caught.value)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert str(caught.value).startswith(f"template: t:{line}:{column}: ")


def test_the_error_message_names_the_template() -> None:
    with pytest.raises(TemplateError, match=r"^template: commit-message:3:14: "):
        Template.parse("a\nb\nbuild {{ .Xy } }}", name="commit-message")


def test_an_unsupported_construct_in_a_branch_that_never_runs_is_still_refused() -> None:
    with pytest.raises(TemplateError, match='function "lower" not defined'):
        Template.parse("{{ if false }}{{ lower .X }}{{ end }}")


# ---------------------------------------------------------------------------------------
# Execution errors: Go's wording, with the position of the failing action

EXEC_ERRORS = [
    ("{{ .N.Field }}", 1, 4, "at <.N.Field>: nil pointer evaluating interface {}.Field"),
    ("{{ .S.Field }}", 1, 4, "can't evaluate field Field in type string"),
    ("{{ .L.Field }}", 1, 4, "can't evaluate field Field in type []interface {}"),
    ("ok\n{{ range .L }}{{ .X }}{{ end }}", 2, 18, "can't evaluate field X in type string"),
    ("{{ index .L 3 }}", 1, 4, "error calling index: index out of range: 3"),
    ("{{ index .L -1 }}", 1, 4, "error calling index: index out of range: -1"),
    ('{{ index .L "a" }}', 1, 4, "error calling index: cannot index slice/array with type string"),
    ("{{ index .N 1 }}", 1, 4, "error calling index: index of untyped nil"),
    ("{{ index .I 1 }}", 1, 4, "error calling index: can't index item of type int"),
    ("{{ slice .L 2 1 }}", 1, 4, "error calling slice: invalid slice index: 2 > 1"),
    ("{{ slice .L 0 9 }}", 1, 4, "error calling slice: index out of range: 9"),
    ("{{ slice .S 0 1 2 }}", 1, 4, "error calling slice: cannot 3-index slice a string"),
    ("{{ slice .I 0 }}", 1, 4, "error calling slice: can't slice item of type int"),
    ("{{ len .I }}", 1, 4, "error calling len: len of type int"),
    ("{{ len .Missing }}", 1, 4, "error calling len: len of untyped nil"),
    ('{{ eq .I "42" }}', 1, 4, "error calling eq: incompatible types for comparison"),
    ("{{ eq .I 42.0 }}", 1, 4, "error calling eq: incompatible types for comparison"),
    ("{{ eq .I }}", 1, 4, "error calling eq: missing argument for comparison"),
    ("{{ eq .L .L }}", 1, 4, "error calling eq: non-comparable types"),
    ("{{ lt .T .T }}", 1, 4, "error calling lt: invalid type for comparison"),
    ("{{ lt .N 1 }}", 1, 4, "error calling lt: invalid type for comparison"),
    ('{{ ge 1 "1" }}', 1, 4, "error calling ge: incompatible types for comparison"),
    (
        "{{ printf .I }}",
        1,
        4,
        "error calling printf: wrong type for value; expected string; got int",
    ),
    ("{{ nil }}", 1, 4, "nil is not a command"),
    ("{{ range .S }}{{ end }}", 1, 4, "range can't iterate over str"),
    (
        "{{ range $i, $e := 3 }}{{ end }}",
        1,
        4,
        "can't use 3 to iterate over more than one variable",
    ),
    ("{{ (nil).X }}", 1, 5, "nil is not a command"),
]


@pytest.mark.parametrize(("template", "line", "column", "message"), EXEC_ERRORS)
def test_an_execution_error_names_the_action_and_its_position(
    template: str, line: int, column: int, message: str
) -> None:
    parsed = Template.parse(template, name="t")
    with pytest.raises(TemplateError) as caught:
        parsed.render(DATA)
    text = str(caught.value)
    assert message in text
    assert text.startswith(f'template: t:{line}:{column}: executing "t" at <')
    assert (caught.value.line, caught.value.column) == (line, column)


def test_data_of_an_unsupported_type_is_an_error_not_a_str_call() -> None:
    class Secret:
        token = "hunter2"

        def __str__(self) -> str:
            raise AssertionError("never called")

    with pytest.raises(TemplateError, match="unsupported type Secret"):
        render("{{ .X }}", {"X": Secret()})
    with pytest.raises(TemplateError, match="can't evaluate field token in type Secret"):
        render("{{ .X.token }}", {"X": Secret()})


def test_fields_never_reach_python_attributes() -> None:
    with pytest.raises(TemplateError, match="can't evaluate field __class__ in type string"):
        render("{{ .S.__class__ }}", {"S": "x"})
    with pytest.raises(TemplateError, match="can't evaluate field keys in type"):
        render("{{ $x := .M }}{{ (index $x).keys }}", {"M": []})
    assert render("{{ .keys }}", {}) == "<no value>"


# ---------------------------------------------------------------------------------------
# Safety caps


def test_nested_ranges_over_a_big_list_are_stopped_quickly() -> None:
    template = Template.parse(
        "{{ range .L }}{{ range $.L }}{{ range $.L }}x{{ end }}{{ end }}{{ end }}"
    )
    started = time.monotonic()
    with pytest.raises(TemplateError, match="rendering stopped after 1000000 steps"):
        template.render({"L": list(range(1000))})
    assert time.monotonic() - started < 10


def test_ranging_over_a_huge_number_is_stopped() -> None:
    with pytest.raises(TemplateError, match="rendering stopped"):
        render("{{ range 1000000000000 }}{{ end }}")


def test_output_beyond_one_mebibyte_is_refused() -> None:
    big = "x" * 1000
    with pytest.raises(TemplateError, match=f"output is larger than {MAX_OUTPUT} bytes"):
        render("{{ range .L }}{{ $.Big }}{{ end }}", {"L": list(range(2000)), "Big": big})


def test_output_of_exactly_the_cap_is_allowed() -> None:
    assert len(render("{{ .Big }}", {"Big": "x" * MAX_OUTPUT})) == MAX_OUTPUT


def test_multibyte_output_counts_bytes_toward_the_cap() -> None:
    with pytest.raises(TemplateError, match="output is larger"):
        render("{{ .Big }}", {"Big": "é" * (MAX_OUTPUT // 2 + 1)})


def test_a_string_doubled_in_a_loop_is_stopped_before_it_eats_memory() -> None:
    template = '{{ $x := "ab" }}{{ range .L }}{{ $x = printf "%s%s" $x $x }}{{ end }}'
    with pytest.raises(TemplateError, match="printf made a value longer than"):
        render(template, {"L": list(range(100))})


def test_building_strings_that_are_never_written_still_costs_steps() -> None:
    template = '{{ range .L }}{{ range $.L }}{{ $y := printf "%v" $.L }}{{ end }}{{ end }}'
    with pytest.raises(TemplateError, match="rendering stopped"):
        render(template, {"L": list(range(2000))})


def test_a_huge_printf_width_is_ignored_like_go_does() -> None:
    assert render('{{ printf "%99999999d" 7 }}') == "7"


def test_nesting_beyond_the_depth_cap_is_refused_at_parse_time() -> None:
    with pytest.raises(TemplateError, match="nested more than 100 levels"):
        Template.parse("{{ if true }}" * 101 + "{{ end }}" * 101)
    with pytest.raises(TemplateError, match="nested more than 100 levels"):
        Template.parse("{{ " + "(" * 101 + "1" + ")" * 101 + " }}")


def test_nesting_up_to_the_depth_cap_renders() -> None:
    assert render("{{ if true }}" * 100 + "x" + "{{ end }}" * 100) == "x"
    assert render("{{ " + "(" * 99 + "1" + ")" * 99 + " }}") == "1"


def test_a_long_else_if_chain_renders() -> None:
    chain = "{{ if eq . 0 }}0" + "".join(f"{{{{ else if eq . {i} }}}}{i}" for i in range(1, 60))
    template = Template.parse(chain + "{{ end }}")
    assert template.render(59) == "59"
    assert template.render(99) == ""
