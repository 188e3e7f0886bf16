"""The compose YAML subset parser and the flat key comparison, on fixture strings."""

import pytest

from console.composefile import ComposeParseError, diff_flat, flatten, parse_compose, top_level_blocks

V1 = """\
# Mister DJ v1
version: "2.4"
services:
  mr-dj-backend:
    image: 127.0.0.1:5000/mr-dj-backend:v1   # pinned by tag
    network_mode: host
    init: true
    env_file: backend/.env
    environment:
      NODE_ENV: production
      DATABASE_URL: "postgres://app:s3cret-compose-pw@db/app"
    volumes:
      - ./state:/opt/mr-dj/state
    ports: ["8080:80", '9090:90']
  mr-dj-frontend:
    image: 127.0.0.1:5000/mr-dj-frontend:v1
    environment:
      - API_URL=http://backend:8080
      - LOG_LEVEL=info
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost"]
      interval: 10s
"""


def test_parses_mappings_lists_scalars_and_quotes():
    doc = parse_compose(V1)
    backend = doc["services"]["mr-dj-backend"]
    assert doc["version"] == "2.4"
    assert backend["image"] == "127.0.0.1:5000/mr-dj-backend:v1"   # comment stripped, colons kept
    assert backend["environment"] == {"NODE_ENV": "production",
                                      "DATABASE_URL": "postgres://app:s3cret-compose-pw@db/app"}
    assert backend["volumes"] == ["./state:/opt/mr-dj/state"]
    assert backend["ports"] == ["8080:80", "9090:90"]
    frontend = doc["services"]["mr-dj-frontend"]
    assert frontend["environment"] == ["API_URL=http://backend:8080", "LOG_LEVEL=info"]
    assert frontend["healthcheck"] == {"test": ["CMD", "curl", "-f", "http://localhost"], "interval": "10s"}


def test_list_of_mappings_and_same_indent_lists_and_block_scalars():
    text = """\
services:
  app:
    volumes:
    - type: bind
      source: ./data
      target: /data
    - ./logs:/logs
    command: |
      echo one

      echo two # not a comment inside a block scalar
    entrypoint: >
      run
      fast
    labels: {}
    extra: []
    empty:
  "quoted key": 'it''s'
  esc: "a\\"b\\n"
"""
    doc = parse_compose(text)
    app = doc["services"]["app"]
    assert app["volumes"] == [{"type": "bind", "source": "./data", "target": "/data"}, "./logs:/logs"]
    assert app["command"] == "echo one\n\necho two # not a comment inside a block scalar\n"
    assert app["entrypoint"] == "run fast\n"
    assert app["labels"] == {} and app["extra"] == [] and app["empty"] is None
    assert doc["services"]["quoted key"] == "it's"
    assert doc["services"]["esc"] == 'a"b\n'


def test_flow_map_and_nested_sequences():
    doc = parse_compose("a: {x: 1, y: 'two'}\nb:\n  - - 1\n    - 2\n  - 3\n")
    assert doc == {"a": {"x": "1", "y": "two"}, "b": [["1", "2"], "3"]}


@pytest.mark.parametrize("text, reason", [
    ("base: &base\n  image: x\n", "anchors"),
    ("svc:\n  image: *base\n", "aliases"),
    ("svc:\n  <<: {image: x}\n", "merge keys"),
    ("svc:\n  image: !!str x\n", "tags"),
    ("a: [1, [2]]\n", "flow"),
    ("a: \"open\n  more\"\n", "unterminated"),
    ("a:\n\tb: 1\n", "tab"),
    ("a: 1\na: 2\n", "duplicate"),
    ("a:\n    b: 1\n  c: 2\n", "indentation"),
    ("a: 1\n---\nb: 2\n", "document"),
])
def test_outside_the_subset_is_refused_with_a_line_number(text, reason):
    with pytest.raises(ComposeParseError) as info:
        parse_compose(text)
    assert reason in str(info.value)
    assert str(info.value).startswith("line ")


def test_errors_never_quote_the_line():
    with pytest.raises(ComposeParseError) as info:
        parse_compose('x:\n  SECRET: "hunter2-never-shown\n')
    assert "hunter2" not in str(info.value)


def test_flatten_gives_dotted_keys_and_digests_only():
    flat = flatten(parse_compose(V1))
    assert "services.mr-dj-backend.image" in flat
    assert "services.mr-dj-backend.environment.DATABASE_URL" in flat
    # "NAME=value" lists are compared as mappings, key by key.
    assert "services.mr-dj-frontend.environment.API_URL" in flat
    assert "services.mr-dj-frontend.healthcheck.interval" in flat
    assert "services.mr-dj-backend.volumes" in flat
    assert "s3cret-compose-pw" not in repr(flat)
    assert all(len(v) == 64 for v in flat.values())


def test_diff_names_added_removed_and_changed_keys():
    v2 = (V1.replace("mr-dj-backend:v1", "mr-dj-backend:v2")
            .replace("s3cret-compose-pw", "other-pw")
            .replace("      - LOG_LEVEL=info\n", "      - FEATURE_X=1\n")
            .replace("    init: true\n", ""))
    salt = b"fixed"
    changes = diff_flat(flatten(parse_compose(V1), salt), flatten(parse_compose(v2), salt))
    assert changes == [
        ("services.mr-dj-backend.environment.DATABASE_URL", "changed"),
        ("services.mr-dj-backend.image", "changed"),
        ("services.mr-dj-backend.init", "removed"),
        ("services.mr-dj-frontend.environment.FEATURE_X", "added"),
        ("services.mr-dj-frontend.environment.LOG_LEVEL", "removed"),
    ]


def test_same_document_differently_written_has_no_changes():
    reformatted = (V1.replace('version: "2.4"', "version: '2.4'")
                     .replace("    network_mode: host", "    network_mode: host   # same"))
    assert diff_flat(flatten(parse_compose(V1)), flatten(parse_compose(reformatted))) == []


def test_top_level_fallback_names_changed_blocks():
    old = "version: '3'\nservices:\n  a:\n    image: x\nx-anchor: &a\n  k: 1\n"
    new = "version: '3'\nservices:\n  a:\n    image: y\nx-anchor: &a\n  k: 1\nvolumes:\n  data:\n"
    assert diff_flat(top_level_blocks(old), top_level_blocks(new)) == [
        ("services", "changed"), ("volumes", "added")]
